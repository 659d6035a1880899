"""Opening the catalog: SQLite pragmas, schema migrations, and the version check."""

from __future__ import annotations

import sqlite3
from importlib import resources
from pathlib import Path
from typing import Any

from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection

from mmsearch.errors import CatalogError, SchemaTooNewError
from mmsearch.store.sqlfunctions import register_sql_functions

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


def create_catalog_engine(db_path: Path) -> Engine:
    """An engine for the catalog at ``db_path`` with WAL, foreign keys and a busy timeout."""
    engine = create_engine(f"sqlite:///{db_path}")
    event.listen(engine, "connect", _on_connect)
    return engine


def _alembic_config(connection: Connection) -> Config:
    config = Config()
    location = resources.files("mmsearch.migrations")
    config.set_main_option("script_location", str(location))
    config.attributes["connection"] = connection
    return config


def migrate(engine: Engine, db_path: Path) -> None:
    """Bring the catalog's schema to the head revision, refusing one newer than this code."""
    with engine.begin() as connection:
        config = _alembic_config(connection)
        script = ScriptDirectory.from_config(config)
        current = MigrationContext.configure(connection).get_current_revision()
        head = script.get_current_head()
        if current == head:
            return
        if current is not None and _unknown(script, current):
            raise SchemaTooNewError(
                f"The catalog {db_path} has schema revision {current}, which this mmsearch "
                f"does not know (its newest is {head}): it was written by a newer version. "
                "Upgrade mmsearch (pip install -U mmsearch), or use another catalog with --db."
            )
        from alembic import command  # imported late: only needed when there is work to do

        try:
            command.upgrade(config, "head")
        except Exception as exc:
            raise CatalogError(
                f"Could not upgrade the catalog {db_path} to schema {head}: {exc}. "
                "Nothing was changed; restore a backup or report the error."
            ) from exc


def _unknown(script: ScriptDirectory, revision: str) -> bool:
    try:
        return script.get_revision(revision) is None
    except Exception:
        return True
