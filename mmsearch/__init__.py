"""mmsearch: local-first, plugin-based multimodal search.

The public API is what this module exports; plugins import from here, from
:mod:`mmsearch.contracts` and :mod:`mmsearch.hookspecs`, and nowhere else.
"""

import importlib
from typing import TYPE_CHECKING, Any

from mmsearch.contracts import (
    Annotator,
    Encoder,
    Extractor,
    ExtractSettings,
    MediaType,
    Modality,
    Segment,
    SkipFile,
    Source,
)
from mmsearch.errors import (
    CatalogError,
    EncoderUnavailableError,
    LockedError,
    MmsearchError,
    SchemaTooNewError,
    UsageError,
)
from mmsearch.hookspecs import hookimpl
from mmsearch.ranking import (
    FUSION_ORDER,
    KEYWORD,
    Candidate,
    QueryPart,
    RerankContext,
    Reranker,
    SegmentMatch,
    Signal,
    vector_signal,
)

if TYPE_CHECKING:
    from mmsearch.indexer import IndexOptions
    from mmsearch.library import Library
    from mmsearch.planner import Example, SearchOptions
    from mmsearch.query import Hit
    from mmsearch.querylang import Filters
    from mmsearch.report import IndexReport
    from mmsearch.search import SearchResult

# The engine (SQLAlchemy, alembic, FAISS) loads on first use, so a plugin that
# imports the contracts, and `mmsearch --help`, stay fast.
_LAZY = {
    "IndexOptions": "mmsearch.indexer",
    "Library": "mmsearch.library",
    "SearchOptions": "mmsearch.planner",
    "Example": "mmsearch.planner",
    "SearchResult": "mmsearch.search",
    "Filters": "mmsearch.querylang",
    "Hit": "mmsearch.query",
    "IndexReport": "mmsearch.report",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'mmsearch' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


__version__ = "0.1.0"

__all__ = [
    "FUSION_ORDER",
    "KEYWORD",
    "Annotator",
    "Candidate",
    "CatalogError",
    "Encoder",
    "EncoderUnavailableError",
    "Example",
    "ExtractSettings",
    "Extractor",
    "Filters",
    "Hit",
    "IndexOptions",
    "IndexReport",
    "Library",
    "LockedError",
    "MediaType",
    "MmsearchError",
    "Modality",
    "QueryPart",
    "RerankContext",
    "Reranker",
    "SchemaTooNewError",
    "SearchOptions",
    "SearchResult",
    "Segment",
    "SegmentMatch",
    "Signal",
    "SkipFile",
    "Source",
    "UsageError",
    "__version__",
    "hookimpl",
    "vector_signal",
]
