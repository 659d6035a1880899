"""The confidence gate: per-modality bars, the "probable" level, and how a CLI shows it."""

from __future__ import annotations

from pathlib import Path

from mmsearch.cli.render import result_lines
from mmsearch.library import Library
from mmsearch.query.calibration import MIN_THRESHOLD, Calibration, Null
from mmsearch.query.gate import is_confident, is_probable, modality_key
from mmsearch.query.planner import SearchOptions
from mmsearch.query.ranking import KEYWORD, Candidate, SegmentMatch, Signal

VECTOR = "vector:space"


def candidate(
    modality: str, calibrated: float, keyword: tuple[float, float] | None = None
) -> Candidate:
    found = Candidate(1, "/x", modality, None)
    found.segments[7] = SegmentMatch(7, "whole", modality, None, None, None, None, None)
    found.signals[VECTOR] = Signal(VECTOR, 0.3, calibrated, segment_id=7)
    if keyword is not None:
        score, coverage = keyword
        found.signals[KEYWORD] = Signal(KEYWORD, 1.0, score, segment_id=7,
                                        detail={"coverage": coverage})  # fmt: skip
    return found


THRESHOLDS = {
    VECTOR: 3.0,
    KEYWORD: 0.84,
    modality_key(VECTOR, "image"): 2.5,
    modality_key(VECTOR, "image", True): 1.5,
    modality_key(VECTOR, "text"): 3.5,
    modality_key(VECTOR, "text", True): 2.0,
}


def test_a_vector_signal_meets_the_bar_of_its_segments_modality() -> None:
    assert is_confident(candidate("image", 2.6), THRESHOLDS)  # image bar 2.5
    assert not is_confident(candidate("text", 3.2), THRESHOLDS)  # text bar 3.5
    assert is_confident(candidate("video", 3.1), THRESHOLDS)  # unmeasured: the space's 3.0


def test_probable_is_between_the_median_and_the_confident_bar() -> None:
    assert is_probable(candidate("image", 1.6), THRESHOLDS)
    assert not is_probable(candidate("image", 1.4), THRESHOLDS)
    assert not is_probable(candidate("video", 2.9), THRESHOLDS)  # no probable bar measured


def test_a_keyword_is_probable_with_half_the_words_confident_with_most() -> None:
    half = candidate("text", 0.0, keyword=(1.0, 0.6))
    assert is_probable(half, THRESHOLDS) and not is_confident(half, THRESHOLDS)
    assert is_confident(candidate("text", 0.0, keyword=(1.0, 0.9)), THRESHOLDS)
    assert not is_probable(candidate("text", 0.0, keyword=(1.0, 0.3)), THRESHOLDS)


def test_bars_per_modality_are_quantiles_of_the_probes_best_hits() -> None:
    best = tuple(float(v) for v in range(11))  # 0..10: median 5, 90th percentile 9
    calibration = Calibration({"image": Null(0.1, 0.1, best), "text": Null(0.0, 0.1, ())}, 5)
    bars = calibration.modality_bars()
    assert bars["image"] == (9.0, 5.0)
    assert bars["text"] == (MIN_THRESHOLD, 1.0)  # nothing measured: the floors


def probable_shape() -> dict[str, object]:
    weak = {"path": "/lib/IMG_1.jpg", "score": 1.9, "confident": False, "level": "probable",
            "modality": "image", "segment": {"start": None, "end": None, "text": None},
            "why": {"signals": [{"signal": "vector:offline", "calibrated": 1.9}]}}  # fmt: skip
    return {"results": [], "plan": {"spaces": [{"label": "offline"}]}, "best_weak": weak}


def test_a_probable_answer_is_shown_as_probably_not_hidden() -> None:
    out, err = result_lines(probable_shape())
    assert out[0].startswith("probably:") and "IMG_1.jpg" in out[0]
    assert "Not confident" in err[0]


def test_a_weak_answer_is_still_no_confident_match() -> None:
    shape = probable_shape()
    shape["best_weak"]["level"] = "weak"  # type: ignore[index]
    out, err = result_lines(shape)
    assert out == [] and err[0].startswith("No confident match")


def test_min_score_turns_the_modality_bars_and_probably_off(library: Library, media: Path) -> None:
    library.index(media)
    result = library.search("zzz unrelated words", options=SearchOptions(min_score=99.0))
    assert not result.hits and (result.best_weak is None or not result.best_weak.probable)
    signals = result.best_weak.why["signals"] if result.best_weak else []
    assert all(s["threshold"] == 99.0 for s in signals)
