"""Temporary files a killed process may leave behind: made locked, cleared once unlocked.

A file is written under a temporary name and renamed into place, so a crash
never leaves half a file under the real name; but a ``kill -9`` before the
rename leaves the temporary one. Each is held under ``flock`` by the process
writing it (the kernel drops the lock when that process dies), so the next
writer deletes exactly the temporary files nobody holds.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
from pathlib import Path


def locked_temp(folder: Path, prefix: str, suffix: str) -> tuple[int, Path]:
    """A new empty file ``<prefix>XXXXXXXX<suffix>`` in ``folder``, 0600, locked by this process.

    The lock lasts while the returned descriptor (or a duplicate) is open.
    """
    # mkstemp makes the file 0600 whatever the umask.
    fd, name = tempfile.mkstemp(prefix=prefix, suffix=".init", dir=folder)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        # Only now under the name clear_abandoned looks for, so it never sees it unlocked.
        temp = Path(name[: -len(".init")] + suffix)
        os.rename(name, temp)
    except BaseException:
        os.close(fd)
        Path(name).unlink(missing_ok=True)
        raise
    return fd, temp


def clear_abandoned(
    folder: Path, prefix: str, suffix: str, companions: tuple[str, ...] = ()
) -> None:
    """Delete the ``<prefix>*<suffix>`` files in ``folder`` that no live process holds.

    ``companions`` are suffixes of files that go with each one (SQLite's ``-wal``).
    """
    for temp in folder.glob(f"{prefix}*{suffix}"):
        try:
            fd = os.open(temp, os.O_RDONLY)
        except OSError:
            continue  # gone already, or not ours to read
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            continue  # its writer is alive and still writing it
        finally:
            os.close(fd)
        remove_with(temp, companions)


def remove_with(path: Path, companions: tuple[str, ...] = ()) -> None:
    """Delete ``path`` and its companion files, those that exist."""
    for extra in ("", *companions):
        with contextlib.suppress(FileNotFoundError):
            path.with_name(path.name + extra).unlink()
