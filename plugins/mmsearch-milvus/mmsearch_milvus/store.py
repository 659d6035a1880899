"""The Milvus vector store: ``--store milvus``."""

from __future__ import annotations

from mmsearch.contracts import IndexTarget, VectorStore
from mmsearch_milvus.index import MilvusIndex
from mmsearch_milvus.settings import MilvusSettings


class MilvusStore(VectorStore):
    """A collection per space in Milvus: a Lite file beside the catalog, or ``--milvus-uri``."""

    name = "milvus"
    description = "Milvus collections (Lite file or server): FLAT when small, IVF_FLAT when large"

    def open_index(self, target: IndexTarget) -> MilvusIndex:
        """The space's collection; nothing connects until the index is used."""
        return MilvusIndex(target, MilvusSettings.from_target(target))
