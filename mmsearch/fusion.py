"""Fusing signals into one score, and deciding which hits are confident.

Two ways, chosen per query:

- ``score``: the sum of each signal's calibrated score. Scores are already
  standard deviations above each signal's own null, so a file that both
  means the right thing and holds the right words adds the two.
- ``rrf``: reciprocal-rank fusion, the sum of ``1 / (60 + rank)`` over the
  signals that matched; it ignores score scales entirely.

Confidence does not depend on the fusion: a hit is confident when any one
signal clears its threshold (see :mod:`mmsearch.calibration`).
"""

from __future__ import annotations

from collections.abc import Mapping

from mmsearch.keyword import COVERAGE_FOR_CONFIDENCE
from mmsearch.planner import RRF_K, Fusion
from mmsearch.ranking import KEYWORD, Candidate, Signal


def assign_ranks(candidates: list[Candidate]) -> None:
    """Set every signal's ``rank`` among the candidates that have it."""
    names = {name for c in candidates for name in c.signals}
    for name in names:
        holders = [c for c in candidates if name in c.signals]
        holders.sort(key=lambda c: (-c.signals[name].calibrated, c.path))
        for rank, candidate in enumerate(holders, start=1):
            candidate.signals[name].rank = rank


def fuse(candidates: list[Candidate], fusion: Fusion) -> list[Candidate]:
    """Set each candidate's fused score; return them best first."""
    assign_ranks(candidates)
    for candidate in candidates:
        signals = candidate.signals.values()
        if fusion == "rrf":
            candidate.score = sum(1.0 / (RRF_K + s.rank) for s in signals if s.calibrated > 0)
        else:
            candidate.score = sum(s.calibrated for s in signals)
    return sorted(candidates, key=lambda c: (-c.score, c.path))


def signal_confident(signal: Signal, thresholds: Mapping[str, float]) -> bool:
    """Whether one signal alone makes its file a confident hit."""
    threshold = thresholds.get(signal.name)
    if threshold is None:
        return False
    if signal.calibrated < threshold:
        return False
    if signal.name == KEYWORD:
        # A rare word alone is not the query: most of the query's words must be there.
        return float(signal.detail.get("coverage", 0.0)) >= COVERAGE_FOR_CONFIDENCE
    return True


def is_confident(candidate: Candidate, thresholds: Mapping[str, float]) -> bool:
    """Whether any signal clears its threshold."""
    return any(signal_confident(s, thresholds) for s in candidate.signals.values())
