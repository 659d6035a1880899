"""What a reranker sees and returns: candidates, their segments and signals.

A query runs in stages (see :mod:`mmsearch.query.runner`): retrieval gathers
candidate files from every signal (vector search per space, keyword search),
then the rerankers run in ascending :attr:`Reranker.order`. Those with an order
below :data:`FUSION_ORDER` work on the per-signal scores before they are fused
into one score; those at or above it work on the fused ranking. The built-in
rerankers (exact re-scoring, attention pooling, duplicate collapse, diversity)
are registered through the same ``register_rerankers`` hook as any plugin's.

Scores called *calibrated* are on one scale for every signal: how many
standard deviations above what unrelated queries get (see
:mod:`mmsearch.query.calibration`), so a vector score and a keyword score can be
added and compared with one threshold.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

FUSION_ORDER = 500
"""Rerankers ordered below this run before signals are fused; the rest after."""

KEYWORD = "keyword"
"""The name of the keyword (FTS5 BM25) signal."""


def vector_signal(space_label: str) -> str:
    """The signal name of vector search in one space, e.g. ``vector:offline``."""
    return f"vector:{space_label}"


@dataclass(slots=True)
class SegmentMatch:
    """One segment of a candidate file and its scores per signal."""

    segment_id: int
    kind: str
    modality: str
    start: float | None
    end: float | None
    text: str | None
    char_start: int | None
    char_end: int | None
    scores: dict[str, float] = field(default_factory=dict)
    """Calibrated score of this segment per signal name."""


@dataclass(slots=True)
class Signal:
    """How strongly one signal matched one file."""

    name: str
    raw: float
    """Cosine similarity for vector signals, BM25 (higher is better) for keyword."""
    calibrated: float
    rank: int = 0
    """1-based rank of the file among candidates by this signal (set before fusion)."""
    segment_id: int | None = None
    """The segment that carries the match (the file's moment for this signal)."""
    detail: dict[str, Any] = field(default_factory=dict)
    """What a user is shown: matched words, snippet, per-part scores."""


@dataclass(slots=True)
class Candidate:
    """A file that may be a result, with everything rerankers need to judge it."""

    item_id: int
    path: str
    media_type: str
    content_hash: str | None
    segments: dict[int, SegmentMatch] = field(default_factory=dict)
    signals: dict[str, Signal] = field(default_factory=dict)
    score: float = 0.0
    """The fused score (set by fusion; rerankers after fusion may change it)."""
    moment: int | None = None
    """The segment shown as the hit: the best-matching part of the file."""
    copies: list[str] = field(default_factory=list)
    """Paths of duplicates collapsed into this candidate."""
    pushed_down: list[dict[str, Any]] = field(default_factory=list)
    """Negative parts that lowered this file's score, and by how much."""
    notes: list[str] = field(default_factory=list)
    """Short remarks by rerankers, shown in explanations."""

    def best_segment(self) -> SegmentMatch | None:
        """The moment's segment, or the first one."""
        if self.moment is not None and self.moment in self.segments:
            return self.segments[self.moment]
        return next(iter(self.segments.values()), None)


@dataclass(frozen=True, slots=True)
class QueryPart:
    """One embedded part of a query: a text or an example file, weighted, maybe negative."""

    label: str
    weight: float
    negative: bool
    vectors: Mapping[str, npt.NDArray[np.float32]]
    """The part's unit vector per space label (spaces that could embed it)."""


@dataclass(slots=True)
class RerankContext:
    """The query as rerankers see it, and access to stored vectors."""

    parts: Sequence[QueryPart]
    spaces: Mapping[str, Any]
    """Space label -> the :class:`mmsearch.query.runner.SpaceSearch` serving it."""
    options: Mapping[str, Any]
    """Search options by name (``temperature``, ``diversity``, ``fusion``...)."""
    _read: dict[tuple[str, int], npt.NDArray[np.float32]] = field(default_factory=dict)
    """Vectors already read during this query: several rerankers ask for the same ones."""

    def stored_vectors(
        self, space_label: str, segment_ids: Sequence[int]
    ) -> dict[int, npt.NDArray[np.float32]]:
        """The stored float32 vectors of these segments in one space."""
        missing = [s for s in segment_ids if (space_label, s) not in self._read]
        if missing:
            for sid, vector in self.spaces[space_label].stored_vectors(missing).items():
                self._read[(space_label, sid)] = vector
        found = ((s, self._read.get((space_label, s))) for s in segment_ids)
        return {s: v for s, v in found if v is not None}

    def calibrate(
        self, space_label: str, similarity: npt.NDArray[np.float32], modalities: Sequence[str]
    ) -> npt.NDArray[np.float64]:
        """Raw similarities of segments (of these modalities) on one space's calibrated scale."""
        calibrated: npt.NDArray[np.float64] = self.spaces[space_label].calibration.calibrate(
            similarity, modalities
        )
        return calibrated


def positive_mean(parts: Sequence[QueryPart], label: str) -> npt.NDArray[np.float32] | None:
    """The weighted, normalised mean of the positive parts' vectors in one space (None if none)."""
    positives = [p for p in parts if not p.negative and label in p.vectors]
    if not positives:
        return None
    total = np.sum([p.weight * p.vectors[label] for p in positives], axis=0)
    norm = float(np.linalg.norm(total))
    return None if norm == 0 else (total / norm).astype(np.float32)


__all__ = [
    "FUSION_ORDER",
    "KEYWORD",
    "Candidate",
    "QueryPart",
    "RerankContext",
    "SegmentMatch",
    "Signal",
    "vector_signal",
]
