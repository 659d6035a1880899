"""SQL functions the query filters use, registered on every catalog connection."""

from __future__ import annotations

import re
import sqlite3
from functools import lru_cache


def register_sql_functions(connection: sqlite3.Connection) -> None:
    """Add the functions filters use to one SQLite connection."""
    connection.create_function("mm_regexp", 2, _regexp, deterministic=True)
    connection.create_function("mm_ext", 1, _extension, deterministic=True)
    connection.create_function("mm_within", 3, _within, deterministic=True)


@lru_cache(maxsize=64)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _regexp(pattern: str, value: str | None) -> bool:
    return value is not None and _compiled(pattern).fullmatch(value) is not None


def _extension(display: str | None) -> str:
    if not display:
        return ""
    name = display.rsplit("/", 1)[-1]
    return name.rsplit(".", 1)[-1].lower() if "." in name.lstrip(".") else ""


def _within(root: bytes, relpath: bytes, folder: bytes) -> bool:
    path = root.rstrip(b"/") + b"/" + relpath
    folder = folder.rstrip(b"/") or b"/"
    return path == folder or path.startswith(folder if folder == b"/" else folder + b"/")
