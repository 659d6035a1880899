"""A catalog reduced to what it says about the files, so two catalogs can be compared.

Two catalogs of the same files must agree on every row of every table, once
what only records history is set aside. The rule, per table (integer ids and
the foreign keys that hold them are replaced by natural keys):

- ``roots``: every column but ``id`` and ``added_at``, keyed by path.
- ``items``: every column but ``id``, ``root_id`` (its root's path is in the key)
  and ``indexed_at``, keyed by (root path, relpath).
- ``segments``: every column but ``id`` and ``item_id``, keyed by (item key,
  ordinal), with the segment's FTS row (text, name) beside it.
- ``vectors``: the float32 bytes, keyed by (segment key, space key).
- ``spaces``: every column but ``id``, ``created_at`` and ``generation`` (a count
  of changes, so history), keyed by space key.
- ``settings``: every key but ``catalog_id`` (each catalog's own identity) and
  ``calibration:*`` (a measurement refreshed only when the vector count moves
  by a margin, so it depends on the order of runs; checked for presence instead).
- ``alembic_version``: the schema revision.
- ``feedback``: query and good/bad, keyed by (item key, query, good), without ``id``
  and ``created_at``; ``adapters``: every column but ``id``, ``space_id`` and
  ``created_at``, keyed by (space key, name). Index runs never write either (tune and
  feedback do), so after any run both hold what they held before.
- ``item_extractors``: every column but ``item_id``, keyed by (item key, extractor).
- ``space_digests``: not compared (a digest of (segment id, vector) pairs, and ids
  differ between two catalogs of the same files); relkit/checks.py checks that a
  digest true at its space's generation is the digest of the space's vectors.

FTS5's shadow tables are its own storage and are compared through
``segments_fts``. A table this module does not know fails the comparison, so
whoever adds one decides how it compares.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

Dump = dict[str, dict[Any, Any]]

IGNORED_COLUMNS = {
    "roots": {"id", "added_at"},
    "items": {"id", "root_id", "indexed_at"},
    "segments": {"id", "item_id"},
    "spaces": {"id", "created_at", "generation"},
    "item_extractors": {"item_id"},
}
HISTORY_SETTINGS = ("catalog_id", "calibration:")
KNOWN_TABLES = {
    "roots", "items", "segments", "spaces", "vectors", "settings", "alembic_version",
    "segments_fts", "space_digests", "feedback", "adapters",
    "item_extractors",
}  # fmt: skip
FTS_SHADOW_PREFIX = "segments_fts_"


@contextmanager
def read_only(db: Path) -> Iterator[sqlite3.Connection]:
    """A read-only connection: looking at a crashed catalog must not repair it."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30.0)
    try:
        yield conn
    finally:
        conn.close()


def _rows(conn: sqlite3.Connection, table: str) -> list[dict[str, Any]]:
    cursor = conn.execute(f'SELECT * FROM "{table}"')
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor]


def _kept(table: str, row: dict[str, Any]) -> tuple[tuple[str, Any], ...]:
    ignored = IGNORED_COLUMNS.get(table, set())
    return tuple(sorted((k, v) for k, v in row.items() if k not in ignored))


def unknown_tables(conn: sqlite3.Connection) -> list[str]:
    """Tables the comparison has no rule for."""
    names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    return sorted(
        n
        for n in names
        if n not in KNOWN_TABLES and not n.startswith(FTS_SHADOW_PREFIX)
        and not n.startswith("sqlite_")
    )  # fmt: skip


def dump_catalog(db: Path) -> Dump:
    """Every table of the catalog at ``db`` keyed by natural keys (see the module's rule)."""
    with read_only(db) as conn:
        unknown = unknown_tables(conn)
        if unknown:
            raise AssertionError(f"no comparison rule for tables {unknown}: add one to {__file__}")
        roots = {r["id"]: r["path"] for r in _rows(conn, "roots")}
        items = {r["id"]: (roots[r["root_id"]], r["relpath"]) for r in _rows(conn, "items")}
        segments = {r["id"]: (items[r["item_id"]], r["ordinal"]) for r in _rows(conn, "segments")}
        spaces = {r["id"]: r["key"] for r in _rows(conn, "spaces")}
        fts = {r["rowid"]: (r["text"], r["name"]) for r in _fts_rows(conn)}
        return {
            "roots": {r["path"]: _kept("roots", r) for r in _rows(conn, "roots")},
            "items": {items[r["id"]]: _kept("items", r) for r in _rows(conn, "items")},
            "segments": {
                segments[r["id"]]: (_kept("segments", r), fts.pop(r["id"], None))
                for r in _rows(conn, "segments")
            },
            "fts_without_segment": dict(fts),
            "vectors": {
                (segments[r["segment_id"]], spaces[r["space_id"]]): r["data"]
                for r in _rows(conn, "vectors")
            },
            "spaces": {r["key"]: _kept("spaces", r) for r in _rows(conn, "spaces")},
            "settings": {
                r["key"]: r["value"]
                for r in _rows(conn, "settings")
                if not r["key"].startswith(HISTORY_SETTINGS)
            },
            "alembic_version": {r["version_num"]: True for r in _rows(conn, "alembic_version")},
            "item_extractors": {
                (items[r["item_id"]], r["extractor"]): _kept("item_extractors", r)
                for r in _rows(conn, "item_extractors")
            },
            "feedback": {
                (items[r["item_id"]], r["query"], r["good"]): True for r in _rows(conn, "feedback")
            },
            "adapters": {
                (spaces[r["space_id"]], r["name"]): (r["active"], r["data"], r["report"])
                for r in _rows(conn, "adapters")
            },
        }


def _fts_rows(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    cursor = conn.execute("SELECT rowid, text, name FROM segments_fts")
    return [{"rowid": r[0], "text": r[1], "name": r[2]} for r in cursor]


def _shown(value: Any) -> str:
    if isinstance(value, bytes) and len(value) > 64:
        return f"<{len(value)} bytes, blake2b {hashlib.blake2b(value, digest_size=8).hexdigest()}>"
    text = repr(value)
    return text if len(text) <= 300 else text[:300] + "..."


def differences(got: Dump, want: Dump, limit: int = 12) -> list[str]:
    """How ``got`` differs from ``want``, one line per difference (at most ``limit``)."""
    out: list[str] = []
    for section in sorted(set(got) | set(want)):
        a, b = got.get(section, {}), want.get(section, {})
        for key in sorted(set(a) | set(b), key=repr):
            if key not in b:
                out.append(f"{section}: extra {_shown(key)} = {_shown(a[key])}")
            elif key not in a:
                out.append(f"{section}: missing {_shown(key)} = {_shown(b[key])}")
            elif a[key] != b[key]:
                out.append(f"{section}: {_shown(key)} is {_shown(a[key])}, want {_shown(b[key])}")
    if len(out) > limit:
        out = [*out[:limit], f"... and {len(out) - limit} more"]
    return out
