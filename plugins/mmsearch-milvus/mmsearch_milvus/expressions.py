"""Query filters and allow-lists as Milvus boolean expressions."""

from __future__ import annotations

import json
from collections.abc import Iterable

from mmsearch.contracts import MEDIA_TYPES, SegmentFilter


def filter_expression(where: SegmentFilter) -> str:
    """``where`` as an expression over the collection's scalar fields ("" when it allows all)."""
    parts: list[str] = []
    if where.media_types:
        unknown = set(where.media_types) - set(MEDIA_TYPES)
        if unknown:
            raise ValueError(f"unknown media types {sorted(unknown)}; known: {MEDIA_TYPES}")
        # json.dumps quotes exactly as Milvus string literals want, and the values are checked.
        parts.append(f"media_type in {json.dumps(sorted(where.media_types))}")
    if where.mtime_min_ns is not None:
        parts.append(f"mtime_ns >= {int(where.mtime_min_ns)}")
    if where.mtime_max_ns is not None:
        parts.append(f"mtime_ns < {int(where.mtime_max_ns)}")
    return " and ".join(parts)


def ids_expression(ids: Iterable[int]) -> str:
    """``id in [...]`` for these segment ids (integers only, so nothing can be injected)."""
    return "id in [" + ",".join(str(int(i)) for i in ids) + "]"
