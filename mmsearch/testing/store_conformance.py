"""The vector-store conformance suite: subclass it, give it your store, run pytest.

>>> class TestMyStore(VectorIndexConformance):          # doctest: +SKIP
...     @pytest.fixture
...     def vector_store(self) -> VectorStore:
...         return MyStore()

Every test is one rule of the :class:`~mmsearch.contracts.VectorIndex`
contract, checked on clustered random unit vectors (like real embeddings,
unlike uniform noise) against exact search computed with numpy.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest

from mmsearch.contracts import (
    CatalogVectors,
    FloatArray,
    IdArray,
    IndexTarget,
    VectorIndex,
    VectorStore,
)
from mmsearch.store.digest import format_digest, vector_digest


def clustered_vectors(count: int, dim: int, clusters: int, seed: int = 0) -> FloatArray:
    """``count`` unit vectors drawn around ``clusters`` random centres (fixed seed)."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, dim))
    rows = centres[rng.integers(0, clusters, count)] + 0.6 * rng.standard_normal((count, dim))
    unit: FloatArray = (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)
    return unit


def exact_top(vectors: FloatArray, ids: IdArray, query: FloatArray, k: int) -> IdArray:
    """The ids of the exact ``k`` nearest rows by inner product, best first."""
    scores = vectors @ query
    order = np.argsort(-scores, kind="stable")[:k]
    top: IdArray = ids[order]
    return top


