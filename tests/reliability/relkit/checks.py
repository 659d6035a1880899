"""What must hold of a catalog and its vector indexes: after a kill, and after the rerun.

After a kill the checks only read (a read-only SQLite connection, index files
loaded without the library's rebuild-and-save), so what the rerun finds is what
the kill left. After the rerun the library itself is opened.
"""

from __future__ import annotations

import math
import os
import sqlite3
from pathlib import Path

import numpy as np
from crashes import lock_is_free, sql_ids

from mmsearch import Library
from mmsearch.contracts import IndexTarget
from mmsearch.plugins import Registry
from mmsearch.query.spacesearch import calibration_key
from mmsearch.store.digest import format_digest, vector_digest
from mmsearch.store.faiss_file import IndexFileError, read_header
from mmsearch.store.faiss_index import FaissIndex
from mmsearch.store.locations import index_folder, lock_path
from relkit.dump import read_only

UNIT_TOLERANCE = 1e-3


def catalog_problems(db: Path) -> list[str]:
    """SQLite's own checks, then vectors (dimension, finite, unit length) and FTS rows."""
    with read_only(db) as conn:
        out = [f"integrity_check: {r[0]}" for r in conn.execute("PRAGMA integrity_check")]
        out = [] if out == ["integrity_check: ok"] else out
        out += [f"foreign_key_check: {r}" for r in conn.execute("PRAGMA foreign_key_check")]
        if not _has_table(conn, "vectors"):
            return out  # a catalog killed before its schema was complete
        out += _vector_problems(conn)
        out += _fts_problems(conn)
        out += _digest_problems(conn) if _has_table(conn, "space_digests") else []
    return out


def _has_table(conn: sqlite3.Connection, name: str) -> bool:
    sql = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?"
    return conn.execute(sql, (name,)).fetchone() is not None


def _vector_problems(conn: sqlite3.Connection) -> list[str]:
    dims = dict(conn.execute("SELECT id, dim FROM spaces"))
    out = []
    for segment_id, space_id, data in conn.execute(
        "SELECT segment_id, space_id, data FROM vectors"
    ):
        what = f"vector of segment {segment_id} in space {space_id}"
        if len(data) != 4 * dims[space_id]:
            out.append(f"{what}: {len(data)} bytes, not {4 * dims[space_id]}")
            continue
        row = np.frombuffer(data, dtype=np.float32).astype(np.float64)
        norm = float(np.linalg.norm(row))
        if not math.isfinite(norm) or abs(norm - 1.0) > UNIT_TOLERANCE:
            out.append(f"{what}: norm {norm}, not 1")
    return out


def _fts_problems(conn: sqlite3.Connection) -> list[str]:
    missing = conn.execute(
        "SELECT COUNT(*) FROM segments WHERE id NOT IN (SELECT rowid FROM segments_fts)"
    ).fetchone()[0]
    orphans = conn.execute(
        "SELECT COUNT(*) FROM segments_fts WHERE rowid NOT IN (SELECT id FROM segments)"
    ).fetchone()[0]
    out = [f"{missing} segments have no keyword (FTS) row"] if missing else []
    return out + ([f"{orphans} keyword (FTS) rows have no segment"] if orphans else [])


def _digest_problems(conn: sqlite3.Connection) -> list[str]:
    """A digest that says it is true at its space's generation must be the vectors' digest."""
    current = conn.execute(
        "SELECT d.space_id, d.digest FROM space_digests d JOIN spaces s ON s.id = d.space_id "
        "WHERE d.generation = s.generation"
    ).fetchall()
    out = []
    for space_id, stored in current:
        rows = conn.execute(
            "SELECT segment_id, data FROM vectors WHERE space_id = ? ORDER BY segment_id",
            (space_id,),
        ).fetchall()
        ids = np.asarray([r[0] for r in rows], dtype=np.int64)
        vectors = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32)
        matrix = vectors.reshape(len(rows), -1) if rows else vectors
        actual = format_digest(vector_digest(ids, matrix))
        if actual != stored:
            out.append(f"space {space_id}: stored digest {stored}, its vectors' is {actual}")
    return out


def _spaces(db: Path) -> tuple[str | None, list[tuple[int, str, int, int, int]]]:
    """The catalog id and each space's (id, key, dim, generation, vector count)."""
    with read_only(db) as conn:
        if not _has_table(conn, "vectors"):
            return None, []
        found = conn.execute("SELECT value FROM settings WHERE key = 'catalog_id'").fetchone()
        spaces = conn.execute(
            "SELECT s.id, s.key, s.dim, s.generation, "
            "(SELECT COUNT(*) FROM vectors v WHERE v.space_id = s.id) FROM spaces s"
        ).fetchall()
    return (found[0] if found else None), spaces


