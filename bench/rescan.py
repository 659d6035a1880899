"""Benchmark: re-scanning an unchanged tree of many tiny files.

Generates ``--files`` tiny ``.txt`` files spread over ``--dirs`` folders in a
temporary folder, indexes them once with :class:`mmsearch.Library` (the
``hash`` encoder, chosen with ``encoder="hash"``: real models would make the
first index take hours and do not change what a re-scan does), then times
``lib.index(root)`` on the unchanged tree several times and checks that every
file was reported unchanged. It also times the pieces a re-scan is made of, so
a reader sees where the time goes.

Target: a re-scan of 100,000 unchanged files in under 5 s.

This is not a test: it prints figures. Run from the repository root:

    .venv/bin/python bench/rescan.py               # 100,000 files, ~2 minutes
    .venv/bin/python bench/rescan.py --files 2000  # smoke run
"""

from __future__ import annotations

import argparse
import cProfile
import datetime
import io
import os
import platform
import pstats
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import faiss

from mmsearch import IndexOptions, Library
from mmsearch.index.report import IndexReport
from mmsearch.index.scanner import Scanner
from mmsearch.store.locations import index_folder

T = TypeVar("T")
_WORDS = ("alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india")
TARGET_SECONDS = 5.0
TARGET_FILES = 100_000


def timed(fn: Callable[[], T]) -> tuple[T, float]:
    """``fn()`` and the seconds it took."""
    started = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - started


def make_tree(root: Path, files: int, dirs: int, seed: int) -> None:
    """``files`` text files of 1-20 bytes, spread evenly over ``dirs`` folders.

    Each file holds one word (so the hash encoder never sees two tokens cancel
    out into an all-zero vector, which it rejects).
    """
    rng = random.Random(seed)
    folders = [root / f"d{i // 100:03d}" / f"f{i:04d}" for i in range(dirs)]
    for folder in folders:
        folder.mkdir(parents=True)
    for i in range(files):
        text = f"{rng.choice(_WORDS)}{i}"[: rng.randint(1, 20)]
        (folders[i % dirs] / f"n{i:06d}.txt").write_bytes(text.encode())


def check_unchanged(report: IndexReport, files: int) -> None:
    """Fail loudly if a re-scan did anything but find every file unchanged."""
    problems = []
    if report.unchanged != files:
        problems.append(f"unchanged={report.unchanged}, expected {files}")
    for name in ("indexed", "moved", "removed", "segments"):
        if getattr(report, name):
            problems.append(f"{name}={getattr(report, name)}, expected 0")
    if report.skipped or report.failed:
        problems.append(f"skipped={len(report.skipped)} failed={len(report.failed)}")
    if problems:
        sys.exit("re-scan did not see an unchanged tree: " + "; ".join(problems))


def breakdown(lib: Library, root: Path) -> list[tuple[str, float]]:
    """Time, one by one, the steps ``lib.index`` takes on an unchanged tree."""
    root_b = os.fsencode(root)
    space = lib.catalog.active_space()
    assert space is not None
    steps: list[tuple[str, float]] = []

    _, t = timed(lambda: Library.open(lib.db_path).close())
    steps.append(("Library.open (load plugins, engine, migration check)", t))
    scan, t = timed(lambda: Scanner(root_b, exclude=lib._own_files()).scan())
    steps.append((f"scan only: Scanner.scan ({len(scan.files)} files)", t))
    root_id, t = timed(lambda: lib.catalog.ensure_root(root_b, str(root)))
    steps.append(("catalog.ensure_root", t))
    known, t = timed(lambda: lib.catalog.known_items(root_id))
    steps.append((f"catalog.known_items ({len(known)} rows)", t))

    missing_space = getattr(lib.catalog, "items_missing_space", None)
    if missing_space is not None:  # RootIndexer._plan asks which items lack the run's space
        missing, t = timed(lambda: missing_space(space.id, root_id))
        steps.append((f"catalog.items_missing_space ({len(missing)} items)", t))

    def compare() -> int:
        # The loop RootIndexer._plan runs: pop each scanned file's row, compare size and mtime.
        pending = dict(known)
        unchanged = 0
        for scanned in scan.files:
            item = pending.pop(scanned.relpath, None)
            if item is not None and (item.size, item.mtime_ns) == (scanned.size, scanned.mtime_ns):
                unchanged += 1
        return unchanged

    unchanged, t = timed(compare)
    steps.append((f"compare scan with catalog rows ({unchanged} unchanged)", t))

    fresh = Library.open(lib.db_path)
    try:
        store, t = timed(lambda: fresh.store(space))
        steps.append((f"load FAISS cache from disk ({store.ntotal} vectors, fresh Library)", t))
        state, t = timed(lambda: lib.catalog.space_state(space.id))
        steps.append(("catalog.space_state (generation + COUNT(*) of vectors)", t))
        _, t = timed(lambda: store.save(state[0]))
        steps.append(("save FAISS cache to disk (FaissStore.save, done after every run)", t))
    finally:
        fresh.close()
    return steps


