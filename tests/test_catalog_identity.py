"""A vector index file is served only for the catalog, and the vectors, it was made for.

The catalog id ties a file to one catalog; a digest of the (id, vector) pairs,
kept by the catalog in the same transaction as every write, ties it to the
vectors. A copy of a catalog shares its id, so only the digest tells its
caches apart.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from mmsearch import Library
from mmsearch.contracts import CatalogVectors, FloatArray, IdArray, IndexTarget
from mmsearch.plugins import Registry
from mmsearch.store.digest import format_digest, vector_digest
from mmsearch.store.faiss_file import read_header
from mmsearch.store.faiss_index import FaissIndex
from mmsearch.store.locations import index_folder
from mmsearch.store.space_digests import refresh_digest, space_digest

DIM = 8


def _notes(folder: Path, texts: dict[str, str]) -> Path:
    folder.mkdir(parents=True)
    for name, body in texts.items():
        (folder / name).write_text(body)
    return folder


def _cache(db: Path) -> Path:
    return index_folder(db) / "space-1.faiss"


def _rebuilds(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "Rebuilding" in r.getMessage()]


def _sql_vectors(db: Path) -> dict[int, bytes]:
    with sqlite3.connect(db) as conn:
        return dict(conn.execute("SELECT segment_id, data FROM vectors WHERE space_id = 1"))


def test_cache_copied_from_another_catalog_of_the_same_shape_is_rebuilt(
    tmp_path: Path, registry: Registry, caplog: pytest.LogCaptureFixture
) -> None:
    texts = {"one.txt": "a red car by the harbour", "two.txt": "a blue boat at sea"}
    a, b = tmp_path / "a" / "catalog.db", tmp_path / "b" / "catalog.db"
    for db in (a, b):
        with Library.open(db, registry=registry) as lib:
            lib.index(_notes(db.parent / "notes", texts))
    header_a, header_b = read_header(_cache(a)), read_header(_cache(b))
    assert (header_a.generation, header_a.ntotal) == (header_b.generation, header_b.ntotal)
    shutil.copy(_cache(b), _cache(a))
    with Library.open(a, registry=registry) as lib:
        assert lib.status().spaces[0].index.state != "ok"
        lib.query("red car")
    assert any("another catalog" in m for m in _rebuilds(caplog))


def test_cache_of_a_catalog_copy_with_other_vectors_is_rebuilt_with_a_warning(
    tmp_path: Path, registry: Registry, caplog: pytest.LogCaptureFixture
) -> None:
    """Same catalog id, generation and count, other vectors: a copy of the catalog's cache."""
    a, b = tmp_path / "a" / "catalog.db", tmp_path / "b" / "catalog.db"
    Library.open(a, registry=registry).close()
    b.parent.mkdir()
    shutil.copy(a, b)  # a copy of the catalog: the same catalog id
    notes = {
        a: {"one.txt": "a red car by the harbour", "two.txt": "a blue boat at sea"},
        b: {"one.txt": "green paint for the fence", "two.txt": "the old roof leaks"},
    }
    for db, texts in notes.items():
        with Library.open(db, registry=registry) as lib:
            lib.index(_notes(db.parent / "notes", texts))
    header_a, header_b = read_header(_cache(a)), read_header(_cache(b))
    same = ("catalog_id", "space_id", "generation", "ntotal", "dim")
    assert [getattr(header_a, f) for f in same] == [getattr(header_b, f) for f in same]
    assert _sql_vectors(a).keys() == _sql_vectors(b).keys()
    assert _sql_vectors(a) != _sql_vectors(b)

    shutil.copy(_cache(b), _cache(a))
    with Library.open(a, registry=registry, read_only=True) as lib:
        health = lib.status().spaces[0].index
        assert health.state != "ok"
        assert "other vectors" in (health.detail or "")
    with Library.open(a, registry=registry) as lib:
        lib.query("red car")
        index = lib.store(lib.catalog.spaces()[0])
        held = {i: index.flat.reconstruct(i).tobytes() for i in sorted(index.ids())}
        assert lib.status().spaces[0].index.state == "ok"
    assert [m for m in _rebuilds(caplog) if "other vectors" in m]
    assert held == _sql_vectors(a), "the index serves the catalog's own vectors after the rebuild"