def cache_problems(db: Path) -> list[str]:
    """An index file that claims to be current must hold exactly the catalog's vectors.

    A file that is missing, stale or damaged is fine here: the library rebuilds it
    from the catalog on open. One that loads is what a query would be served from.
    """
    catalog_id, spaces = _spaces(db)
    out = []
    for space_id, key, dim, generation, count in spaces:
        target = IndexTarget(catalog_id or "", space_id, key, dim, index_folder(db))
        index = FaissIndex(target)
        if catalog_id is None or not index.path.exists():
            continue
        try:
            index.load(generation, count)
        except IndexFileError:
            continue
        out += _loaded_index_problems(db, index, space_id)
        index.close()
    return out


def _loaded_index_problems(db: Path, index: FaissIndex, space_id: int) -> list[str]:
    want = sql_ids(db, space_id)
    got = index.ids()
    if got != want:
        return [
            f"space {space_id}: its index file loads as current but holds {len(got)} ids, "
            f"{len(got - want)} not in SQL, {len(want - got)} of SQL's missing"
        ]
    if index.ann is not None or not want:
        return []
    ids = np.asarray(sorted(want), dtype=np.int64)
    stored = _sql_vectors(db, space_id, ids)
    held = np.stack([index.flat.reconstruct(int(i)) for i in ids])
    if not np.array_equal(held, stored):
        return [f"space {space_id}: its index file holds other vectors than SQL"]
    return []


def _sql_vectors(db: Path, space_id: int, ids: np.ndarray) -> np.ndarray:
    with read_only(db) as conn:
        rows = dict(
            conn.execute("SELECT segment_id, data FROM vectors WHERE space_id = ?", (space_id,))
        )
    return np.stack([np.frombuffer(rows[int(i)], dtype=np.float32) for i in ids])


def after_kill_problems(db: Path) -> list[str]:
    """Everything that must hold the moment a writer died, read without repairing anything."""
    if not db.exists():
        return []  # killed before the catalog was created: nothing to check
    out = catalog_problems(db) + cache_problems(db)
    lock = lock_path(db)
    if lock.exists() and not lock_is_free(lock):
        out.append("the writer lock is still held after its holder died")
    return out


def leftover_files(db: Path) -> list[str]:
    """Files beside the catalog or in its index folder that nothing names (temp files, old
    rows files, half-made catalogs)."""
    own = {db.name, f"{db.name}-wal", f"{db.name}-shm", lock_path(db).name}
    folder = index_folder(db)
    beside = sorted(set(os.listdir(db.parent)) - own - {folder.name})
    return beside + _index_leftovers(db, folder)


def _index_leftovers(db: Path, folder: Path) -> list[str]:
    if not folder.exists():
        return []
    _catalog_id, spaces = _spaces(db)
    wanted: set[str] = set()
    for space_id, *_rest in spaces:
        path = folder / f"space-{space_id}.faiss"
        if path.exists():
            wanted.add(path.name)
            try:
                named = read_header(path).vectors_file
            except IndexFileError:
                continue
            if named:
                wanted.add(named)
    return [f"{folder.name}/{name}" for name in sorted(set(os.listdir(folder)) - wanted)]


def library_problems(db: Path, registry: Registry) -> list[str]:
    """After a finished run: every index file current, every index equal to SQL, calibrated."""
    out = []
    with Library.open(db, registry=registry) as lib:
        for status in lib.status().spaces:  # read before anything loads (and so repairs) them
            if status.vectors and status.index.state != "ok":
                out.append(f"space {status.id}: index {status.index.state} ({status.index.detail})")
        for space in lib.catalog.spaces():
            got, want = lib.store(space).ids(), sql_ids(db, space.id)
            if got != want:
                out.append(f"space {space.id}: index holds {len(got)} ids, SQL {len(want)}")
            if want and lib.catalog.setting(calibration_key(space)) is None:
                out.append(f"space {space.id}: no calibration stored")
    return out


def index_kinds(db: Path, registry: Registry) -> dict[str, str]:
    """Each space's index kind by space key (flat or approximate), as status reports it."""
    with Library.open(db, registry=registry) as lib:
        keys = {s.id: s.key for s in lib.catalog.spaces()}
        return {keys[s.id]: s.index.kind for s in lib.status().spaces}
