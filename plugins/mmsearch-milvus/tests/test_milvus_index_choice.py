"""Which vector index a collection gets, by size, on Milvus Lite: FLAT, then IVF_FLAT with
lists for its size, rebuilt when it outgrew them; an older HNSW collection is swapped."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from mmsearch_milvus import MilvusStore
from mmsearch_milvus.collection import Meta, index_kind, nlist_for, outgrown
from mmsearch_milvus.index import MilvusIndex

from mmsearch.contracts import IndexTarget
from mmsearch.testing import VectorIndexConformance, clustered_vectors

DIM = 16


def _target(tmp_path: Path, ann_min: int) -> IndexTarget:
    options = {"uri": str(tmp_path / "lite" / "milvus.db"), "ann_min": str(ann_min)}
    return IndexTarget("choice-catalog", 1, "choice|1", DIM, tmp_path / "indexes", options)


def _open(tmp_path: Path) -> MilvusIndex:
    return MilvusStore().open_index(_target(tmp_path, ann_min=100))


def _fill(index: MilvusIndex, count: int, generation: int) -> None:
    ids = np.arange(count, dtype=np.int64) + 1
    vectors = VectorIndexConformance.catalog(ids, clustered_vectors(count, DIM, 8), generation)
    index.sync(vectors)
    index.optimize(vectors)
    index.persist(generation)


def test_the_lists_follow_the_size_and_a_quadrupled_collection_is_due_a_rebuild() -> None:
    assert index_kind(20_000, 20_000) == "FLAT" and index_kind(20_001, 20_000) == "IVF_FLAT"
    assert nlist_for(10_000) == 400 and nlist_for(1) == 16 and nlist_for(10**12) == 65_536
    assert not outgrown(400, 10_000) and not outgrown(400, 30_000)
    assert outgrown(400, 40_000) and not outgrown(None, 10**9)
    meta = Meta("c", 3, "ab", 1.5, 894)
    assert Meta.from_properties(meta.properties()) == meta
    assert Meta.from_properties(Meta("c", 3).properties()).nlist is None


def test_a_growing_collection_goes_flat_then_ivf_then_rebuilt(tmp_path: Path) -> None:
    index = _open(tmp_path)
    _fill(index, 80, 1)
    assert index.collection.kind() == "FLAT"
    _fill(index, 300, 2)
    assert index.collection.kind() == "IVF_FLAT"
    assert index.collection.meta().nlist == nlist_for(300)
    index.close()

    again = _open(tmp_path)  # another process, later
    _fill(again, 1_300, 3)  # more than four times the rows the lists were made for
    assert again.collection.meta().nlist == nlist_for(1_300)
    ids, _ = again.search(clustered_vectors(1, DIM, 8, seed=5)[0], 5)
    assert len(ids) == 5
    again.close()


def test_an_hnsw_collection_of_an_older_version_becomes_ivf(tmp_path: Path) -> None:
    index = _open(tmp_path)
    _fill(index, 300, 1)
    index.collection.reindex("HNSW", 300)
    index.close()
    again = _open(tmp_path)
    ids, _ = again.search(clustered_vectors(1, DIM, 8, seed=5)[0], 5)  # still answers
    assert len(ids) == 5
    _fill(again, 300, 1)
    assert again.collection.kind() == "IVF_FLAT"
    again.close()


def test_ivf_finds_what_exact_search_finds_on_clustered_vectors(tmp_path: Path) -> None:
    """recall@10 of IVF_FLAT at the store's nprobe, against exact inner products."""
    count = 300
    index = _open(tmp_path)
    _fill(index, count, 1)
    vectors = clustered_vectors(count, DIM, 8)
    queries = clustered_vectors(20, DIM, 8, seed=9)
    found = 0
    for query in queries:
        exact = set((np.argsort(-(vectors @ query), kind="stable")[:10] + 1).tolist())
        ids, _ = index.search(query, 10)
        found += len(exact & set(ids.tolist()))
    assert found / (10 * len(queries)) >= 0.95
    index.close()
