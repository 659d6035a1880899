"""Fusing signals into one score, and deciding which hits are confident.

Two ways, chosen per query:

- ``score``: the signals' calibrated scores combined as independent evidence
  (Fisher's method). Each calibrated score is standard deviations above its
  signal's null, so it has a tail probability; ``-2 * sum(log p)`` over the
  query's signals follows a chi-square law under the null, whose tail is
  turned back into one score on the same scale. A file that both means the
  right thing and holds the right words gets more than either alone, but one
  strong signal outweighs two middling ones (a plain sum of scores would
  not: it let a few common words in an unrelated file outrank the file that
  clearly means the query). Negative evidence (a push-down below zero) is
  subtracted as it is.
- ``rrf``: reciprocal-rank fusion, the sum of ``1 / (60 + rank)`` over the
  signals that matched; it ignores score scales entirely.

Confidence does not depend on the fusion: a hit is confident when any one
signal clears its threshold (see :mod:`mmsearch.query.gate`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from statistics import NormalDist

from mmsearch.query.names import Fusion
from mmsearch.query.planner import RRF_K
from mmsearch.query.ranking import Candidate

_NORMAL = NormalDist()


def assign_ranks(candidates: list[Candidate]) -> None:
    """Set every signal's ``rank`` among the candidates that have it."""
    names = {name for c in candidates for name in c.signals}
    for name in names:
        holders = [c for c in candidates if name in c.signals]
        holders.sort(key=lambda c: (-c.signals[name].calibrated, c.path))
        for rank, candidate in enumerate(holders, start=1):
            candidate.signals[name].rank = rank


def fuse(
    candidates: list[Candidate], fusion: Fusion, applicable: Callable[[Candidate], int]
) -> list[Candidate]:
    """Set each candidate's fused score; return them best first.

    ``applicable(candidate)`` is how many of the query's signals could have
    found that file: one that could and did not counts as chance for it, one
    that could not (the keyword signal, for a photo with no words in it) is
    left out rather than held against the file.
    """
    assign_ranks(candidates)
    for candidate in candidates:
        signals = candidate.signals.values()
        if fusion == "rrf":
            candidate.score = sum(1.0 / (RRF_K + s.rank) for s in signals if s.calibrated > 0)
        else:
            candidate.score = combine([s.calibrated for s in signals], applicable(candidate))
    return sorted(candidates, key=lambda c: (-c.score, c.path))


def combine(calibrated: Sequence[float], signal_count: int) -> float:
    """Calibrated scores of independent signals as one calibrated score (Fisher's method)."""
    count = max(signal_count, len(calibrated), 1)
    statistic = sum(-2.0 * _log_upper_tail(z) for z in calibrated)
    # A score below zero (a push-down, or a signal that matched worse than chance) also
    # counts as itself: it would otherwise vanish into a tail probability near one.
    pushed = sum(z for z in calibrated if z < 0)
    if statistic <= 0.0:
        return pushed
    half = statistic / 2.0
    # Tail of chi-square with 2 * count degrees of freedom: e^-h * sum_{i<count} h^i / i!
    terms = [i * math.log(half) - math.lgamma(i + 1) for i in range(count)]
    top = max(terms)
    log_p = -half + top + math.log(sum(math.exp(t - top) for t in terms))
    return _z_of_log_tail(min(log_p, 0.0)) + pushed


def _log_upper_tail(z: float) -> float:
    """log P(Z > z) for a standard normal Z, accurate far into the tail."""
    if z < 30.0:
        return math.log(0.5 * math.erfc(z / math.sqrt(2.0)))
    return -z * z / 2.0 - math.log(z * math.sqrt(2.0 * math.pi))


def _z_of_log_tail(log_p: float) -> float:
    """The z whose upper tail probability is exp(log_p)."""
    if log_p > -700.0:
        p = math.exp(log_p)
        if p >= 1.0:
            return 0.0
        return -_NORMAL.inv_cdf(p) if p < 0.5 else _NORMAL.inv_cdf(1.0 - p)
    # Beyond double precision: invert the tail's asymptotic form by fixed-point steps.
    z = math.sqrt(-2.0 * log_p)
    for _ in range(4):
        z = math.sqrt(max(0.0, -2.0 * log_p - 2.0 * math.log(z * math.sqrt(2.0 * math.pi))))
    return z
