"""Where the Milvus store connects and how it lays out a collection, from options or variables."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from hashlib import sha1

from mmsearch import UsageError
from mmsearch.contracts import IndexTarget

ANN_MIN = 20_000
"""Collections up to this many vectors keep a FLAT (exact) index; above, IVF_FLAT. Measured
on Milvus Lite (bench/milvus_index_types.py): FLAT answers in ~15 ms at 10k rows but ~130 ms
at 50k, where IVF_FLAT takes ~25 ms at recall@10 0.98-1.0."""
EXACT_FILTER_MAX = 2_000
"""Allow-lists up to this many ids are scored exactly from their stored vectors; longer ones
go to Milvus as an ``id in [...]`` expression."""
TIMEOUT = 10.0
"""Seconds to wait for a Milvus server to answer a call."""


@dataclass(frozen=True, slots=True)
class MilvusSettings:
    """Everything the store needs to reach and lay out one collection."""

    uri: str
    token: str
    ann_min: int
    exact_filter_max: int
    timeout: float

    @classmethod
    def from_target(cls, target: IndexTarget) -> MilvusSettings:
        """Options first (the library's recorded ``uri``), then ``MMSEARCH_MILVUS_*``."""
        uri = target.options.get("uri") or os.environ.get("MMSEARCH_MILVUS_URI") or ""
        if not uri:
            uri = str(target.folder / "milvus.db")  # Milvus Lite beside the catalog
        return cls(
            uri=uri,
            # The token is a secret: read from the environment only, never recorded.
            token=os.environ.get("MMSEARCH_MILVUS_TOKEN", ""),
            ann_min=_number(target, "ann_min", "MMSEARCH_MILVUS_ANN_MIN", ANN_MIN),
            exact_filter_max=_number(
                target, "exact_filter_max", "MMSEARCH_MILVUS_EXACT_FILTER_MAX", EXACT_FILTER_MAX
            ),
            timeout=float(_number(target, "timeout", "MMSEARCH_MILVUS_TIMEOUT", int(TIMEOUT))),
        )

    @property
    def is_lite(self) -> bool:
        """Whether the URI is a local file (Milvus Lite) rather than a server address."""
        return "://" not in self.uri


def _number(target: IndexTarget, key: str, variable: str, default: int) -> int:
    raw = target.options.get(key) or os.environ.get(variable) or ""
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise UsageError(
            f"The Milvus setting {key} ({variable}) must be a whole number, not {raw!r}."
        ) from None


def collection_name(catalog_id: str, space_id: int) -> str:
    """The collection of one space of one catalog: ``mmsearch_<catalog>_<hash>_s<space>``.

    Milvus names allow letters, digits and underscores; the hash of the full catalog id
    keeps two ids that differ only in other characters apart.
    """
    cleaned = re.sub(r"[^0-9A-Za-z]", "", catalog_id)[:32]
    digest = sha1(catalog_id.encode("utf-8")).hexdigest()[:8]
    return f"mmsearch_{cleaned}_{digest}_s{space_id}"
