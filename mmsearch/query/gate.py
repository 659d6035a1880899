"""The confidence gate: which hits are confident, and when the best one is "probably" right.

Every signal has a threshold on the calibrated scale (see
:mod:`mmsearch.query.calibration`). A vector signal's threshold depends on the
modality of the segment that matched: each space measures, per segment modality,
how high unrelated probe queries' *best* hits score against this library, and a
hit must beat what nine in ten of them get (a ConSE photo and a transcript sit
on different scales, so one pooled bar was too high for photos and too low for
speech). The thresholds of a query are a plain mapping: ``signal`` for the
signal's default, ``signal@modality`` for a vector signal's per-modality bar, and
``signal@modality~probable`` for the lower "probable" bar.

The answer of a query with no confident hit may still be right: its rank-1 hit
is **probable** when one of its vector signals clears the probable bar of its
modality (the median of the probes' best hits: better than what half of the
unrelated queries get), or its keyword signal clears the keyword threshold with at
least half of the query's words. A probable hit is shown as "probably: ...",
marked as unsure, instead of being hidden.

A rank-1 hit under the probable bar is still probable when it **stands clear**: its vector
signal leads the best *other* file of the same modality by at least what half of the
unrelated probes' best files lead their next one by (``signal@modality~gap``, measured per
space and modality by the calibration), and it is at least
:data:`~mmsearch.query.calibration.PROBABLE_FLOOR` above the null's mean. A weak score that
no rival comes near is a better bet than a weak score in a crowd (measured in
docs/querying.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from mmsearch.query.calibration import PROBABLE_FLOOR
from mmsearch.query.keyword import COVERAGE_FOR_CONFIDENCE
from mmsearch.query.ranking import KEYWORD, Candidate, Signal

COVERAGE_FOR_PROBABLE = 0.5
PROBABLE = "~probable"
GAP = "~gap"


def modality_key(signal: str, modality: str, probable: bool = False) -> str:
    """The key of a signal's per-modality threshold in a thresholds mapping."""
    return f"{signal}@{modality}" + (PROBABLE if probable else "")


def gap_key(signal: str, modality: str) -> str:
    """The key of a vector signal's per-modality lead bar in a thresholds mapping."""
    return f"{signal}@{modality}{GAP}"


def signal_modality(candidate: Candidate, signal: Signal) -> str:
    """The modality of the segment that carries a signal's match ("" if unknown)."""
    segment = candidate.segments.get(signal.segment_id) if signal.segment_id else None
    return segment.modality if segment is not None else ""


def threshold_of(
    signal: Signal, modality: str, thresholds: Mapping[str, float], probable: bool = False
) -> float | None:
    """The bar a signal must clear: its modality's, else the signal's, else None."""
    found = thresholds.get(modality_key(signal.name, modality, probable))
    if found is not None:
        return found
    if probable and signal.name != KEYWORD:
        return None
    return thresholds.get(signal.name)


def signal_confident(signal: Signal, thresholds: Mapping[str, float], modality: str = "") -> bool:
    """Whether one signal alone makes its file a confident hit."""
    threshold = threshold_of(signal, modality, thresholds)
    if threshold is None or signal.calibrated < threshold:
        return False
    if signal.name == KEYWORD:
        return float(signal.detail.get("coverage", 0.0)) >= COVERAGE_FOR_CONFIDENCE
    return True


def is_confident(candidate: Candidate, thresholds: Mapping[str, float]) -> bool:
    """Whether any signal clears its threshold."""
    return any(
        signal_confident(s, thresholds, signal_modality(candidate, s))
        for s in candidate.signals.values()
    )


def is_probable(candidate: Candidate, thresholds: Mapping[str, float]) -> bool:
    """Whether a file that is not confident still clears a probable bar (rank 1 only)."""
    for signal in candidate.signals.values():
        bar = threshold_of(signal, signal_modality(candidate, signal), thresholds, True)
        if bar is None or signal.calibrated < bar:
            continue
        if signal.name != KEYWORD:
            return True
        if float(signal.detail.get("coverage", 0.0)) >= COVERAGE_FOR_PROBABLE:
            return True
    return False


def stands_clear(
    candidate: Candidate, others: Sequence[Candidate], thresholds: Mapping[str, float]
) -> bool:
    """Whether one of the file's vector signals leads every other file of its modality by
    the space's lead bar (see the module docstring); False where no bar or rival is known."""
    for name, signal in candidate.signals.items():
        if name == KEYWORD or signal.calibrated < PROBABLE_FLOOR:
            continue
        modality = signal_modality(candidate, signal)
        bar = thresholds.get(gap_key(name, modality))
        if bar is None:
            continue
        rivals = [
            other.signals[name].calibrated
            for other in others
            if name in other.signals and signal_modality(other, other.signals[name]) == modality
        ]
        if rivals and signal.calibrated - max(rivals) >= bar:
            return True
    return False
