"""The FAISS cache: keyed by SQLite ids, saved atomically, rebuilt when it cannot be trusted."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from mmsearch.contracts import CatalogVectors, FloatArray, IdArray, IndexTarget
from mmsearch.store.faiss_file import IndexFileError
from mmsearch.store.faiss_index import FaissIndex

DIM = 8


def _vectors(n: int, seed: int = 0) -> FloatArray:
    rows = np.random.default_rng(seed).standard_normal((n, DIM)).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


IDS = np.array([101, 205, 999, 4000], dtype=np.int64)
VECTORS = _vectors(4)


def _batches() -> Iterator[tuple[IdArray, FloatArray]]:
    yield IDS[:2], VECTORS[:2]
    yield IDS[2:], VECTORS[2:]


def _target(tmp_path: Path, space_id: int = 1, catalog_id: str = "catalog-a") -> IndexTarget:
    return IndexTarget(catalog_id, space_id, f"fake|{space_id}", DIM, tmp_path / "idx")


def _store(tmp_path: Path) -> FaissIndex:
    return FaissIndex(_target(tmp_path))


def _catalog(generation: int, count: int = 4) -> CatalogVectors:
    return CatalogVectors(generation, count, _batches)


def test_search_returns_sqlite_ids_not_positions(tmp_path: Path) -> None:
    store = _store(tmp_path)
    store.add(IDS, VECTORS)
    ids, scores = store.search(VECTORS[2], k=2)
    assert ids[0] == 999
    assert scores[0] == pytest.approx(1.0, abs=1e-5)
    assert store.ids() == set(IDS.tolist())


def test_remove_by_id(tmp_path: Path) -> None:
    store = _store(tmp_path)
    store.add(IDS, VECTORS)
    store.remove(np.array([205, 123456], dtype=np.int64))
    assert store.ids() == {101, 999, 4000}


def test_save_then_load_round_trips(tmp_path: Path) -> None:
    store = _store(tmp_path)
    store.add(IDS, VECTORS)
    store.persist(generation=7)
    fresh = _store(tmp_path)
    fresh.load(generation=7, count=4)
    assert fresh.ids() == set(IDS.tolist())
    assert fresh.generation == 7


def test_save_leaves_no_temporary_files(tmp_path: Path) -> None:
    store = _store(tmp_path)
    store.add(IDS, VECTORS)
    store.persist(generation=1)
    store.persist(generation=2)
    assert [p.name for p in store.path.parent.iterdir()] == ["space-1.faiss"]


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        ("missing", "does not exist"),
        ("stale", "stale"),
        ("bitflip", "checksum"),
        ("header_bitflip", "header is damaged"),
        ("truncated", "damaged"),
        ("garbage", "not an mmsearch index"),
        ("other_space", "another space"),
        ("other_catalog", "another catalog"),
    ],
)
def test_untrustworthy_index_file_is_rebuilt_from_sqlite_with_one_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, damage: str, message: str
) -> None:
    store = _store(tmp_path)
    store.add(IDS, VECTORS)
    store.persist(generation=5)
    raw = bytearray(store.path.read_bytes())
    generation = 5
    if damage == "missing":
        store.path.unlink()
    elif damage == "stale":
        generation = 6
    elif damage == "bitflip":
        raw[-10] ^= 0xFF
        store.path.write_bytes(bytes(raw))
    elif damage == "header_bitflip":
        # Still valid JSON, but the digest is no longer hex (seen in the stateful test).
        at = raw.index(b'"digest": "') + len(b'"digest": "')
        raw[at] = ord("u")
        store.path.write_bytes(bytes(raw))
    elif damage == "truncated":
        store.path.write_bytes(bytes(raw[: len(raw) // 2]))
    elif damage == "garbage":
        store.path.write_bytes(b"\x00" * 100)
    elif damage == "other_space":
        other = FaissIndex(_target(tmp_path, space_id=2))
        other.path = store.path
        other.persist(generation=5)
    elif damage == "other_catalog":
        FaissIndex(_target(tmp_path, catalog_id="catalog-b")).persist(generation=5)

    fresh = _store(tmp_path)
    with pytest.raises(IndexFileError, match=message):
        fresh.load(generation, 4)
    with caplog.at_level(logging.WARNING):
        rebuilt = fresh.sync(_catalog(generation))
    assert rebuilt
    assert fresh.ids() == set(IDS.tolist()), "never serve a silently empty index"
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "Rebuilding" in warnings[0].getMessage()


def test_empty_space_without_file_rebuilds_silently(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = _store(tmp_path)
    with caplog.at_level(logging.WARNING):
        store.sync(CatalogVectors(0, 0, lambda: iter(())))
    assert store.ntotal == 0
    assert caplog.records == []


def test_search_restores_the_thread_setting(tmp_path: Path) -> None:
    import faiss

    store = _store(tmp_path)
    store.add(IDS, VECTORS)
    before = faiss.omp_get_max_threads()
    store.search(VECTORS[0], k=1)
    assert faiss.omp_get_max_threads() == before


def test_temp_file_of_a_killed_writer_is_cleared_by_the_next_save(tmp_path: Path) -> None:
    """A kill before os.replace leaves the temp file; the next save deletes it, not a live one."""
    import fcntl

    store = _store(tmp_path)
    store.add(IDS, VECTORS)
    store.persist(generation=1)
    folder = store.path.parent
    abandoned = folder / f".{store.path.name}.dead0001.tmp"
    abandoned.write_bytes(b"an index half written when its writer was killed")
    live = folder / f".{store.path.name}.live0001.tmp"
    live.write_bytes(b"another process is writing this one")
    with live.open("rb") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        store.remove(IDS[:1])
        store.persist(generation=2)
        assert sorted(p.name for p in folder.iterdir()) == [live.name, store.path.name]
