"""mmsearch: local-first, plugin-based multimodal search.

The public API is what this module exports; plugins import from here, from
:mod:`mmsearch.contracts` and :mod:`mmsearch.hookspecs` (torch-based encoders also
from :mod:`mmsearch.torch_device`, and encoders with an ONNX copy of their text side
from :mod:`mmsearch.onnx_cache`), and nowhere else.
"""

import importlib
from typing import TYPE_CHECKING, Any

from mmsearch.privacy import turn_off_telemetry as _turn_off_telemetry

# Before any plugin can import onnxruntime, which reads it once (see mmsearch.privacy).
_turn_off_telemetry()

if TYPE_CHECKING:
    from mmsearch.contracts import (
        Annotator,
        Encoder,
        Extractor,
        ExtractSettings,
        MediaType,
        Modality,
        Reranker,
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
    from mmsearch.index.indexer import IndexOptions
    from mmsearch.index.report import IndexReport
    from mmsearch.library import Library
    from mmsearch.query.hits import Hit
    from mmsearch.query.planner import Example, SearchOptions
    from mmsearch.query.querylang import Filters
    from mmsearch.query.ranking import (
        FUSION_ORDER,
        KEYWORD,
        Candidate,
        QueryPart,
        RerankContext,
        SegmentMatch,
        Signal,
        vector_signal,
    )
    from mmsearch.query.runner import SearchResult

# Every name loads on first use: the contracts pull in numpy, and the engine SQLAlchemy,
# alembic and FAISS. A plugin pays for what it imports, `mmsearch --help` stays fast, and
# the CLI's thin client (a query a running server answers) imports none of it.
_LAZY = {
    **dict.fromkeys(
        (
            "Annotator",
            "Encoder",
            "Extractor",
            "ExtractSettings",
            "MediaType",
            "Modality",
            "Reranker",
            "Segment",
            "SkipFile",
            "Source",
        ),
        "mmsearch.contracts",
    ),
    **dict.fromkeys(
        (
            "CatalogError",
            "EncoderUnavailableError",
            "LockedError",
            "MmsearchError",
            "SchemaTooNewError",
            "UsageError",
        ),
        "mmsearch.errors",
    ),
    **dict.fromkeys(
        (
            "FUSION_ORDER",
            "KEYWORD",
            "Candidate",
            "QueryPart",
            "RerankContext",
            "SegmentMatch",
            "Signal",
            "vector_signal",
        ),
        "mmsearch.query.ranking",
    ),
    "hookimpl": "mmsearch.hookspecs",
    "IndexOptions": "mmsearch.index.indexer",
    "Library": "mmsearch.library",
    "SearchOptions": "mmsearch.query.planner",
    "Example": "mmsearch.query.planner",
    "SearchResult": "mmsearch.query.runner",
    "Filters": "mmsearch.query.querylang",
    "Hit": "mmsearch.query.hits",
    "IndexReport": "mmsearch.index.report",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'mmsearch' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # looked up once
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


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
