"""Score fusion and calibration arithmetic: Fisher's combination, keyword scores, staleness."""

from __future__ import annotations

import math

import pytest

from mmsearch.query.calibration import MIN_THRESHOLD, Calibration, Null, keyword_calibrated
from mmsearch.query.fusion import combine


@pytest.mark.parametrize("z", [0.5, 1.0, 2.5, 6.0, 12.0])
def test_one_signal_alone_keeps_its_calibrated_score(z: float) -> None:
    assert combine([z], 1) == pytest.approx(z, abs=1e-6)


def test_one_strong_signal_beats_two_middling_ones() -> None:
    # A plain sum would rank 4 + 3 = 7 above 6.5; independent evidence does not.
    assert combine([6.5], 2) > combine([4.0, 3.0], 2)


def test_two_agreeing_signals_beat_either_alone() -> None:
    assert combine([4.0, 3.0], 2) > combine([4.0], 2) > combine([3.0], 2)


def test_a_signal_that_found_nothing_counts_as_chance() -> None:
    # The same vector score, with and without a keyword signal that could have matched.
    assert combine([5.0], 2) < combine([5.0], 1)


def test_negative_evidence_is_subtracted() -> None:
    # The push-down counts as itself (its tail probability adds almost nothing).
    assert combine([7.0, -2.0], 2) == pytest.approx(combine([7.0], 2) - 2.0, abs=0.05)


def test_far_tail_scores_stay_finite_and_ordered() -> None:
    high = combine([45.0], 1)
    assert math.isfinite(high) and high == pytest.approx(45.0, rel=1e-3)
    assert combine([45.0, 5.0], 2) > combine([45.0], 2)


def test_keyword_score_is_the_normal_quantile_of_the_chance_of_a_match() -> None:
    assert keyword_calibrated(1 / 20) == pytest.approx(1.6449, abs=1e-3)
    assert keyword_calibrated(1 / 1000) == pytest.approx(3.0902, abs=1e-3)
    assert keyword_calibrated(0.6) == 0.0


def test_calibration_is_per_modality_and_round_trips() -> None:
    calibration = Calibration(
        nulls={"text": Null(0.1, 0.05, (2.0, 3.0)), "image": Null(0.2, 0.01, (1.0, 4.0))},
        vectors=100,
    )
    scores = calibration.calibrate([0.2, 0.2], ["text", "image"])
    assert scores.tolist() == pytest.approx([2.0, 0.0])
    assert Calibration.from_json(calibration.to_json()) == calibration
    assert calibration.threshold(0.5) == pytest.approx(2.5)


def test_calibration_goes_stale_when_the_space_grows_by_a_fifth() -> None:
    calibration = Calibration(nulls={}, vectors=100)
    assert not calibration.stale(119) and calibration.stale(121) and calibration.stale(79)
    assert calibration.threshold() == MIN_THRESHOLD


def test_an_unreadable_stored_calibration_is_measured_again() -> None:
    assert Calibration.from_json("{not json") is None
    assert Calibration.from_json('{"version": 1, "mean": 0}') is None


@pytest.mark.parametrize("count", [1, 2, 3])
def test_the_fused_score_rises_with_every_signal(count: int) -> None:
    steps = [z / 4 for z in range(-16, 40)]
    fused = [combine([z], count) for z in steps]
    assert fused == sorted(fused) and len(set(fused)) == len(fused)
    with_other = [combine([z, 1.5], count) for z in steps]
    assert with_other == sorted(with_other)
