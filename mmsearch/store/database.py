"""Opening the catalog: SQLite pragmas, schema migrations, and the version check."""

from __future__ import annotations

import re
import sqlite3
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError

from mmsearch.errors import CatalogError, SchemaTooNewError
from mmsearch.store.sqlfunctions import register_sql_functions

if TYPE_CHECKING:  # alembic is imported only when a catalog is not at the head revision
    from alembic.config import Config
    from alembic.script import ScriptDirectory

BUSY_TIMEOUT_MS = 30_000


def _on_connect(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
    # The pragmas are per connection, so every pooled connection gets them.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")  # safe under WAL: a crash loses no committed data
    cursor.close()
    register_sql_functions(dbapi_connection)


def _on_connect_read_only(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
    # No journal_mode: a read-only connection must not (and cannot) change the file.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cursor.close()
    register_sql_functions(dbapi_connection)


def read_only_uri(db_path: Path) -> str:
    """The SQLite URI that opens ``db_path`` read-only (``?`` and ``#`` in names escaped)."""
    return f"file:{quote(str(db_path))}?mode=ro"


def create_catalog_engine(db_path: Path, *, read_only: bool = False) -> Engine:
    """An engine for the catalog at ``db_path`` with WAL, foreign keys and a busy timeout.

    ``read_only`` opens the file with SQLite's ``mode=ro``: no write can reach it,
    whatever the code above tries.
    """
    if not read_only:
        engine = create_engine(f"sqlite:///{db_path}")
        event.listen(engine, "connect", _on_connect)
        return engine
    uri = read_only_uri(db_path)
    # The URL only picks the dialect and a file pool; the creator opens the file. Pooled
    # connections move between threads, as SQLAlchemy allows for its own file connections.
    engine = create_engine(
        f"sqlite:///{db_path}",
        creator=lambda: sqlite3.connect(uri, uri=True, check_same_thread=False),
    )
    event.listen(engine, "connect", _on_connect_read_only)
    return engine


_MIGRATION_FILE = re.compile(r"(\d{4})_\w+\.py")
"""``NNNN_what.py`` holds revision ``"NNNN"`` (tests/test_cold_start.py pins it for every file)."""


def head_by_name() -> str | None:
    """The head revision, from the migration files' names alone: importing alembic and
    loading every migration script to ask it costs a cold query 0.1-0.2 s."""
    versions = resources.files("mmsearch.migrations").joinpath("versions")
    numbers = [m[1] for e in versions.iterdir() if (m := _MIGRATION_FILE.fullmatch(e.name))]
    return max(numbers) if numbers else None


def _at_head(connection: Connection) -> bool:
    """Whether the catalog is at the head revision, read with plain SQL (no alembic): the
    usual case of every open. False when unsure (no version table, several rows): alembic
    then decides."""
    try:
        rows = connection.exec_driver_sql("SELECT version_num FROM alembic_version").all()
    except OperationalError:
        connection.rollback()
        return False
    head = head_by_name()
    return head is not None and len(rows) == 1 and rows[0][0] == head


def _alembic_config(connection: Connection) -> Config:
    from alembic.config import Config

    config = Config()
    location = resources.files("mmsearch.migrations")
    config.set_main_option("script_location", str(location))
    config.attributes["connection"] = connection
    return config


def migrate(engine: Engine, db_path: Path) -> None:
    """Bring the catalog's schema to the head revision, refusing one newer than this code.

    Several processes may open one catalog at once: the first to take SQLite's
    write lock (``BEGIN IMMEDIATE``) migrates, in one transaction; the others
    wait for it (the busy timeout), read the revision again and find nothing to do.
    """
    with engine.connect() as connection:
        if _at_head(connection):
            return  # the usual case, decided without alembic or the write lock
        from alembic.script import ScriptDirectory

        config = _alembic_config(connection)
        script = ScriptDirectory.from_config(config)
        head = script.get_current_head()
        if _revision(connection) == head:
            return  # the usual case, decided without taking the write lock
        connection.commit()
        _begin_immediate(connection, db_path)
        current = _revision(connection)
        if current == head:
            return  # another process migrated it while this one waited
        _refuse_newer(script, current, head, db_path)
        from alembic import command  # imported late: only needed when there is work to do

        try:
            command.upgrade(config, "head")
            connection.commit()
        except Exception as exc:
            raise CatalogError(
                f"Could not upgrade the catalog {db_path} to schema {head}: {exc}. "
                "Nothing was changed; restore a backup or report the error."
            ) from exc


def check_schema(engine: Engine, db_path: Path) -> None:
    """Refuse a catalog whose schema is not this code's, without changing anything."""
    with engine.connect() as connection:
        if _at_head(connection):
            return
        from alembic.script import ScriptDirectory

        script = ScriptDirectory.from_config(_alembic_config(connection))
        current = _revision(connection)
    head = script.get_current_head()
    if current == head:
        return
    _refuse_newer(script, current, head, db_path)
    raise CatalogError(
        f"The catalog {db_path} has schema revision {current}, older than this mmsearch's "
        f"{head}, and this command only reads. Run `mmsearch index FOLDER` once (it upgrades "
        "the catalog), then run this command again."
    )


def _revision(connection: Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(connection).get_current_revision()


def _begin_immediate(connection: Connection, db_path: Path) -> None:
    try:
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    except OperationalError as exc:
        raise CatalogError(
            f"The catalog {db_path} needs a schema upgrade, but another process kept it "
            f"locked for {BUSY_TIMEOUT_MS // 1000} s ({exc.orig}). Wait for it to finish, "
            "then run again."
        ) from exc


def _refuse_newer(
    script: ScriptDirectory, current: str | None, head: str | None, db_path: Path
) -> None:
    if current is not None and _unknown(script, current):
        raise SchemaTooNewError(
            f"The catalog {db_path} has schema revision {current}, which this mmsearch "
            f"does not know (its newest is {head}): it was written by a newer version. "
            "Upgrade mmsearch (pip install -U mmsearch), or use another catalog with --db."
        )


def _unknown(script: ScriptDirectory, revision: str) -> bool:
    try:
        return script.get_revision(revision) is None
    except Exception:
        return True
