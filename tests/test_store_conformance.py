"""The built-in FAISS store passes the vector-store conformance suite on both its paths."""

from __future__ import annotations

import pytest

from mmsearch.contracts import VectorStore
from mmsearch.plugins import load_plugins
from mmsearch.store.faiss_index import FaissStore
from mmsearch.testing import VectorIndexConformance


def test_every_installed_store_is_covered_by_a_conformance_class() -> None:
    # milvus: plugins/mmsearch-milvus/tests/test_milvus_conformance.py
    covered = {"faiss", "milvus"}
    assert set(load_plugins().vector_stores) <= covered, "add a conformance class for it"


class TestFaissExact(VectorIndexConformance):
    """Below the threshold: the flat, exact index."""

    @pytest.fixture
    def vector_store(self) -> VectorStore:
        return FaissStore()


class TestFaissApproximate(VectorIndexConformance):
    """Above the threshold (lowered for the test): IVF-PQ with exact re-ranking from disk."""

    @pytest.fixture
    def vector_store(self) -> VectorStore:
        return FaissStore()

    @pytest.fixture
    def store_options(self) -> dict[str, str]:
        # 3,000 vectors take the approximate path; 30 % allow-lists take the IVF selector.
        return {"exact_max": "1000", "nlist": "32", "m": "16", "exact_filter_max": "100"}

    def test_the_approximate_path_is_the_one_tested(self, filled: object) -> None:
        assert getattr(filled, "kind", None) == "ivfpq"