def test_catalog_digest_follows_every_write_and_matches_the_saved_index(
    tmp_path: Path, registry: Registry, caplog: pytest.LogCaptureFixture
) -> None:
    db = tmp_path / "catalog.db"
    notes = _notes(tmp_path / "notes", {f"n{i}.txt": f"note {i} about boats" for i in range(6)})
    with Library.open(db, registry=registry) as lib:
        lib.index(notes)
        (notes / "n1.txt").write_text("changed: the harbour at night")
        (notes / "n2.txt").unlink()
        (notes / "new.txt").write_text("a new note")
        lib.index(notes)
        kept = space_digest(lib.catalog, 1)
        assert kept is not None
        assert refresh_digest(lib.catalog, 1, lib.catalog.spaces()[0].dim) == kept
        assert read_header(_cache(db)).digest == kept
    with Library.open(db, registry=registry) as lib:
        lib.query("boats")
    assert _rebuilds(caplog) == []


def test_a_write_that_bypasses_the_catalog_leaves_the_digest_unknown_until_indexed(
    tmp_path: Path, registry: Registry
) -> None:
    db = tmp_path / "catalog.db"
    notes = _notes(tmp_path / "notes", {"a.txt": "alpha", "b.txt": "beta"})
    with Library.open(db, registry=registry) as lib:
        lib.index(notes)
    with sqlite3.connect(db) as conn:  # another program deletes a vector behind mmsearch
        conn.execute("DELETE FROM vectors WHERE segment_id = (SELECT min(segment_id) FROM vectors)")
    with Library.open(db, registry=registry) as lib:
        assert space_digest(lib.catalog, 1) is None, "unknown, never wrong"
        lib.index(notes)
        dim = lib.catalog.spaces()[0].dim
        assert space_digest(lib.catalog, 1) == refresh_digest(lib.catalog, 1, dim)


def _vectors(n: int, seed: int) -> FloatArray:
    rows = np.random.default_rng(seed).standard_normal((n, DIM)).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def _catalog(ids: IdArray, rows: FloatArray) -> CatalogVectors:
    digest = format_digest(vector_digest(ids, rows))
    return CatalogVectors(7, len(ids), lambda: [(ids, rows)], digest)


def test_faiss_file_with_other_vectors_at_the_same_generation_is_rebuilt(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    target = IndexTarget("catalog-a", 1, "fake|1", DIM, tmp_path / "idx")
    ids = np.array([3, 5, 9], dtype=np.int64)
    written = FaissIndex(target)
    written.add(ids, _vectors(3, seed=1))
    written.persist(7)
    ours = _vectors(3, seed=2)
    reopened = FaissIndex(target)
    assert reopened.sync(_catalog(ids, ours)) is True
    assert np.array_equal(reopened.flat.reconstruct_batch(ids), ours)
    assert any("other vectors" in m for m in _rebuilds(caplog))


def test_faiss_digest_follows_adds_and_removes(tmp_path: Path) -> None:
    target = IndexTarget("catalog-a", 1, "fake|1", DIM, tmp_path / "idx")
    ids, rows = np.arange(10, 20, dtype=np.int64), _vectors(10, seed=3)
    index = FaissIndex(target)
    index.add(ids, rows)
    index.remove(np.array([12, 15, 999], dtype=np.int64))
    keep = ~np.isin(ids, [12, 15])
    assert index.digest == vector_digest(ids[keep], rows[keep])
    index.persist(4)
    assert read_header(index.path).digest == format_digest(vector_digest(ids[keep], rows[keep]))


def test_index_file_without_a_digest_is_rebuilt_once(
    tmp_path: Path, registry: Registry, caplog: pytest.LogCaptureFixture
) -> None:
    """A file written before digests: rebuilt (and saved with one) on the first open."""
    db = tmp_path / "catalog.db"
    with Library.open(db, registry=registry) as lib:
        lib.index(_notes(tmp_path / "notes", {"a.txt": "alpha", "b.txt": "beta"}))
        index = lib.store(lib.catalog.spaces()[0])
        assert isinstance(index, FaissIndex)
        index.digest = None
        index.saved_generation = None
        index.persist(index.generation)
    for _ in range(2):
        with Library.open(db, registry=registry) as lib:
            lib.query("alpha")
    assert len([m for m in _rebuilds(caplog) if "no digest" in m]) == 1


def test_digest_is_order_free_and_sees_every_word() -> None:
    ids, rows = np.arange(5, dtype=np.int64), _vectors(5, seed=4)
    assert vector_digest(ids, rows) == vector_digest(ids[::-1], rows[::-1])
    flipped = rows.copy()
    flipped.view(np.uint32)[2, 3] ^= 1  # one bit of one float
    assert vector_digest(ids, flipped) != vector_digest(ids, rows)
    assert vector_digest(ids + 1, rows) != vector_digest(ids, rows)
    parts = (vector_digest(ids[:2], rows[:2]) + vector_digest(ids[2:], rows[2:])) % 2**64
    assert parts == vector_digest(ids, rows)