def verdict(median: float, files: int) -> str:
    """The target's verdict, said only for a run of the size the target is for."""
    if files != TARGET_FILES:
        return f" (the target, < {TARGET_SECONDS:.0f}s, is for {TARGET_FILES:,} files: not judged)"
    met = "OK" if median < TARGET_SECONDS else "MISSED"
    return f" (target < {TARGET_SECONDS:.0f}s for {TARGET_FILES:,} files: {met})"


def profile_rescan(lib: Library, root: Path, top: int) -> str:
    """cProfile of one warm re-scan, top functions by cumulative time."""
    profiler = cProfile.Profile()
    profiler.enable()
    lib.index(root)
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(top)
    return out.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=TARGET_FILES, help="files to generate")
    parser.add_argument(
        "--dirs",
        type=int,
        default=None,
        help="folders to spread them over (default: files/100, at least 1)",
    )
    parser.add_argument("--runs", type=int, default=3, help="timed re-scans")
    parser.add_argument(
        "--commit-every",
        type=int,
        default=1000,
        help="files per transaction for the first index (CLI --batch-size); "
        "only speeds up seeding, re-scans commit nothing",
    )
    parser.add_argument(
        "--encoder",
        default="hash",
        help="encoder of the first index (default: hash, the deterministic one that needs no "
        "weights; '' lets the library pick its default, which may be a real model)",
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--workdir",
        type=Path,
        default=None,
        help="where to create the temp folder (default: system temp)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temp folder")
    parser.add_argument(
        "--profile",
        type=int,
        default=0,
        metavar="N",
        help="also print a cProfile of one re-scan, top N functions",
    )
    args = parser.parse_args()
    dirs = args.dirs or max(1, args.files // 100)
    started = time.perf_counter()

    print(f"mmsearch rescan benchmark, {datetime.datetime.now():%Y-%m-%d %H:%M}")
    print(
        f"python {platform.python_version()}, {os.cpu_count()} CPUs, "
        f"faiss {faiss.__version__}, {platform.platform()}, "
        f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    tmp = Path(tempfile.mkdtemp(prefix="mmsearch-bench-", dir=args.workdir))
    root, db = tmp / "tree", tmp / "catalog.db"
    try:
        _, t = timed(lambda: make_tree(root, args.files, dirs, args.seed))
        print(f"generated {args.files} files in {dirs} folders under {tmp} in {t:.1f}s")

        with Library.open(db) as lib:
            first, t = timed(
                lambda: lib.index(
                    root,
                    encoder=args.encoder or None,
                    options=IndexOptions(commit_every=args.commit_every),
                )
            )
            print(
                f"first index: {first.indexed} indexed, {first.segments} segments, "
                f"{len(first.skipped)} skipped, {len(first.failed)} failed in {t:.1f}s "
                f"({first.indexed / t:.0f} files/s; space {first.space}, "
                f"commit_every={args.commit_every})"
            )
            if first.indexed != args.files:
                sys.exit(f"first index indexed {first.indexed} of {args.files} files")
            size = sum(f.stat().st_size for f in [db, *index_folder(db).iterdir()])
            print(f"catalog + FAISS cache on disk: {size / 1e6:.0f} MB")

            print(f"\nre-scan of the unchanged tree, same Library object, {args.runs} runs:")
            warm = []
            for run in range(1, args.runs + 1):
                report, t = timed(lambda: lib.index(root))
                check_unchanged(report, args.files)
                warm.append(t)
                print(
                    f"  run {run}: {t:.3f}s  ({args.files / t:,.0f} files/s, "
                    f"{report.unchanged} unchanged)"
                )

            print(
                f"\nre-scan with a fresh Library.open each time (what one `mmsearch index` "
                f"process does, minus imports), {args.runs} runs:"
            )
            cold = []
            for run in range(1, args.runs + 1):

                def fresh_index() -> IndexReport:
                    with Library.open(db) as other:
                        return other.index(root)

                report, t = timed(fresh_index)
                check_unchanged(report, args.files)
                cold.append(t)
                print(
                    f"  run {run}: {t:.3f}s  ({args.files / t:,.0f} files/s, "
                    f"{report.unchanged} unchanged)"
                )

            print("\nwhere the time goes (each step timed once, on its own):")
            steps = breakdown(lib, root)
            for label, t in steps:
                print(f"  {t:7.3f}s  {label}")
            total = sum(t for _, t in steps)
            print(f"  {total:7.3f}s  sum of the steps (compare with a fresh re-scan)")

            print("\nsummary:")
            for label, times in (("same Library ", warm), ("fresh Library", cold)):
                median = statistics.median(times)
                print(
                    f"  re-scan {label}: median {median:.3f}s, "
                    f"{args.files / median:,.0f} files/s{verdict(median, args.files)}"
                )
            print("  all re-scans reported every file unchanged: yes")
            print(f"  load average now: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")

            if args.profile:
                print(
                    f"\ncProfile of one re-scan (same Library), top {args.profile} "
                    "by cumulative time:"
                )
                print(profile_rescan(lib, root, args.profile))
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
        print(f"benchmark wall time, all steps: {time.perf_counter() - started:.0f}s")


if __name__ == "__main__":
    main()
