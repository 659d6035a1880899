"""The FAISS store at scale, through the engine's own code: build, memory, latency, recall.

Runs :class:`mmsearch.store.faiss_index.FaissIndex` (the built-in store) on the
clustered data of ``bench/ann_explore.py`` (a hierarchical Gaussian mixture on
the sphere, queries drawn apart from the database, exact ground truth), and
prints, side by side in one run:

* at ``--n`` (default 1M x 512): which index the size threshold picks, its build
  time (rows file + training + adding + measured recall), size on disk, memory
  of a fresh process that loads it and answers queries (RssAnon: codes, ids;
  RssFile: pages of the rows file touched by re-ranking), single-query p50/p95
  with one FAISS thread, recall@10 against exact search;
* the exact flat index on the same vectors (latency on a few queries);
* a filtered query with a 1 % allow-list: p50/p95 and whether every result list
  equals exact search among the allowed ids;
* at ``--small`` (default 100k): which index the threshold picks, and its figures.

    .venv/bin/python bench/ann.py                     # ~10 min at 1M on 2 cores
    .venv/bin/python bench/ann.py --n 200000 --small 50000   # a quicker look
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import faiss
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ann_explore import Data, K, parser, pct, prepare_data, threads

from mmsearch.contracts import CatalogVectors, IndexTarget
from mmsearch.store.faiss_index import EXACT_MAX, FaissIndex

BATCH = 65_536


def catalog_of(data: Data, n: int) -> CatalogVectors:
    """The data as the catalog would hand it to the store: batches of (ids, vectors)."""

    def batches() -> Iterator[tuple[np.ndarray, np.ndarray]]:
        rows = data.memmap()
        for start in range(0, n, BATCH):
            stop = min(n, start + BATCH)
            yield data.ids[start:stop], np.ascontiguousarray(rows[start:stop])

    return CatalogVectors(1, n, batches)


def target(folder: Path, dim: int) -> IndexTarget:
    return IndexTarget("bench-catalog", 1, "bench|1", dim, folder)


def latencies(
    index: FaissIndex, queries: np.ndarray, allowed: np.ndarray | None = None, warm: int = 10
) -> tuple[list[float], list[np.ndarray]]:
    """Per-query wall time (after ``warm`` untimed ones) and each query's result ids."""
    for query in queries[:warm]:
        index.search(query, K, allowed)
    times, found = [], []
    for query in queries:
        started = time.perf_counter()
        ids, _ = index.search(query, K, allowed)
        times.append(time.perf_counter() - started)
        found.append(ids)
    return times, found


def recall(found: Sequence[np.ndarray], truth: np.ndarray) -> float:
    hits = [len(set(f.tolist()) & set(t[:K].tolist())) for f, t in zip(found, truth, strict=True)]
    return float(np.mean(hits)) / K


def ms(times: Sequence[float]) -> str:
    return f"p50 {pct(times, 50) * 1e3:.2f} ms, p95 {pct(times, 95) * 1e3:.2f} ms"


