"""Benchmark: what a query costs beyond encoding it.

Builds a catalog of ``--vectors`` random L2-normalised float32 vectors of
``--dim`` dimensions in one space, written through the real catalog code
(``Catalog.write_items``, in large batches) under a tiny encoder plugin
registered with ``load_plugins``; the FAISS index is then rebuilt from the
catalog by ``Library.store``, as the engine does. Then it times, over the same
precomputed random query vectors:

- raw FAISS: ``FaissStore.search`` for the ``k * 8`` candidates a query fetches;
- SQL resolve: ``QueryRunner._resolve`` of those candidates alone;
- full search: ``QueryRunner.search`` (FAISS + SQL resolve + one hit per file),
  unfiltered, with ``media_type`` filters and with a ``within`` folder filter;
- ``Library.query``: the whole public call with an almost free encoder, and
  the encoder alone, so "overhead beyond encoding" is their difference.

Target: p50 of the full search under 20 ms for 100,000 x 512 vectors.

This is not a test: it prints figures. Run from the repository root:

    .venv/bin/python bench/query_overhead.py                  # 100,000 x 512, ~2 minutes
    .venv/bin/python bench/query_overhead.py --vectors 5000   # smoke run
"""

from __future__ import annotations

import argparse
import cProfile
import datetime
import hashlib
import importlib.metadata
import io
import os
import platform
import pstats
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar

import faiss
import numpy as np
import numpy.typing as npt

from mmsearch import Encoder, Extractor, Library, Modality, hookimpl
from mmsearch.catalog.catalog import ItemRecord, NewSegment
from mmsearch.plugins import load_plugins
from mmsearch.query import _OVERSAMPLE, QueryRunner
from mmsearch.vectorstore import FaissStore, FloatArray, IdArray

TARGET_MS = 20.0
ROOT = b"/bench/corpus"
# Share of items of each media type: an unfiltered query sees mostly images,
# a "text" filter keeps 10% of candidates and an "audio" filter 1%.
MEDIA_MIX = {"image": 0.89, "text": 0.10, "audio": 0.01}


class BenchEncoder(Encoder):
    """A seeded random unit vector per text: costs microseconds, so timings are overhead."""

    encoder_id: ClassVar[str] = "bench-512"
    modalities: ClassVar[frozenset[Modality]] = frozenset({"text"})
    dim = 512
    checkpoint = "random-v1"
    description: ClassVar[str] = "benchmark encoder: seeded random vectors"

    def encode_batch(self, modality: Modality, contents: Sequence[Any]) -> npt.NDArray[np.float32]:
        """One seeded standard-normal vector per text, normalised."""
        rows = []
        for text in contents:
            seed = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")
            rows.append(np.random.default_rng(seed).standard_normal(self.dim, dtype=np.float32))
        out = np.stack(rows)
        normed: npt.NDArray[np.float32] = out / np.linalg.norm(out, axis=1, keepdims=True)
        return normed


class BenchPlugin:
    """A plugin object providing exactly the bench encoder."""

    __name__ = "bench-plugin"

    def __init__(self, encoder: Encoder) -> None:
        self.encoder = encoder

    @hookimpl
    def register_extractors(self, register: Callable[[Extractor], None]) -> None:
        """No extractors: the catalog is written directly."""

    @hookimpl
    def register_encoders(self, register: Callable[[Encoder], None]) -> None:
        """Provide the bench encoder."""
        register(self.encoder)


def unit_rows(rng: np.random.Generator, n: int, dim: int) -> FloatArray:
    """``n`` random L2-normalised float32 rows."""
    rows = rng.standard_normal((n, dim), dtype=np.float32)
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    return rows


