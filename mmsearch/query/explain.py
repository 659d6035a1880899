"""Why a hit came back: the ``why`` of ``--json``, and the short form of plain output."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mmsearch.query.gate import signal_confident, signal_modality, threshold_of
from mmsearch.query.ranking import KEYWORD, Candidate, SegmentMatch, Signal

SNIPPET_CHARS = 160


def snippet(text: str | None, limit: int = SNIPPET_CHARS) -> str | None:
    """The text on one line, cut at ``limit`` characters."""
    if not text:
        return None
    words = " ".join(text.split())
    return words if len(words) <= limit else words[: limit - 3].rstrip() + "..."


def _where(segment: SegmentMatch | None) -> dict[str, Any] | None:
    if segment is None:
        return None
    return {
        "segment_id": segment.segment_id,
        "kind": segment.kind,
        "start": segment.start,
        "end": segment.end,
        "text": snippet(segment.text),
    }


def _signal_json(
    candidate: Candidate, signal: Signal, thresholds: Mapping[str, float]
) -> dict[str, Any]:
    segment = candidate.segments.get(signal.segment_id) if signal.segment_id else None
    modality = signal_modality(candidate, signal)
    threshold = threshold_of(signal, modality, thresholds)
    out: dict[str, Any] = {
        "signal": signal.name,
        "calibrated": round(signal.calibrated, 3),
        "raw": round(signal.raw, 4),
        "rank": signal.rank,
        "threshold": round(threshold, 3) if threshold is not None else None,
        "cleared": signal_confident(signal, thresholds, modality),
        "where": _where(segment),
    }
    out.update(signal.detail)
    return out


def build_why(
    candidate: Candidate, thresholds: Mapping[str, float], fusion: str, confident: bool
) -> dict[str, Any]:
    """The explanation of one hit, as plain data."""
    signals = sorted(candidate.signals.values(), key=lambda s: -s.calibrated)
    keyword = candidate.signals.get(KEYWORD)
    return {
        "score": round(candidate.score, 6),
        "fusion": fusion,
        "confident": confident,
        "signals": [_signal_json(candidate, s, thresholds) for s in signals],
        "matched_words": list(keyword.detail.get("matched", [])) if keyword else [],
        "moment": _where(candidate.best_segment()),
        "pushed_down": list(candidate.pushed_down),
        "copies": list(candidate.copies),
        "notes": list(candidate.notes),
    }
