"""A library driven through random histories: file changes, index runs, queries, kills,
damaged caches and reopenings (a Hypothesis ``RuleBasedStateMachine``).

The machine keeps a model of the folder (every note's path and bytes) and checks,
after every step: SQLite's integrity, vectors finite and unit length, an index
file that loads as current holds exactly SQLite's ids and vectors, and the
library's index for the active space holds SQLite's ids. After every index run
that finished, the catalog must equal a clean index of the files now on disk
(relkit/dump.py); while it is up to date, a query for a note's own words must
find that note.

Runs are seeded (``MMSEARCH_RELIABILITY_SEED``, printed on failure) and
Hypothesis keeps no example database, so a run is the same on every machine.
The default run takes about ninety steps; ``MMSEARCH_RELIABILITY=full`` adds the
``reliability`` run of 500+ steps.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections import Counter
from pathlib import Path
from typing import ClassVar

import pytest
from crashes import sql_ids
from hypothesis import HealthCheck, Phase, seed, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    get_state_machine_test,
    invariant,
    precondition,
    rule,
)
from relkit import alt_encoder
from relkit.checks import cache_problems, catalog_problems
from relkit.dump import differences, dump_catalog
from relkit.figures import FIGURES
from relkit.media import FOLDERS, VOCABULARY, Media
from relkit.runs import index_args, run_cli, run_killed

from mmsearch import Library
from mmsearch.plugins import Registry, load_plugins
from mmsearch.store.locations import index_folder

SEED = int(os.environ.get("MMSEARCH_RELIABILITY_SEED", "20261210"))
KILL_POINTS = (
    "mid-migration",
    "after-move-commit",
    "after-remove-commit",
    "mid-batch-transaction",
    "after-catalog-commit",
    "cache-temp-written",
    "cache-replaced",
    "calibration-measured",
)
"""The points a plain index run can reach (the others need a second space or a large one)."""

FAULTS = st.none() | st.tuples(st.sampled_from(KILL_POINTS), st.sampled_from([1, 1, 1, 2]))
"""No fault, or a fault point and its hit (mostly the first)."""
WORDS = st.lists(st.sampled_from(VOCABULARY), min_size=3, max_size=8, unique=True)


class LibraryMachine(RuleBasedStateMachine):
    """One folder, one catalog, and a model of what the folder holds."""

    registry: ClassVar[Registry | None] = None
    steps: ClassVar[Counter[str]] = Counter()

    def __init__(self) -> None:
        super().__init__()
        self.work = Path(tempfile.mkdtemp(prefix="mmsearch-stateful-"))
        self.media = Media.create(self.work / "media", seed=0)
        self.db = self.work / "catalog" / "catalog.db"
        self.lib: Library | None = None
        self.synced = False
        """Whether an index run finished after the folder last changed."""
        self.names = 0
        LibraryMachine.steps["runs"] += 1

    # -- helpers ---------------------------------------------------------------

    def _count(self, kind: str) -> None:
        LibraryMachine.steps["steps"] += 1
        LibraryMachine.steps[kind] += 1

    def _library(self) -> Library:
        if self.lib is None:
            assert LibraryMachine.registry is not None
            self.lib = Library.open(self.db, registry=LibraryMachine.registry)
        return self.lib

    def _close(self) -> None:
        if self.lib is not None:
            self.lib.close()
            self.lib = None

    def _name(self, folder: str) -> str:
        self.names += 1
        return f"{folder}h{self.names:04d}.txt"

    def _changed(self) -> None:
        self.synced = False

    def _finished_run(self) -> None:
        """An index run got to the end: the catalog must be a clean index of the folder."""
        self.synced = True
        reference = self.work / f"reference-{self.names}-{self.media.serial}" / "catalog.db"
        run_cli(index_args(reference, self.media.root))
        diverged = differences(dump_catalog(self.db), dump_catalog(reference))
        shutil.rmtree(reference.parent)
        assert diverged == [], "after a finished run the catalog differs from a clean index"

    # -- the folder ---------------------------------------------------------------

    @rule(folder=st.sampled_from(FOLDERS), words=WORDS)
    def add_note(self, folder: str, words: list[str]) -> None:
        self._count("add")
        self.media.write(self._name(folder), self.media.note(words))
        self._changed()

    @precondition(lambda self: self.media.files)
    @rule(data=st.data(), words=WORDS)
    def modify_note(self, data: st.DataObject, words: list[str]) -> None:
        self._count("modify")
        name = data.draw(st.sampled_from(sorted(self.media.files)), label="note")
        self.media.write(name, self.media.note(words))
        self._changed()

    @precondition(lambda self: self.media.files)
    @rule(data=st.data(), folder=st.sampled_from(FOLDERS))
    def move_note(self, data: st.DataObject, folder: str) -> None:
        self._count("move")
        name = data.draw(st.sampled_from(sorted(self.media.files)), label="note")
        self.media.move(name, self._name(folder))
        self._changed()

    # Never the last one: a root that empties while it has entries is refused by design
    # (index/rootguard.py: "root unavailable, nothing removed"), which is not this test's model.
    @precondition(lambda self: len(self.media.files) > 1)
    @rule(data=st.data())
    def delete_note(self, data: st.DataObject) -> None:
        self._count("delete")
        self.media.delete(data.draw(st.sampled_from(sorted(self.media.files)), label="note"))
        self._changed()

    # -- runs ----------------------------------------------------------------------

    @rule(batch=st.sampled_from([1, 3, 64]), fault=FAULTS)
    def index(self, batch: int, fault: tuple[str, int] | None) -> None:
        """Index to the end in-process, or in a subprocess killed at a fault point.

        A kill is tried only when there is work to do: a run with none reaches few points.
        """
        args = index_args(self.db, self.media.root, ["--batch-size", str(batch)])
        if fault is not None and not self.synced:
            self._count("kill")
            run = run_killed(args, "{}:{}".format(*fault), {}, self.work / "logs")
            if run.killed:
                LibraryMachine.steps["killed"] += 1
                return
            assert run.returncode == 0, f"a run with a fault armed failed:\n{run.stderr}"
        else:
            self._count("index")
            run_cli(args)  # a second open in this process while the machine's own stays open
        self._finished_run()

    @precondition(lambda self: self.synced and self.media.files)
    @rule(data=st.data(), reopen=st.booleans())
    def query_own_words(self, data: st.DataObject, reopen: bool) -> None:
        self._count("query")
        if reopen:
            self._close()  # a fresh process's view: indexes loaded from their files
        name = data.draw(st.sampled_from(sorted(self.media.files)), label="note")
        words = self.media.files[name].decode()
        hits = self._library().query(words, k=5)
        wanted = os.fsdecode(self.media.root / name)
        assert wanted in [h.path for h in hits], f"a query for {name}'s own words missed it"

    # -- the cache and the process -------------------------------------------------------

    @precondition(lambda self: any(index_folder(self.db).glob("space-*.faiss")))
    @rule(data=st.data(), how=st.sampled_from(["truncate", "flip", "empty"]))
    def damage_cache(self, data: st.DataObject, how: str) -> None:
        self._count("damage")
        self._close()  # so the next look loads the damaged file instead of a cached index
        path = sorted(index_folder(self.db).glob("space-*.faiss"))[0]
        raw = bytearray(path.read_bytes())
        # A share of the length, not an offset: the file's length is not the same on every
        # replay (its header holds timings), and Hypothesis must draw the same way each time.
        share = data.draw(st.integers(0, 9_999), label="where, in ten-thousandths")
        where = share * len(raw) // 10_000
        if how == "truncate":
            del raw[where:]
        elif how == "flip" and raw:
            raw[where] ^= 1 << data.draw(st.integers(0, 7), label="bit")
        else:
            raw.clear()
        path.write_bytes(bytes(raw))

    # -- invariants --------------------------------------------------------------------

    @invariant()
    def catalog_and_caches_agree(self) -> None:
        if not self.db.exists():
            return
        assert catalog_problems(self.db) == []
        assert cache_problems(self.db) == []
        lib = self._library()
        space = lib.catalog.active_space()
        if space is not None:
            assert lib.store(space).ids() == sql_ids(self.db, space.id)

    def teardown(self) -> None:
        self._close()
        shutil.rmtree(self.work, ignore_errors=True)


def _run(runs: int, steps: int, seed_value: int) -> Counter[str]:
    LibraryMachine.registry = load_plugins(alt_encoder)
    LibraryMachine.steps = Counter()
    chosen = settings(
        max_examples=runs,
        stateful_step_count=steps,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.generate, Phase.shrink],
        print_blob=True,
    )
    test = seed(seed_value)(get_state_machine_test(LibraryMachine, settings=chosen))
    print(f"stateful seed {seed_value} (MMSEARCH_RELIABILITY_SEED={seed_value} repeats it)")
    try:
        test()
    except BaseException as exc:
        exc.add_note(f"stateful seed {seed_value} (from MMSEARCH_RELIABILITY_SEED={SEED})")
        raise
    counted = LibraryMachine.steps
    for kind, key in (
        ("steps", "steps"),
        ("runs", "runs"),
        ("kill", "kills"),
        ("index", "indexes"),
        ("killed", "killed"),
    ):
        FIGURES.add(f"stateful {key}", counted[kind])
    FIGURES.note("stateful", str(seed_value))
    return counted


def test_random_histories_keep_the_catalog_and_its_caches_right() -> None:
    counted = _run(runs=6, steps=15, seed_value=SEED)
    assert counted["steps"] >= 60, counted


@pytest.mark.reliability
def test_five_hundred_random_steps_keep_the_catalog_and_its_caches_right() -> None:
    counted = _run(runs=12, steps=50, seed_value=SEED + 1)
    assert counted["steps"] >= 500, counted
