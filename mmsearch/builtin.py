"""The core's own plugin: what mmsearch provides through the same hooks as everyone else."""

from __future__ import annotations

from collections.abc import Callable

from mmsearch.contracts import Reranker, VectorStore
from mmsearch.hookspecs import hookimpl
from mmsearch.query.rerankers import BUILT_IN
from mmsearch.store.faiss_index import FaissStore


@hookimpl
def register_rerankers(register: Callable[[Reranker], None]) -> None:
    """Provide the built-in rerankers."""
    for reranker in BUILT_IN:
        register(reranker)


@hookimpl
def register_vector_stores(register: Callable[[VectorStore], None]) -> None:
    """Provide the FAISS store (exact when small, approximate when large)."""
    register(FaissStore())
