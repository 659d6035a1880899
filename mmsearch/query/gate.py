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
"""

from __future__ import annotations

from collections.abc import Mapping

from mmsearch.query.keyword import COVERAGE_FOR_CONFIDENCE
from mmsearch.query.ranking import KEYWORD, Candidate, Signal

COVERAGE_FOR_PROBABLE = 0.5
PROBABLE = "~probable"


def modality_key(signal: str, modality: str, probable: bool = False) -> str:
    """The key of a signal's per-modality threshold in a thresholds mapping."""
    return f"{signal}@{modality}" + (PROBABLE if probable else "")


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
