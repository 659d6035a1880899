"""The hooks a plugin can implement. Each takes a ``register`` callback (or the CLI group)."""

from __future__ import annotations

from collections.abc import Callable

import click
import pluggy

from mmsearch.contracts import Annotator, Encoder, Extractor, Reranker, VectorStore

hookspec = pluggy.HookspecMarker("mmsearch")
hookimpl = pluggy.HookimplMarker("mmsearch")


@hookspec
def register_extractors(register: Callable[[Extractor], None]) -> None:
    """Call ``register(extractor)`` for each file extractor the plugin provides."""


@hookspec
def register_encoders(register: Callable[[Encoder], None]) -> None:
    """Call ``register(encoder)`` for each encoder the plugin provides."""


@hookspec
def register_annotators(register: Callable[[Annotator], None]) -> None:
    """Call ``register(annotator)`` for each segment annotator (OCR, captions) it provides."""


@hookspec
def register_rerankers(register: Callable[[Reranker], None]) -> None:
    """Call ``register(reranker)`` for each query reranker the plugin provides."""


@hookspec
def register_vector_stores(register: Callable[[VectorStore], None]) -> None:
    """Call ``register(store)`` for each kind of vector index (``--store NAME``) it provides."""


@hookspec
def register_commands(cli: click.Group) -> None:
    """Add click commands to the ``mmsearch`` command group."""


__all__ = [
    "hookimpl",
    "hookspec",
    "register_annotators",
    "register_commands",
    "register_encoders",
    "register_extractors",
    "register_rerankers",
    "register_vector_stores",
]
