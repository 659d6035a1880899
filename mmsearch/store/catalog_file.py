"""The catalog file itself: what is at a path, and making a new one appear whole.

Before anything opens a path as a catalog, :func:`inspect_catalog_file` looks
at it without changing it: nothing there, an empty file, something that is not
SQLite, another program's database, a damaged file, or an mmsearch catalog.
Only an mmsearch catalog is opened; another program's database is left
byte-identical (its journal mode included).

A new catalog is built under a temporary name beside the path, readable by its
owner only, migrated and closed, then linked into place: several processes
creating one catalog at once never see a half-made one, and the first to link
wins while the others open what it made.
"""

from __future__ import annotations

import contextlib
import enum
import os
import sqlite3
from pathlib import Path

from sqlalchemy import Engine

from mmsearch.errors import CatalogDamagedError, CatalogError, CatalogMissingError
from mmsearch.store.database import check_schema, create_catalog_engine, migrate, read_only_uri
from mmsearch.store.faiss_file import fsync_dir
from mmsearch.store.tempfiles import clear_abandoned, locked_temp, remove_with

CATALOG_TABLES = frozenset({"alembic_version", "roots", "items", "segments", "spaces", "vectors"})
"""Tables every mmsearch catalog has; a database without them belongs to another program."""
_TEMP_SUFFIX = ".new"
_SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")
_SQLITE_CORRUPT = 11
_SQLITE_NOTADB = 26


class CatalogFile(enum.Enum):
    """What :func:`inspect_catalog_file` found at a path."""

    MISSING = "missing"
    BLANK = "blank"
    """An SQLite database with no tables at all: nothing to lose by making it a catalog."""
    CATALOG = "catalog"


def inspect_catalog_file(path: Path) -> CatalogFile:
    """What is at ``path``, read without changing it; raises for what must not be opened.

    Only ``stat`` and SQLite itself look at the file: a plain ``open`` and ``close`` of
    it would drop every POSIX lock this process holds on it, SQLite's included, when
    a library has the same catalog open (sqlite.org/howtocorrupt.html, 2.2).
    """
    try:
        size = path.stat().st_size
    except (FileNotFoundError, NotADirectoryError):  # nothing there, or no folder there
        return CatalogFile.MISSING
    except OSError as exc:
        raise CatalogError(
            f"Cannot read the catalog {path}: {exc.strerror}. Check its permissions, "
            "or choose another catalog with --db."
        ) from exc
    if size == 0:
        raise CatalogError(
            f"The catalog {path} is an empty file (0 bytes): a catalog cut short (a full disk, "
            "an interrupted copy) or a file made by something else. Nothing was changed. "
            "Restore it from a backup; or move it aside and run `mmsearch index FOLDER` to "
            "build a new one; or give another catalog with --db."
        )
    tables = _tables(path)
    if not tables:
        return CatalogFile.BLANK
    if not tables >= CATALOG_TABLES:
        shown = ", ".join(sorted(tables)[:6]) + (", ..." if len(tables) > 6 else "")
        raise CatalogError(
            f"{path} is another program's SQLite database (tables: {shown}), not an mmsearch "
            "catalog. Nothing was changed. Give the catalog's path with --db, or another "
            "path for a new one."
        )
    return CatalogFile.CATALOG


def _tables(path: Path) -> set[str]:
    """The table names in ``path``'s schema, read through a read-only connection."""
    try:
        conn = sqlite3.connect(read_only_uri(path), uri=True)
    except sqlite3.Error as exc:
        raise CatalogError(f"Cannot open the catalog {path}: {exc}.") from exc
    try:
        rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    except sqlite3.DatabaseError as exc:
        if _code(exc) == _SQLITE_NOTADB:
            raise CatalogError(
                f"{path} is not an mmsearch catalog (not an SQLite database, or one damaged "
                "at its start). Nothing was changed. Give the catalog's path with --db, or "
                "move this file aside and run `mmsearch index FOLDER` to build a new catalog."
            ) from exc
        raise damaged(path, exc) from exc
    finally:
        conn.close()
    return {str(row[0]) for row in rows}


def _code(exc: BaseException) -> int | None:
    """SQLite's primary result code of an error, when the error carries one."""
    code = getattr(exc, "sqlite_errorcode", None)
    return None if code is None else int(code) & 0xFF


