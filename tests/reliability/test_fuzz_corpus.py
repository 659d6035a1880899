"""The hostile-file corpus, replayed every run: the kit's hostile media plus mutated files.

The kit's corpus (mmsearch.testing: empty, truncated, bit-flipped, impostor and
bomb files, symlink loops, non-UTF-8 names, damaged copies of valid samples)
and mutants of valid JPEG, PNG, WAV, PDF and MP4 (M4A) files from a fixed seed
(relkit/fuzz.py: byte flips, truncations, length fields that lie) go through
``Library.index`` with the installed extractors and the hash encoder. No file
may crash an extractor (the kit's rule: a skip or failure with a reason and a
detail saying what to do), none may hang (the engine's per-file budget is set
to a generous limit that only a hang reaches, and a whole-run guard dumps every
thread's stack if the run itself stops), and every file must be accounted for:
done in the catalog, or in the report as skipped or failed, exactly once.

By default 250 mutants; ``MMSEARCH_RELIABILITY=full`` adds a run of 2,000 others.
"""

from __future__ import annotations

import faulthandler
import os
from pathlib import Path

import pytest
from mmsearch_hash_encoder import HashEncoder
from relkit.figures import FIGURES
from relkit.fuzz import bases, mutants

from mmsearch.contracts import ExtractSettings
from mmsearch.index.indexer import IndexOptions
from mmsearch.index.pipeline import TOOK_TOO_LONG
from mmsearch.index.report import IndexReport
from mmsearch.testing.hostile import HostileRun
from mmsearch.testing.media import HostileCorpus, write_hostile_media
from mmsearch.testing.registration import installed_plugin, open_library

SEED = int(os.environ.get("MMSEARCH_RELIABILITY_SEED", "20261210"))
PER_FILE_BUDGET_S = 300.0
"""The engine's per-file budget for this run: these files take milliseconds; only a hang
gets here (then the file is skipped as "took too long", and that fails the test)."""
RUN_GUARD_S = 2400.0
"""If the run itself stops (not one file), every thread's stack is printed and pytest exits."""
INDEXABLE_BASES = ("jpeg", "png", "pdf")
"""Bases the kit also copies intact (and must index): the silent audio ones have no speech."""


def _corpus(folder: Path, count: int, seed: int) -> HostileCorpus:
    samples = folder / "samples"
    samples.mkdir(parents=True)
    paths = []
    for base in bases():
        if base.kind in INDEXABLE_BASES:
            paths.append(samples / f"valid.{base.extensions[0]}")
            paths[-1].write_bytes(base.data)
    corpus = write_hostile_media(folder / "corpus", paths)
    for relpath, data, what in mutants(count, seed):
        (corpus.root / relpath).parent.mkdir(parents=True, exist_ok=True)
        corpus.add(relpath, data, f"mutated {what}", "either")
    return corpus


def _index(corpus: HostileCorpus, db: Path) -> tuple[IndexReport, set[bytes], frozenset[str]]:
    """Index the corpus; the report, the absolute paths done, the extensions claimed."""
    plugin = installed_plugin(encoders=[HashEncoder()], with_annotators=False)
    options = IndexOptions(
        settings=ExtractSettings(max_image_megapixels=1.0),
        follow_symlinks=True,
        workers=2,
        file_timeout=PER_FILE_BUDGET_S,
    )
    faulthandler.dump_traceback_later(RUN_GUARD_S, exit=True)
    try:
        with open_library(db, plugin) as library:
            report = library.index(corpus.root, options=options)
            with library.catalog.sqlite() as conn:
                rows = conn.execute("SELECT relpath FROM items WHERE status = 'done'").fetchall()
    finally:
        faulthandler.cancel_dump_traceback_later()
    root = os.fsencode(os.path.abspath(corpus.root))
    claimed = frozenset(ext for e in plugin.extractors for ext in e.extensions)
    return report, {root + b"/" + r[0] for r in rows}, claimed


def _accounting(corpus: HostileCorpus, report: IndexReport, done: set[bytes]) -> list[str]:
    """Each corpus file done, skipped or failed: exactly one of them, exactly once."""
    reported = [p.raw_path or os.fsencode(p.path) for p in [*report.skipped, *report.failed]]
    seen = [*reported, *done]
    out = [f"{os.fsdecode(p)} is accounted for {seen.count(p)} times" for p in set(seen)
           if seen.count(p) > 1]  # fmt: skip
    files = {os.fsencode(os.path.abspath(f.path)) for f in corpus.files}
    out += [f"{os.fsdecode(p)} is not in the report nor done" for p in sorted(files - set(seen))]
    out += [f"{os.fsdecode(p)} is reported but not in the corpus" for p in set(seen) - files]
    return out


def _replay(tmp_path: Path, count: int, seed: int) -> None:
    corpus = _corpus(tmp_path, count, seed)
    report, done, claimed = _index(corpus, tmp_path / "catalog" / "catalog.db")
    crashes = HostileRun(corpus, report, claimed).problems()
    hangs = [f"{p.path}: {p.detail}" for p in report.skipped if p.reason == TOOK_TOO_LONG]
    print(f"fuzz seed {seed}: {len(corpus.files)} files, {count} mutated")
    assert crashes == [], f"seed {seed}: files that crashed an extractor or broke a rule"
    assert hangs == [], f"seed {seed}: files that hung"
    assert _accounting(corpus, report, done) == [], f"seed {seed}: files not accounted for"
    FIGURES.add("fuzz files", len(corpus.files))
    FIGURES.add("fuzz mutated", count)
    FIGURES.add("fuzz done", len(done))
    FIGURES.add("fuzz skipped", len(report.skipped))
    FIGURES.add("fuzz failed", len(report.failed))
    FIGURES.note("fuzz", str(seed))


def test_hostile_and_mutated_files_are_skipped_or_indexed_never_crash_or_hang(
    tmp_path: Path,
) -> None:
    _replay(tmp_path, count=250, seed=SEED)


@pytest.mark.reliability
def test_two_thousand_mutated_files_are_skipped_or_indexed_never_crash_or_hang(
    tmp_path: Path,
) -> None:
    _replay(tmp_path, count=2000, seed=SEED + 1)
