"""Names the options, the plan and the CLI share, in one place (and light to import)."""

from __future__ import annotations

from typing import Literal, get_args

Fusion = Literal["score", "rrf"]
"""``score``: calibrated scores combined as evidence; ``rrf``: reciprocal-rank fusion."""

FUSION_METHODS: tuple[Fusion, ...] = get_args(Fusion)

SIGNALS = ("vector", "keyword")
"""The retrieval signals a query can use."""
