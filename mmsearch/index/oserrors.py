"""What an ``OSError`` on a path means for the user: a short reason and true advice.

One errno, one cause: a file deleted after the scan is not a permissions
problem, a path over the system's limit is not fixed by ``chmod``, and a link
that points to itself is not a link to nothing.
"""

from __future__ import annotations

import errno
import os

UNREADABLE_FILE = "unreadable file"
"""The reason of a file the user may not read; such files are retried on every run."""

FILE_VANISHED = "file vanished"
PATH_TOO_LONG = "path too long"
SYMLINK_LOOP = "symlink loop"
READ_ERROR = "read error"


def _path_max(path: bytes) -> int:
    try:
        return os.pathconf(os.path.dirname(path) or b".", "PC_PATH_MAX")
    except (OSError, ValueError):
        return 4096


def _too_long(path: bytes) -> str:
    return (
        f"its path is {len(path)} bytes, over the {_path_max(path)}-byte limit of this system; "
        "move it higher up or shorten the folder names, then run again"
    )


def file_error(exc: OSError, path: bytes) -> tuple[str, str]:
    """Reason and advice for a file that could not be opened, read or looked at."""
    code, cause = exc.errno, exc.strerror or str(exc)
    if code == errno.ENOENT:
        return FILE_VANISHED, (
            "it was deleted or moved after the folder was scanned; "
            "the next run drops it, or finds it where it went"
        )
    if code == errno.ENAMETOOLONG:
        return PATH_TOO_LONG, _too_long(path)
    if code == errno.ELOOP:
        return SYMLINK_LOOP, (
            "it is a symbolic link that points to itself, or a chain of links that loops; "
            "remove the link or point it at a file"
        )
    if code == errno.EIO:
        return READ_ERROR, (
            f"the disk reported an input/output error ({cause}); the drive may be failing or "
            "disconnected: check it, copy the file elsewhere if you can. It is tried again on "
            "every run"
        )
    if code in (errno.EACCES, errno.EPERM):
        return UNREADABLE_FILE, (
            f"cannot read it ({cause}); check its permissions (chmod u+r) and run again. "
            "It is tried again on every run"
        )
    return UNREADABLE_FILE, f"cannot read it ({cause}); check the file and its drive, run again"


def folder_error(exc: OSError, path: bytes) -> tuple[str, str]:
    """Reason and advice for a folder that could not be listed."""
    code, cause = exc.errno, exc.strerror or str(exc)
    if code == errno.ENAMETOOLONG:
        return PATH_TOO_LONG, _too_long(path) + ". Nothing under it is indexed"
    if code == errno.ENOENT:
        return "folder vanished", (
            "it was deleted or moved while the scan ran; the next run finds it where it went"
        )
    if code == errno.EIO:
        return READ_ERROR, (
            f"the disk reported an input/output error listing it ({cause}); check the drive "
            "and run again. Files already indexed under it are kept."
        )
    return "unreadable folder", (
        f"cannot list it ({cause}); fix its permissions (chmod u+rx) and run again. "
        "Files already indexed under it are kept."
    )
