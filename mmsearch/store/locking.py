"""One writer at a time: an advisory lock file beside the catalog.

``flock`` is released by the kernel when the holder dies, so a ``kill -9``
never leaves a stale lock behind; the file's text only says who holds it.
"""

from __future__ import annotations

import fcntl
import os
import socket
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from mmsearch.errors import LockedError


@contextmanager
def writer_lock(path: Path) -> Iterator[None]:
    """Hold the writer lock at ``path`` for the duration of the block."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 4096, 0).decode("utf-8", "replace").strip() or "unknown"
            raise LockedError(
                f"Another mmsearch process is writing to this catalog ({holder}). "
                f"Wait for it to finish, or stop it; the lock file is {path}."
            ) from None
        os.ftruncate(fd, 0)
        started = time.strftime("%Y-%m-%d %H:%M:%S")
        command = " ".join(os.path.basename(a) if i == 0 else a for i, a in enumerate(sys.argv))
        os.pwrite(
            fd,
            f"pid {os.getpid()} on {socket.gethostname()}, since {started}: {command}".encode(),
            0,
        )
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