class VectorIndexConformance:
    """The vector index contract, one rule a test. Define a ``vector_store`` fixture."""

    dim: ClassVar[int] = 32
    count: ClassVar[int] = 3000
    """Vectors in the test space; stores that switch to approximate search above a
    size should set ``store_options`` so that this many vectors take that path."""
    clusters: ClassVar[int] = 40
    queries: ClassVar[int] = 40
    score_tolerance: ClassVar[float] = 1e-4
    """Largest difference between a returned score and the exact inner product."""

    @pytest.fixture
    def vector_store(self) -> VectorStore:
        """The store under test: override in the subclass."""
        pytest.fail("define a `vector_store` fixture in your VectorIndexConformance subclass")

    @pytest.fixture
    def store_options(self) -> dict[str, str]:
        """Options given to the store through ``IndexTarget.options`` (none by default)."""
        return {}

    @pytest.fixture
    def index_target(self, tmp_path: Path, store_options: dict[str, str]) -> IndexTarget:
        """The space the index serves: a fresh folder, a fixed catalog id."""
        folder = tmp_path / "indexes"
        return IndexTarget("conformance-catalog", 1, "conformance|1", self.dim, folder,
                           store_options)  # fmt: skip

    @pytest.fixture
    def dataset(self) -> tuple[IdArray, FloatArray]:
        """Ids (sparse, not positions) and clustered unit vectors."""
        ids = (np.arange(self.count, dtype=np.int64) * 7) + 11
        return ids, clustered_vectors(self.count, self.dim, self.clusters)

    @staticmethod
    def catalog(ids: IdArray, vectors: FloatArray, generation: int = 1) -> CatalogVectors:
        """What a catalog holding exactly these vectors would hand the index (digest too)."""

        def batches() -> Iterator[tuple[IdArray, FloatArray]]:
            for start in range(0, len(ids), 1024):
                yield ids[start : start + 1024], vectors[start : start + 1024]

        digest = format_digest(vector_digest(ids, vectors))
        return CatalogVectors(generation, len(ids), batches, digest)

    @pytest.fixture
    def filled(
        self,
        vector_store: VectorStore,
        index_target: IndexTarget,
        dataset: tuple[IdArray, FloatArray],
    ) -> VectorIndex:
        """An index synced with the dataset, optimised as after an index run, persisted."""
        ids, vectors = dataset
        index = vector_store.open_index(index_target)
        index.sync(self.catalog(ids, vectors))
        index.optimize(self.catalog(ids, vectors))
        index.persist(1)
        return index

    def _queries(self) -> FloatArray:
        return clustered_vectors(self.queries, self.dim, self.clusters, seed=99)

    def test_search_matches_exact_within_its_declared_recall(
        self, filled: VectorIndex, dataset: tuple[IdArray, FloatArray]
    ) -> None:
        """recall@10 against exact search is at least ``recall``; scores are exact."""
        ids, vectors = dataset
        found = 0
        for query in self._queries():
            got, scores = filled.search(query, 10)
            assert len(got) == 10, "k results when the index holds more than k"
            by_id = dict(zip(ids.tolist(), vectors, strict=True))
            exact_scores = np.array([by_id[i] @ query for i in got.tolist()])
            assert np.abs(exact_scores - scores).max() <= self.score_tolerance
            assert (np.diff(scores) <= 1e-6).all(), "best first"
            found += len(set(got.tolist()) & set(exact_top(vectors, ids, query, 10).tolist()))
        recall = found / (10 * self.queries)
        assert recall >= type(filled).recall, f"recall@10 {recall:.3f} below the declared"

    def test_ids_survive_persist_and_reload(
        self,
        filled: VectorIndex,
        vector_store: VectorStore,
        index_target: IndexTarget,
        dataset: tuple[IdArray, FloatArray],
    ) -> None:
        """A new index object loads what was persisted (no rebuild) with the same ids."""
        ids, vectors = dataset
        reopened = vector_store.open_index(index_target)
        assert reopened.sync(self.catalog(ids, vectors)) is False, "loaded, not rebuilt"
        assert reopened.ids() == set(ids.tolist())
        assert reopened.generation == 1
        query = self._queries()[0]
        assert reopened.search(query, 5)[0].tolist() == filled.search(query, 5)[0].tolist()

    def test_removed_ids_are_never_returned(
        self, filled: VectorIndex, dataset: tuple[IdArray, FloatArray]
    ) -> None:
        """After ``remove``, no search returns the removed ids, and the count drops."""
        ids, vectors = dataset
        gone = ids[: len(ids) // 3]
        filled.remove(gone)
        assert filled.ntotal == len(ids) - len(gone)
        for row in vectors[:20]:
            assert not set(filled.search(row, 10)[0].tolist()) & set(gone.tolist())

    def test_added_vectors_are_found(self, filled: VectorIndex) -> None:
        """A vector added after the build is its own nearest neighbour."""
        extra = clustered_vectors(5, self.dim, self.clusters, seed=5)
        new_ids = np.arange(10**9, 10**9 + 5, dtype=np.int64)
        filled.add(new_ids, extra)
        for sid, row in zip(new_ids.tolist(), extra, strict=True):
            assert filled.search(row, 1)[0].tolist() == [sid]

    def test_a_small_allow_list_gives_exactly_the_best_allowed(
        self, filled: VectorIndex, dataset: tuple[IdArray, FloatArray]
    ) -> None:
        """With a 1 % allow-list, the results are exactly exact search among those ids."""
        ids, vectors = dataset
        picked = self._pick(len(ids), 0.01)
        for query in self._queries()[:10]:
            got, _ = filled.search(query, 10, ids[picked])
            assert got.tolist() == exact_top(vectors[picked], ids[picked], query, 10).tolist()

    def test_a_large_allow_list_returns_only_allowed_ids_at_the_declared_recall(
        self, filled: VectorIndex, dataset: tuple[IdArray, FloatArray]
    ) -> None:
        """With a 30 % allow-list: allowed ids only, and no recall lost to the filter."""
        ids, vectors = dataset
        picked = self._pick(len(ids), 0.3)
        allowed, found = set(ids[picked].tolist()), 0
        for query in self._queries():
            got = filled.search(query, 10, ids[picked])[0].tolist()
            assert len(got) == 10 and set(got) <= allowed
            expected = exact_top(vectors[picked], ids[picked], query, 10).tolist()
            found += len(set(got) & set(expected))
        assert found / (10 * self.queries) >= type(filled).recall

    def test_an_allow_list_of_the_lowest_ids_never_lets_higher_ones_through(
        self, filled: VectorIndex, dataset: tuple[IdArray, FloatArray]
    ) -> None:
        """Allowed ids all below the rest (a selector's bounds are where leaks hide)."""
        ids = dataset[0]
        low = ids[: len(ids) * 3 // 10]
        for query in self._queries()[:10]:
            got = filled.search(query, 10, low)[0].tolist()
            assert len(got) == 10 and set(got) <= set(low.tolist())

    @staticmethod
    def _pick(total: int, share: float) -> IdArray:
        rng = np.random.default_rng(3)
        return np.sort(rng.choice(total, max(10, int(share * total)), replace=False))

    def test_damaged_persisted_form_is_rebuilt(
        self,
        filled: VectorIndex,
        vector_store: VectorStore,
        index_target: IndexTarget,
        dataset: tuple[IdArray, FloatArray],
    ) -> None:
        """Every file it keeps, damaged: the next sync rebuilds and serves every id."""
        files = [p for p in index_target.folder.rglob("*") if p.is_file()]
        if not files:
            pytest.skip("this store keeps no files in the index folder")
        for path in files:
            raw = bytearray(path.read_bytes())
            raw[len(raw) // 2 :] = bytes(len(raw) - len(raw) // 2)
            path.write_bytes(bytes(raw))
        ids, vectors = dataset
        reopened = vector_store.open_index(index_target)
        assert reopened.sync(self.catalog(ids, vectors)) is True
        assert reopened.ids() == set(ids.tolist())
        query = self._queries()[0]
        assert len(reopened.search(query, 10)[0]) == 10

    def test_another_catalogs_index_is_not_served(
        self,
        filled: VectorIndex,
        vector_store: VectorStore,
        index_target: IndexTarget,
        dataset: tuple[IdArray, FloatArray],
    ) -> None:
        """Same folder, same space, another catalog id: rebuilt, not loaded."""
        ids, vectors = dataset
        other = replace(index_target, catalog_id="another-catalog")
        reopened = vector_store.open_index(other)
        assert reopened.sync(self.catalog(ids, vectors)) is True
        assert reopened.ids() == set(ids.tolist())

    def test_an_index_of_other_vectors_is_not_served(
        self,
        filled: VectorIndex,
        vector_store: VectorStore,
        index_target: IndexTarget,
        dataset: tuple[IdArray, FloatArray],
    ) -> None:
        """Same catalog, space, generation and count, other vectors: rebuilt, not loaded.

        For stores that keep a digest of what they persist (``IndexHealth.digest``);
        skipped for others.
        """
        ids, vectors = dataset
        persisted = filled.health(1, self.count).digest
        if persisted is None:
            pytest.skip("this store keeps no digest of what it persists")
        assert persisted == self.catalog(ids, vectors).digest
        others = np.ascontiguousarray(vectors[::-1])  # each id with another id's vector
        reopened = vector_store.open_index(index_target)
        assert reopened.sync(self.catalog(ids, others)) is True
        assert reopened.search(others[0], 1)[0].tolist() == [ids[0]]

    def test_rebuild_reflects_the_catalog_exactly(
        self, filled: VectorIndex, dataset: tuple[IdArray, FloatArray]
    ) -> None:
        """``rebuild`` replaces the contents with exactly the catalog's vectors."""
        ids, vectors = dataset
        filled.rebuild(self.catalog(ids[1::3], vectors[1::3], generation=2))
        assert filled.ids() == set(ids[1::3].tolist())
        assert filled.generation == 2

    def test_health_tells_ok_from_stale(self, filled: VectorIndex) -> None:
        """``health`` is ok for the persisted generation and count, not for another."""
        assert filled.health(1, self.count).state == "ok"
        assert filled.health(2, self.count + 1).state != "ok"