def damaged(path: Path, reason: object) -> CatalogDamagedError:
    """The error for a catalog SQLite finds damaged: what, which file, what to do."""
    return CatalogDamagedError(
        f"The catalog {path} is damaged ({reason}). The files it indexed are untouched, so "
        "an index run can rebuild it: move it aside and run `mmsearch index FOLDER` again "
        "(or index into a new catalog with --db NEW.db). To save what it still holds first, "
        f'try sqlite3\'s recovery: sqlite3 "{path}" ".recover" | sqlite3 recovered.db '
        "(the sqlite3 tool needs its dbpage extension for that)."
    )


def create_catalog_file(path: Path) -> None:
    """Make a migrated catalog appear at ``path`` whole, unless another process got there first."""
    path.parent.mkdir(parents=True, exist_ok=True)
    prefix = f".{path.name}."
    clear_abandoned(path.parent, prefix, _TEMP_SUFFIX, _SQLITE_COMPANIONS)
    # 0600 from the start; SQLite gives -wal and -shm the mode of the database.
    fd, temp = locked_temp(path.parent, prefix, _TEMP_SUFFIX)
    try:
        _build(temp)
        os.fsync(fd)
        with contextlib.suppress(FileExistsError):  # another process made it first: use that
            _link(temp, path)
        fsync_dir(path.parent)
    finally:
        os.close(fd)
        remove_with(temp, _SQLITE_COMPANIONS)


def _link(temp: Path, path: Path) -> None:
    """Put ``temp`` at ``path`` only if nothing is there: FileExistsError otherwise."""
    try:
        os.link(temp, path)
    except FileExistsError:
        raise
    except OSError:
        # A filesystem without hard links (FAT, some network mounts): a rename, which
        # two processes racing to create the same new catalog could both do.
        if path.exists():
            raise FileExistsError(path) from None
        os.rename(temp, path)


def _build(temp: Path) -> None:
    engine = create_catalog_engine(temp)
    try:
        migrate(engine, temp)
        with engine.connect() as conn:
            # Everything into the main file, so linking it alone carries the whole catalog.
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        engine.dispose()
    wal = temp.with_name(temp.name + "-wal")
    if wal.exists() and wal.stat().st_size:
        raise CatalogError(
            f"Could not finish the new catalog {temp}: SQLite kept part of it in {wal}. "
            "Nothing was put in place; run again."
        )


def is_damage(exc: BaseException) -> bool:
    """True for SQLite's "malformed" and "not a database" errors, however wrapped."""
    orig = getattr(exc, "orig", exc)
    code = _code(orig)
    if code is not None:
        return code in (_SQLITE_CORRUPT, _SQLITE_NOTADB)
    return isinstance(orig, sqlite3.DatabaseError) and "malformed" in str(orig)


def open_catalog_engine(path: Path, *, read_only: bool) -> Engine:
    """An engine on the catalog at ``path``: made and migrated when writable, else only checked.

    A read-only open creates nothing (no folder, no file) and migrates nothing.
    """
    found = inspect_catalog_file(path)
    if read_only:
        if found is not CatalogFile.CATALOG:
            raise CatalogMissingError(
                f"No catalog at {path}; run `mmsearch index FOLDER` first, or give --db."
            )
        engine = create_catalog_engine(path, read_only=True)
        try:
            check_schema(engine, path)
        except BaseException:
            engine.dispose()
            raise
        return engine
    if found is CatalogFile.MISSING:
        create_catalog_file(path)
    engine = create_catalog_engine(path)
    try:
        migrate(engine, path)
    except BaseException:
        engine.dispose()
        raise
    return engine


def check_intact(engine: Engine, path: Path) -> None:
    """Raise :class:`CatalogDamagedError` unless SQLite's ``quick_check`` passes.

    It reads every page once (``bench/catalog_checks.py`` measures it: a few tenths
    of a second per 100,000 512-d vectors when the file is cached), so ``status``
    runs it and queries do not; a query that reads a damaged page says so.
    """
    with engine.connect() as conn:
        problems = [str(row[0]) for row in conn.exec_driver_sql("PRAGMA quick_check(3)")]
    if problems != ["ok"]:
        raise damaged(path, "; ".join(problems))
