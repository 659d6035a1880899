"""The vector index contract, on Milvus Lite (a local file) and on a Milvus server process."""

from __future__ import annotations

from pathlib import Path

import pytest
from milvus_server import MilvusServer
from mmsearch_milvus import MilvusStore

from mmsearch.contracts import VectorStore
from mmsearch.testing import VectorIndexConformance


class TestMilvusLiteFile(VectorIndexConformance):
    """Milvus Lite from a file outside the index folder (so no file of it is damaged here)."""

    @pytest.fixture
    def vector_store(self) -> VectorStore:
        return MilvusStore()

    @pytest.fixture
    def store_options(self, tmp_path: Path) -> dict[str, str]:
        return {"uri": str(tmp_path / "lite" / "milvus.db")}


class TestMilvusLiteIvf(TestMilvusLiteFile):
    """The same rules once the collection is past ``ann_min`` and has an IVF_FLAT index."""

    @pytest.fixture
    def store_options(self, tmp_path: Path) -> dict[str, str]:
        return {"uri": str(tmp_path / "lite" / "milvus.db"), "ann_min": "1000"}


class TestMilvusServer(VectorIndexConformance):
    """A real ``milvus-lite server`` on a free loopback port: the network client path."""

    @pytest.fixture
    def vector_store(self) -> VectorStore:
        return MilvusStore()

    @pytest.fixture
    def store_options(self, milvus_server: MilvusServer) -> dict[str, str]:
        return {"uri": milvus_server.uri}