def seed_catalog(
    lib: Library, encoder: Encoder, vectors: int, per_item: int, batch: int, seed: int
) -> tuple[int, int]:
    """Write ``vectors`` segments (``per_item`` per file) through ``Catalog.write_items``."""
    space = lib.catalog.ensure_space(encoder, activate=True)
    root_id = lib.catalog.ensure_root(ROOT, ROOT.decode())
    rng = np.random.default_rng(seed)
    items = -(-vectors // per_item)
    media = rng.choice(list(MEDIA_MIX), size=items, p=list(MEDIA_MIX.values()))
    written = 0
    for first in range(0, items, batch):
        last = min(items, first + batch)
        count = min(vectors, last * per_item) - first * per_item
        data = unit_rows(rng, count, encoder.dim)
        records = []
        row = 0
        for i in range(first, last):
            n = min(per_item, vectors - i * per_item)
            kind = "image" if media[i] == "image" else ("text" if media[i] == "text" else "speech")
            ext = {"image": "jpg", "text": "txt", "audio": "mp3"}[media[i]]
            relpath = f"d{i % 100:02d}/item{i:06d}.{ext}".encode()
            segments = tuple(
                NewSegment(
                    ordinal=j,
                    kind=kind,
                    modality="text",
                    text=f"segment {j} of item {i}",
                    start=float(j) if kind == "speech" else None,
                    end=float(j + 1) if kind == "speech" else None,
                    char_start=None,
                    char_end=None,
                    vector=data[row + j],
                )
                for j in range(n)
            )
            row += n
            records.append(
                ItemRecord(
                    relpath=relpath,
                    display=relpath.decode(),
                    size=1000 + i,
                    mtime_ns=1_700_000_000_000_000_000 + i,
                    content_hash=f"{i:064x}",
                    media_type=str(media[i]),
                    extractor="bench",
                    status="done",
                    segments=segments,
                )
            )
        lib.catalog.write_items(root_id, space.id, records)
        written += count
    return items, written


def stats_ms(samples: Sequence[float]) -> str:
    """p50 / p95 / mean of seconds, in milliseconds."""
    ms = sorted(s * 1000 for s in samples)
    p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
    return f"p50 {statistics.median(ms):7.2f}  p95 {p95:7.2f}  mean {statistics.fmean(ms):7.2f}"


def time_each(fn: Callable[[int], object], n: int, warmup: int = 5) -> list[float]:
    """Seconds of ``fn(i)`` for each ``i`` in ``range(n)``, after a few untimed calls."""
    for i in range(min(warmup, n)):
        fn(i)
    out = []
    for i in range(n):
        started = time.perf_counter()
        fn(i)
        out.append(time.perf_counter() - started)
    return out


class CountingStore:
    """Wraps a store to count how often and how deep a search asks FAISS."""

    def __init__(self, store: FaissStore) -> None:
        self.store = store
        self.calls: list[int] = []

    @property
    def ntotal(self) -> int:
        return self.store.ntotal

    def search(self, query: FloatArray, k: int) -> tuple[IdArray, FloatArray]:
        self.calls.append(k)
        return self.store.search(query, k)


def fetch_pattern(
    runner: QueryRunner, queries: FloatArray, k: int, media: str | None, within: bytes | None
) -> str:
    """How many FAISS calls a filtered search makes and how many candidates it fetches."""
    counting = CountingStore(runner.store)
    probe = QueryRunner(runner.catalog, runner.registry, runner.encoder, runner.space, counting)  # type: ignore[arg-type]
    calls, deepest, short = [], [], 0
    for q in queries:
        counting.calls = []
        hits = probe.search(q, k, media, within)
        calls.append(len(counting.calls))
        deepest.append(counting.calls[-1])
        short += len(hits) < k
    return (
        f"FAISS calls/query mean {statistics.fmean(calls):.2f} (max {max(calls)}), "
        f"deepest fetch median {statistics.median(deepest):.0f} (max {max(deepest)}), "
        f"queries with < k hits: {short}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vectors", type=int, default=100_000, help="vectors in the space")
    parser.add_argument(
        "--per-item", type=int, default=1, help="segments (vectors) per file; 1 = a photo library"
    )
    parser.add_argument("--queries", type=int, default=200, help="timed queries per figure")
    parser.add_argument("-k", type=int, default=10, help="hits per query")
    parser.add_argument("--batch", type=int, default=5000, help="files per write_items call")
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="faiss.omp_set_num_threads before searching (default: leave)",
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--workdir",
        type=Path,
        default=None,
        help="where to create the temp folder (default: system temp)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temp folder")
    parser.add_argument(
        "--db",
        type=Path,
        default=None,
        help="use (and keep) this catalog; seeded only if it has no vectors yet, "
        "so a second run, e.g. with OMP_NUM_THREADS=1, skips seeding",
    )
    parser.add_argument(
        "--profile",
        type=int,
        default=0,
        metavar="N",
        help="also print a cProfile of the unfiltered full searches and of Library.query, top N",
    )
    args = parser.parse_args()
    started = time.perf_counter()
    if args.threads:
        faiss.omp_set_num_threads(args.threads)

    print(f"mmsearch query overhead benchmark, {datetime.datetime.now():%Y-%m-%d %H:%M}")
    print(
        f"python {platform.python_version()}, {os.cpu_count()} CPUs, faiss {faiss.__version__} "
        f"(omp_get_max_threads={faiss.omp_get_max_threads()}, "
        f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}), "
        f"numpy {np.__version__}, {platform.platform()}, load average {_load()}"
    )
    # torch is reported, not imported: importing it loads a second OpenMP runtime, which
    # would change the very FAISS thread behaviour this benchmark measures.
    torch = sys.modules.get("torch")
    if torch is not None:
        print(f"torch {torch.__version__}, get_num_threads={torch.get_num_threads()}")
    else:
        try:
            version = importlib.metadata.version("torch")
            print(f"torch {version} installed, not imported (the bench encoder does not use it)")
        except importlib.metadata.PackageNotFoundError:
            print("torch not installed (the bench encoder does not use it)")

    if args.db is not None:
        tmp, db, keep = None, args.db.absolute(), True
    else:
        tmp = Path(tempfile.mkdtemp(prefix="mmsearch-bench-", dir=args.workdir))
        db, keep = tmp / "catalog.db", args.keep
    encoder = BenchEncoder()
    registry = load_plugins(BenchPlugin(encoder), discover=True)
    try:
        with Library.open(db, registry=registry) as lib:
            space = lib.catalog.active_space()
            if space is None or lib.catalog.space_state(space.id)[1] == 0:
                (items, written), t = _timed(
                    lambda: seed_catalog(
                        lib, encoder, args.vectors, args.per_item, args.batch, args.seed
                    )
                )
                print(
                    f"seeded {written} vectors ({encoder.dim}-d) in {items} files "
                    f"via Catalog.write_items in {t:.1f}s ({written / t:,.0f} vectors/s); "
                    f"media mix {MEDIA_MIX}"
                )
                seeded = lib.catalog.active_space()
                assert seeded is not None and seeded.encoder_id == encoder.encoder_id
                store, t = _timed(lambda: lib.store(seeded))
                print(
                    f"FAISS index rebuilt from the catalog and saved by Library.store in "
                    f"{t:.1f}s ({store.ntotal} vectors, "
                    f"{store.ntotal * seeded.dim * 4 / 1e6:.0f} MB)"
                )
            else:
                print(
                    f"reusing {db}: {lib.catalog.space_state(space.id)[1]} vectors "
                    f"(--vectors and --per-item ignored)"
                )
        with Library.open(db, registry=registry) as lib:
            space = lib.catalog.active_space()
            assert space is not None
            store, t = _timed(lambda: lib.store(space))
            print(f"FAISS cache loaded from disk by a fresh Library in {t:.2f}s")
            run_queries(lib, space, store, encoder, args)
            if args.profile:
                runner = QueryRunner(lib.catalog, lib.registry, encoder, space, store)
                queries = unit_rows(np.random.default_rng(args.seed + 1), args.queries, space.dim)
                profiler = cProfile.Profile()
                profiler.enable()
                for q in queries:
                    runner.search(q, args.k, None, None)
                profiler.disable()
                out = io.StringIO()
                pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(
                    args.profile
                )
                print(
                    f"\ncProfile of {args.queries} unfiltered QueryRunner.search calls, "
                    f"top {args.profile} by cumulative time:"
                )
                print(out.getvalue())
                profiler = cProfile.Profile()
                profiler.enable()
                for i in range(args.queries):
                    lib.query(f"bench query number {i}", k=args.k)
                profiler.disable()
                out = io.StringIO()
                pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(
                    args.profile
                )
                print(
                    f"\ncProfile of {args.queries} Library.query calls, "
                    f"top {args.profile} by cumulative time:"
                )
                print(out.getvalue())
    finally:
        if keep:
            print(f"kept {db}")
        elif tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
        print(f"benchmark wall time, all steps: {time.perf_counter() - started:.0f}s")


