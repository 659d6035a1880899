"""The reliability suite: crash matrix, stateful library test, hostile-file fuzz corpus.

By default each part runs a short version (one trial per fault point, a few
dozen stateful steps, a few hundred mutated files). ``MMSEARCH_RELIABILITY=full``
(CI sets it) also runs the tests marked ``reliability``: every fault point three
times, 500+ stateful steps, 2,000+ mutated files. The figures reached are
printed at the end of the run.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from relkit import alt_encoder
from relkit.figures import FIGURES
from relkit.runs import plugin_env
from relkit.scenarios import Scenario, prepare

from mmsearch.faults import FAULT_VARIABLE
from mmsearch.plugins import Registry, load_plugins

FULL = os.environ.get("MMSEARCH_RELIABILITY", "") == "full"
SKIP_FULL = pytest.mark.skip(reason="full reliability set: run with MMSEARCH_RELIABILITY=full")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip the ``reliability``-marked tests unless the full set was asked for."""
    if FULL:
        return
    for item in items:
        if item.get_closest_marker("reliability") is not None:
            item.add_marker(SKIP_FULL)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The figures each part reached, when it ran."""
    if FIGURES:
        terminalreporter.section("reliability figures (of the tests that passed)")
        for line in FIGURES.lines():
            terminalreporter.write_line(line)


@pytest.fixture(autouse=True)
def _suite_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The hash encoder in every in-process run; no fault armed in the test process."""
    monkeypatch.delenv(FAULT_VARIABLE, raising=False)
    for name, value in plugin_env().items():
        monkeypatch.setenv(name, value)


@pytest.fixture(scope="session")
def suite_registry() -> Registry:
    """The installed plugins and the second space's encoder, as the CLI runs see them."""
    return load_plugins(alt_encoder)


@pytest.fixture(scope="session")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[str, int], Scenario]]:
    """Scenarios by (name, trial), each made once per session and shared by fault points."""
    made: dict[tuple[str, int], Scenario] = {}

    def get(name: str, trial: int) -> Scenario:
        key = (name, trial)
        if key not in made:
            folder: Path = tmp_path_factory.mktemp(f"scenario-{name}-{trial}")
            seed = zlib.crc32(name.encode()) + trial  # the same files whatever runs first
            made[key] = prepare(name, seed=seed, folder=folder)
        return made[key]

    yield get
