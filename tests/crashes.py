"""Helpers for tests that kill an index run: what SQLite holds, the writer lock, a log's tail.

Shared by tests/test_kill9.py and the reliability suite (tests/reliability/).
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
from pathlib import Path


def sql_ids(db: Path, space_id: int) -> set[int]:
    """The segment ids with a vector in ``space_id``, as SQLite holds them."""
    conn = sqlite3.connect(db)
    try:
        rows = conn.execute("SELECT segment_id FROM vectors WHERE space_id = ?", (space_id,))
        return {int(r[0]) for r in rows}
    finally:
        conn.close()


def lock_is_free(lock: Path) -> bool:
    """Whether the writer lock can be taken now (flock dies with its holder, however killed)."""
    fd = os.open(lock, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return True
    finally:
        os.close(fd)


def tail(path: Path, chars: int = 3000) -> str:
    """The end of a log file, for a failure message ("" when there is none)."""
    return path.read_text(errors="replace")[-chars:] if path.exists() else ""