def run_queries(
    lib: Library, space: Any, store: FaissStore, encoder: Encoder, args: argparse.Namespace
) -> None:
    """Time every figure over the same precomputed query vectors and print them.

    The full table runs with FAISS's default OpenMP threads; when that is more
    than one, the main figures run again with one thread, for comparison.
    """
    k, n = args.k, args.queries
    fetch = k * _OVERSAMPLE
    queries = unit_rows(np.random.default_rng(args.seed + 1), n, space.dim)
    runner = QueryRunner(lib.catalog, lib.registry, lib.encoder_for(space), space, store)
    candidates = [store.search(q, fetch) for q in queries]
    texts = [f"bench query number {i}" for i in range(n)]
    within = ROOT + b"/d07"  # one folder of 100: 1% of the files
    filters: list[tuple[str, str | None, bytes | None]] = [
        ("media_type='text' (10% of files)", "text", None),
        ("media_type='audio' (1% of files)", "audio", None),
        (f"within={within.decode()} (1% of files)", None, within),
    ]

    def table(everything: bool) -> dict[str, list[float]]:
        rows: dict[str, list[float]] = {}
        rows[f"raw FAISS search, k={fetch} (store.search)"] = time_each(
            lambda i: store.search(queries[i], fetch), n
        )
        if everything:
            rows[f"raw FAISS search, k={k}"] = time_each(lambda i: store.search(queries[i], k), n)
            rows[f"SQL resolve + grouping of {fetch} ids (QueryRunner._resolve)"] = time_each(
                lambda i: runner._resolve(*candidates[i], None, None), n
            )
        rows["full search, no filter (QueryRunner.search)"] = time_each(
            lambda i: runner.search(queries[i], k, None, None), n
        )
        for label, media, folder in filters if everything else filters[:1]:

            def filtered(i: int, m: str | None = media, w: bytes | None = folder) -> object:
                return runner.search(queries[i], k, m, w)

            rows[f"full search, {label}"] = time_each(filtered, n)
        encode = time_each(lambda i: encoder.encode_batch("text", [texts[i]]), n)
        if everything:
            rows["bench encoder alone (encode_batch of one text)"] = encode
        public = time_each(lambda i: lib.query(texts[i], k=k), n)
        rows[f"Library.query(text, k={k}) end to end"] = public
        rows["Library.query minus encoder (per-query pairing)"] = [
            p - e for p, e in zip(public, encode, strict=True)
        ]
        return rows

    def show(rows: dict[str, list[float]], threads: int) -> None:
        print(
            f"\n{n} queries per figure, k={k}, ms ({space.dim}-d, {store.ntotal} vectors, "
            f"faiss threads {threads}, load average {_load()}):"
        )
        width = max(len(label) for label in rows)
        for label, samples in rows.items():
            print(f"  {label:<{width}}  {stats_ms(samples)}")

    threads = faiss.omp_get_max_threads()
    tables = {threads: table(everything=True)}
    show(tables[threads], threads)
    probes = queries[:50]  # counting only; 50 queries are enough and keep the run short
    print(
        f"\nhow far filtered searches look, first {len(probes)} queries "
        f"(QueryRunner.search re-asks FAISS with 4x the depth until k files pass):"
    )
    for label, media, folder in filters:
        print(f"  {label}: {fetch_pattern(runner, probes, k, media, folder)}")
    if threads > 1:
        faiss.omp_set_num_threads(1)
        try:
            tables[1] = table(everything=False)
        finally:
            faiss.omp_set_num_threads(threads)
        show(tables[1], 1)

    print("\nsummary (target: p50 < 20 ms):")
    for count, rows in tables.items():
        for label in (
            "full search, no filter (QueryRunner.search)",
            "Library.query minus encoder (per-query pairing)",
        ):
            p50 = statistics.median(rows[label]) * 1000
            verdict = "OK" if p50 < TARGET_MS else "OVER"
            print(f"  faiss threads {count}: {label}: p50 {p50:.2f} ms, {verdict}")


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - started


if __name__ == "__main__":
    main()
