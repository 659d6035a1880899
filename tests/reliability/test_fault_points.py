"""The fault hook itself: every named point is in the write path once, kills on its Nth hit,
refuses names it does not know, does nothing when unset, and is documented."""

from __future__ import annotations

import ast
import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from mmsearch import faults
from mmsearch.faults import FAULT_VARIABLE, POINTS, fault_point

REPO = Path(__file__).resolve().parents[2]
SOURCES = ("mmsearch", "migrations")


def _calls() -> Counter[str]:
    """The names passed to fault_point(...) anywhere in the engine's source."""
    found: Counter[str] = Counter()
    for folder in SOURCES:
        for path in sorted((REPO / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_bytes(), filename=str(path))):
                if (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Name)
                    and node.func.id == "fault_point"
                ):
                    arg = node.args[0]
                    assert isinstance(arg, ast.Constant), f"{path}: a fault point needs a literal"
                    found[str(arg.value)] += 1
    return found


def test_every_fault_point_is_called_exactly_once_in_the_write_path() -> None:
    assert _calls() == Counter(dict.fromkeys(POINTS, 1))


def test_a_fault_point_kills_the_process_on_its_nth_hit_only() -> None:
    script = (
        "from mmsearch.faults import fault_point\n"
        "for i in range(5):\n"
        "    print(i, flush=True)\n"
        "    fault_point('cache-replaced')\n"
        "    fault_point('after-catalog-commit')\n"
    )
    env = {**os.environ, FAULT_VARIABLE: "after-catalog-commit:3"}
    run = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300
    )
    assert run.returncode == -signal.SIGKILL
    assert run.stdout.split() == ["0", "1", "2"]
    assert "fault point after-catalog-commit (hit 3): SIGKILL" in run.stderr


@pytest.mark.parametrize("raw", ["nosuch", "after-catalog-commit:0", "after-catalog-commit:x"])
def test_a_fault_that_names_no_point_or_no_hit_is_refused_saying_which_exist(raw: str) -> None:
    with pytest.raises(ValueError, match=f"{FAULT_VARIABLE}=") as refused:
        faults._parse(raw)
    if raw == "nosuch":
        assert all(name in str(refused.value) for name in POINTS)


def test_without_the_variable_every_fault_point_does_nothing() -> None:
    assert faults._TARGET is None  # the suite's conftest keeps it unset here
    for name in POINTS:
        fault_point(name)


def test_the_reliability_docs_list_every_fault_point() -> None:
    docs = (REPO / "docs" / "reliability.md").read_text()
    missing = [name for name in POINTS if f"`{name}`" not in docs]
    assert missing == []
