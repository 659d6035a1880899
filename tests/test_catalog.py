"""The catalog: migrations, pragmas, triggers, and refusing a newer schema."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from mmsearch.errors import SchemaTooNewError
from mmsearch.store.catalog import Catalog
from mmsearch.store.schema import Base

TABLES = {"roots", "items", "segments", "spaces", "vectors", "settings", "segments_fts"}


def test_migrations_create_every_table_from_an_empty_database(db_path: Path) -> None:
    catalog = Catalog(db_path)
    with catalog.engine.connect() as conn:
        names = {row[0] for row in conn.execute(text("SELECT name FROM sqlite_master"))}
        revision = MigrationContext.configure(conn).get_current_revision()
    catalog.close()
    assert names >= TABLES
    assert revision == "0005"


def test_models_match_the_migrated_schema(db_path: Path) -> None:
    catalog = Catalog(db_path)
    with catalog.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    catalog.close()
    # FTS5 shadow tables are not in the models; nothing else may differ.
    real = [
        d for d in diff if not (d[0] == "remove_table" and d[1].name.startswith("segments_fts"))
    ]
    assert real == []


def test_reopening_a_migrated_catalog_keeps_its_data(db_path: Path) -> None:
    catalog = Catalog(db_path)
    catalog.ensure_root(b"/photos", "/photos")
    catalog.close()
    again = Catalog(db_path)
    assert [r[1] for r in again.roots()] == [b"/photos"]
    again.close()


def test_connections_use_wal_foreign_keys_and_busy_timeout(db_path: Path) -> None:
    catalog = Catalog(db_path)
    with catalog.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() >= 1000
    catalog.close()


def test_catalog_written_by_a_newer_mmsearch_is_refused(db_path: Path) -> None:
    Catalog(db_path).close()
    with sqlite3.connect(db_path) as conn:
        conn.execute("UPDATE alembic_version SET version_num = 'f00dfeed'")
    with pytest.raises(SchemaTooNewError, match=r"newer version.*pip install -U mmsearch"):
        Catalog(db_path)


def test_vector_changes_bump_the_space_generation_and_cascade(db_path: Path) -> None:
    catalog = Catalog(db_path)
    with sqlite3.connect(db_path) as conn:
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("INSERT INTO spaces VALUES (1, 'k', 'enc', '', 2, '1', 0, 0)")
        conn.execute("INSERT INTO roots (id, path, display, added_at) VALUES (1, x'2f', '/', 0)")
        conn.execute(
            "INSERT INTO items (id, root_id, relpath, display, size, mtime_ns, status, indexed_at)"
            " VALUES (1, 1, x'61', 'a.txt', 1, 1, 'done', 0)"
        )
        conn.execute(
            "INSERT INTO segments (id, item_id, ordinal, kind, modality, text)"
            " VALUES (7, 1, 0, 'text', 'text', 'harbour sunset')"
        )
        conn.execute("INSERT INTO vectors VALUES (7, 1, zeroblob(8))")
        generation_after_insert = conn.execute("SELECT generation FROM spaces").fetchone()[0]
        fts = conn.execute(
            "SELECT rowid, name FROM segments_fts WHERE segments_fts MATCH 'harbour'"
        ).fetchall()
        conn.execute("DELETE FROM items WHERE id = 1")
        generation_after_delete = conn.execute("SELECT generation FROM spaces").fetchone()[0]
        leftovers = conn.execute("SELECT count(*) FROM vectors").fetchone()[0]
        fts_after = conn.execute("SELECT count(*) FROM segments_fts").fetchone()[0]
    catalog.close()
    assert generation_after_insert == 1
    assert fts == [(7, "a.txt")]
    assert generation_after_delete == 2, "cascade deletes must bump the generation too"
    assert leftovers == 0
    assert fts_after == 0


def test_fts_follows_renames(db_path: Path) -> None:
    catalog = Catalog(db_path)
    with sqlite3.connect(db_path) as conn:
        conn.execute("INSERT INTO roots (id, path, display, added_at) VALUES (1, x'2f', '/', 0)")
        conn.execute(
            "INSERT INTO items (id, root_id, relpath, display, size, mtime_ns, status, indexed_at)"
            " VALUES (1, 1, x'61', 'old.txt', 1, 1, 'done', 0)"
        )
        conn.execute(
            "INSERT INTO segments (id, item_id, ordinal, kind, modality, text)"
            " VALUES (1, 1, 0, 'text', 'text', 'x')"
        )
        conn.execute("UPDATE items SET display = 'new.txt' WHERE id = 1")
        names = conn.execute("SELECT name FROM segments_fts").fetchall()
    catalog.close()
    assert names == [("new.txt",)]
