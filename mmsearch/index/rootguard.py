"""Refusing a root that is not there, so an unmounted drive does not wipe its entries.

An unmounted mount point, a disconnected drive or a folder replaced by another
looks, to a scan, like every file was deleted. Before anything is removed, a
root with indexed files is checked: it must exist, hold files, and be the same
folder it was (its device and inode), or, when those changed (a drive that
mounts with a new device number, a folder copied back), still hold some of the
files indexed under it. Otherwise nothing is removed and the run says why;
``--allow-empty-root`` says the user means it.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass

ROOT_UNAVAILABLE = "root unavailable"
_ALLOW = "pass --allow-empty-root"


def identity_of(root: bytes) -> str | None:
    """``"device:inode"`` of the folder at ``root``, or None when there is no folder there."""
    try:
        st = os.stat(root)
    except OSError:
        return None
    return f"{st.st_dev}:{st.st_ino}" if stat.S_ISDIR(st.st_mode) else None


@dataclass(frozen=True, slots=True)
class RootState:
    """What one run found at a root, against what the catalog holds for it."""

    shown: str
    known: int
    """Items the catalog holds under the root."""
    found: int
    """Of those, how many the scan found at the same path."""
    scanned: int
    """Files the scan found."""
    recorded: str | None
    current: str | None


def refusal(state: RootState) -> str | None:
    """Why the root must not be brought in line with what the scan found, or None."""
    if state.known == 0:
        return None
    if state.current is None:
        return (
            f"{state.shown} does not exist or is not a folder (an unmounted drive, or a moved "
            f"folder?), and {state.known} files are indexed under it; nothing removed. Mount or "
            f"restore it and run again, or {_ALLOW} to drop its entries."
        )
    if state.scanned == 0:
        return (
            f"{state.shown} is empty, but {state.known} files are indexed under it (an unmounted "
            f"drive?); nothing removed. Mount it and run again, or {_ALLOW} if you emptied it "
            "on purpose."
        )
    if state.recorded not in (None, state.current) and state.found == 0:
        return (
            f"{state.shown} is not the folder indexed before (device:inode {state.recorded}, now "
            f"{state.current}: another drive mounted there, or a replaced folder), and none of "
            f"its {state.known} indexed files are in it; nothing removed. Mount the right drive "
            f"and run again, or {_ALLOW} to index the folder as it is now."
        )
    return None
