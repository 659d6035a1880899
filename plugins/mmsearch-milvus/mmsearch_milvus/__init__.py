"""mmsearch plugin: Milvus as the vector store (``mmsearch index DIR --store milvus``).

One collection per space, named from the catalog id and the space id, the segment id as
primary key, the file's media type, item id and mtime as scalar fields for filters. The
catalog stays the truth: the collection is checked against it on open (count, generation
and the digest of its (id, vector) pairs) and repaired when they differ. Nothing here
imports pymilvus until an index is opened, so ``mmsearch --help`` stays instant.
"""

from __future__ import annotations

from collections.abc import Callable

from mmsearch.contracts import VectorStore
from mmsearch.hookspecs import hookimpl
from mmsearch_milvus.store import MilvusStore


@hookimpl
def register_vector_stores(register: Callable[[VectorStore], None]) -> None:
    """Provide the Milvus store."""
    register(MilvusStore())


__all__ = ["MilvusStore", "register_vector_stores"]
