"""kill -9 at every named fault point of the write path, then the same command again.

Each trial starts a real ``mmsearch index`` with ``MMSEARCH_FAULT=point:hit``
(see mmsearch/faults.py), so it dies by SIGKILL at that point. Then, before
anything repairs it: SQLite's integrity and foreign-key checks pass, every
vector is finite and unit length with its space's dimension, every segment has
its keyword row, the writer lock is free, and an index file that loads as
current holds exactly SQLite's ids (and vectors). Then the same command runs to
the end, and the catalog must equal a clean index of the same files
(relkit/dump.py says what "equal" means), every index file must be current,
calibrated and alone in its folder (no temp or orphaned rows files).

Trial 0 of each point runs by default; trials 1 and 2 (other files, other hits)
are marked ``reliability`` and run with MMSEARCH_RELIABILITY=full.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from relkit.checks import after_kill_problems, index_kinds, leftover_files, library_problems
from relkit.dump import differences, dump_catalog
from relkit.figures import FIGURES
from relkit.runs import run_cli, run_killed
from relkit.scenarios import Scenario

from mmsearch.faults import POINTS
from mmsearch.plugins import Registry

TRIALS = 3

PLANS: dict[str, tuple[tuple[str, int], ...]] = {
    # point: (scenario, hit) for trials 0, 1, 2
    "mid-migration": (("fresh", 1), ("upgrade", 1), ("upgrade", 1)),
    "after-move-commit": (("changes", 1), ("changes", 2), ("changes", 3)),
    "after-remove-commit": (("changes", 1), ("changes", 1), ("approximate-rebuild", 1)),
    "mid-batch-transaction": (("fresh", 1), ("changes", 2), ("fresh", 3)),
    "after-catalog-commit": (("fresh", 2), ("changes", 1), ("changes", 3)),
    "after-backfill-commit": (("new-space", 1), ("new-space", 2), ("new-space", 3)),
    "cache-temp-written": (("changes", 1), ("fresh", 1), ("approximate", 2)),
    "cache-replaced": (("changes", 1), ("fresh", 1), ("approximate", 2)),
    "ann-rows-written": (("approximate", 1), ("approximate-rebuild", 1), ("approximate", 1)),
    "ann-file-written": (("approximate", 1), ("approximate-rebuild", 1), ("approximate", 1)),
    # A calibration is measured again only when the count moved by a fifth: not every change.
    "calibration-measured": (("fresh", 1), ("new-space", 1), ("approximate-rebuild", 1)),
    "before-activate": (("new-space", 1), ("new-space", 1), ("new-space", 1)),
}


def _cases() -> list[object]:
    cases = []
    for point, plan in PLANS.items():
        for trial, (name, hit) in enumerate(plan):
            marks = [pytest.mark.reliability] if trial else []
            case_id = f"{point}-{trial}-{name}-hit{hit}"
            cases.append(pytest.param(point, trial, name, hit, id=case_id, marks=marks))
    return cases


def test_every_fault_point_has_a_plan_of_three_trials() -> None:
    assert set(PLANS) == set(POINTS)
    assert all(len(plan) == TRIALS for plan in PLANS.values())


@pytest.mark.parametrize(("point", "trial", "name", "hit"), _cases())
def test_kill_at_fault_point_then_rerun_matches_a_clean_index(
    point: str,
    trial: int,
    name: str,
    hit: int,
    scenario: Callable[[str, int], Scenario],
    suite_registry: Registry,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    chosen = scenario(name, trial)
    for variable, value in chosen.env.items():
        monkeypatch.setenv(variable, value)
    db = tmp_path / "catalog" / "catalog.db"
    chosen.start_catalog(db)
    args = chosen.args(db)

    killed = run_killed(args, f"{point}:{hit}", chosen.env, tmp_path / "logs")
    assert killed.killed, (
        f"the {name} scenario never reached {point} (hit {hit}): exit {killed.returncode}\n"
        f"{killed.stderr}"
    )
    assert after_kill_problems(db) == []

    run_cli(args, chosen.env)
    assert library_problems(db, suite_registry) == []
    assert chosen.reference_db is not None
    assert index_kinds(db, suite_registry) == index_kinds(chosen.reference_db, suite_registry)
    diverged = differences(dump_catalog(db), chosen.reference)
    if diverged:
        FIGURES.add("divergent catalogs")
    assert diverged == [], "the rerun's catalog differs from a clean index of the same files"
    FIGURES.add("crash trials")
    FIGURES.points.add(point)
    assert leftover_files(db) == [], "files left beside the catalog after the rerun"