def measure_loaded(folder: Path, dim: int, n: int, workdir: str) -> dict[str, float]:
    """Load the persisted index in a fresh process, answer queries, report its memory."""
    code = f"""
import json, sys, time, numpy as np
sys.path.insert(0, {str(Path(__file__).resolve().parent)!r})
from ann import target, latencies, recall
from ann_explore import proc_status as proc
from ann_explore import Data
from pathlib import Path
from mmsearch.store.faiss_index import FaissIndex
z = np.load(Path({workdir!r}) / "meta.npz")
before = proc()
index = FaissIndex(target(Path({str(folder)!r}), {dim}))
started = time.perf_counter()
index.load(1, {n})
load_s = time.perf_counter() - started
loaded = proc()
times, found = latencies(index, z["queries"])
after = proc()
print(json.dumps({{"load_s": load_s, "anon": loaded["RssAnon"] - before["RssAnon"],
    "anon_after": after["RssAnon"] - before["RssAnon"], "file_after": after["RssFile"],
    "rss_after": after["VmRSS"], "p50": sorted(times)[len(times) // 2],
    "recall": recall(found, z["gt"]), "kind": index.kind}}))
"""
    env = {**os.environ, "MMSEARCH_SEARCH_THREADS": "1", "OMP_NUM_THREADS": "1"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def run_size(data: Data, n: int, label: str, workdir: str) -> None:
    folder = Path(tempfile.mkdtemp(prefix=f"ann-{n}-", dir=workdir))
    index = FaissIndex(target(folder, data.dim))
    started = time.perf_counter()
    with threads(2):
        index.rebuild(catalog_of(data, n))
        index.persist(1)
    build_s = time.perf_counter() - started
    size = sum(p.stat().st_size for p in folder.iterdir())
    print(
        f"{label}: {n:,} x {data.dim}, threshold {index.exact_max:,} picks {index.kind}; "
        f"build {build_s:.1f} s (2 threads), {size / 2**20:.0f} MiB on disk"
    )
    if index.ann is not None and index.ann.recall is not None:
        print(f"  recall@10 measured at build time on a sample: {index.ann.recall:.3f}")
    truth = data.gt if n == data.n else None
    with threads(1):
        times, found = latencies(index, data.queries)
    shown = f", recall@10 {recall(found, truth):.3f} vs exact" if truth is not None else ""
    print(f"  single query, 1 thread, {len(times)} queries: {ms(times)}{shown}")
    if n == data.n:
        loaded = measure_loaded(folder, data.dim, n, workdir)
        print(
            f"  fresh process: load {loaded['load_s']:.2f} s; RssAnon +{loaded['anon'] / 2**20:.0f}"
            f" MiB after load, +{loaded['anon_after'] / 2**20:.0f} MiB after the queries; "
            f"RssFile {loaded['file_after'] / 2**20:.0f} MiB (rows-file pages touched); "
            f"p50 {loaded['p50'] * 1e3:.2f} ms, recall@10 {loaded['recall']:.3f}"
        )
        filtered(index, data)
    del index


def filtered(index: FaissIndex, data: Data) -> None:
    rng = np.random.default_rng(6)
    allowed = np.sort(rng.choice(data.ids, data.n // 100, replace=False))
    rows = np.searchsorted(data.ids, allowed)
    vectors = np.ascontiguousarray(data.memmap()[rows])
    with threads(1):
        times, found = latencies(index, data.queries, allowed)
    same = [
        f.tolist() == allowed[np.argsort(-(vectors @ q), kind="stable")[:K]].tolist()
        for f, q in zip(found, data.queries, strict=True)
    ]
    print(
        f"  filtered, 1 % allow-list ({len(allowed):,} ids): {ms(times)}; "
        f"identical to exact for {sum(same)}/{len(same)} queries"
    )


def exact_reference(data: Data, queries: int) -> None:
    flat = faiss.IndexFlatIP(data.dim)
    rows = data.memmap()
    for start in range(0, data.n, BATCH):
        flat.add(np.ascontiguousarray(rows[start : start + BATCH]))
    times = []
    with threads(1):
        for query in data.queries[:queries]:
            started = time.perf_counter()
            flat.search(query.reshape(1, -1), K)
            times.append(time.perf_counter() - started)
    held = data.n * data.dim * 4 / 2**30
    print(
        f"exact IndexFlatIP at {data.n:,} ({held:.2f} GiB in RAM), 1 thread, {queries} queries: "
        f"{ms(times)}"
    )


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=1_000_000)
    p.add_argument("--small", type=int, default=100_000)
    p.add_argument("--exact-queries", type=int, default=20)
    p.add_argument("--workdir", help="data cache folder (default: ann_explore's)")
    args = p.parse_args(argv)
    data_args = ["--n", str(args.n), "--sections", "data"]
    if args.workdir:
        data_args += ["--workdir", args.workdir]
    namespace = parser().parse_args(data_args)  # the data's parameters live in ann_explore
    data = prepare_data(namespace, report=True)
    print(f"machine: {os.cpu_count()} cores; store threshold EXACT_MAX = {EXACT_MAX:,}")
    run_size(data, data.n, "large", namespace.workdir)
    exact_reference(data, args.exact_queries)
    run_size(data, args.small, "small", namespace.workdir)


if __name__ == "__main__":
    main()
