"""The confidence gate: per-modality bars, the "probable" level, and how a CLI shows it."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import numpy as np

from mmsearch.cli.render import result_lines
from mmsearch.library import Library
from mmsearch.query.calibration import MIN_THRESHOLD, Calibration, Null, measure
from mmsearch.query.gate import gap_key, is_confident, is_probable, modality_key, stands_clear
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


GAPS = {**THRESHOLDS, gap_key(VECTOR, "image"): 0.4}


def test_a_weak_best_file_far_ahead_of_the_next_stands_clear() -> None:
    """Lead bar 0.4 for images: 1.3 over a rival at 0.8 (lead 0.5) stands clear."""
    best, rival = candidate("image", 1.3), candidate("image", 0.8)
    assert not is_probable(best, GAPS)  # under the probable bar 1.5
    assert stands_clear(best, [rival, candidate("text", 1.29)], GAPS)  # a text is no rival
    assert not stands_clear(best, [candidate("image", 1.0)], GAPS)  # lead 0.3 < 0.4
    assert not stands_clear(candidate("image", 0.9), [rival], GAPS)  # under the 1.0 floor
    assert not stands_clear(best, [rival], THRESHOLDS)  # no lead bar measured
    assert not stands_clear(best, [], GAPS)  # no rival: nothing to stand clear of


def test_the_lead_bar_is_the_median_lead_of_the_probes_best_file() -> None:
    calibration = Calibration({"image": Null(0.0, 0.5, (1.0,), (0.1, 0.2, 0.6))}, 3)
    assert calibration.gap_bar("image") == 0.2
    assert Calibration({"image": Null(0.0, 0.5, (1.0,))}, 3).gap_bar("image") is None


class _Index:
    """A vector index of four segments: 1 and 2 of file 10, 3 of file 20, 4 of file 30."""

    ntotal = 4
    rows: ClassVar[dict[int, list[float]]] = {
        1: [1.0, 0.0],
        2: [0.9, 0.1],
        3: [0.6, 0.8],
        4: [0.0, 1.0],
    }

    def search(self, query: np.ndarray, k: int, allowed: object = None) -> tuple[
        np.ndarray, np.ndarray
    ]:  # fmt: skip
        ids = np.array(sorted(self.rows, key=lambda i: -float(np.dot(self.rows[i], query))))[:k]
        return ids, np.array([float(np.dot(self.rows[i], query)) for i in ids], dtype=np.float32)


def test_a_probes_lead_is_over_another_file_not_its_own_next_segment() -> None:
    """Probe (1, 0): best segment 1 (file 10, 1.0); segment 2 is the same file (0.9); the
    rival is segment 3 of file 20 (0.6): lead 0.4 raw, 0.4 / std calibrated."""
    index = _Index()
    files = {1: 10, 2: 10, 3: 20, 4: 30}
    probes = np.array([[1.0, 0.0]], dtype=np.float32)
    ids = {"image": np.array([1, 2, 3, 4], dtype=np.int64)}
    rows = np.array([index.rows[i] for i in (1, 2, 3, 4)], dtype=np.float32)
    calibration = measure(index, probes, ids, lambda _: rows,  # type: ignore[arg-type]
                          lambda segs: {s: files[s] for s in segs})  # fmt: skip
    null = calibration.nulls["image"]
    assert len(null.probe_gap) == 1 and abs(null.probe_gap[0] - 0.4 / null.std) < 1e-5
    without = measure(index, probes, ids, lambda _: rows)  # type: ignore[arg-type]
    assert without.nulls["image"].probe_gap == ()
    assert without.nulls["image"].probe_best == null.probe_best


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


def test_an_indexed_library_measures_the_leads_and_the_plan_shows_them(
    library: Library, media: Path
) -> None:
    """Three texts, two images: each modality's probes have a rival file, so a lead bar."""
    library.index(media)
    plan = library.search("a red car").plan
    gaps = dict(plan.spaces[0].gaps)
    assert set(gaps) == {"image", "text"} and all(g >= 0 for g in gaps.values())
    shown = plan.to_json()["spaces"][0]["by_modality"]
    assert {m: shown[m]["gap"] for m in gaps} == {m: round(g, 4) for m, g in gaps.items()}
    assert "leading the next text file by" in plan.describe()
