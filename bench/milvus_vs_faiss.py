"""Milvus Lite against FAISS on the same clustered vectors, through the store seam.

Prints, for each store: insert throughput, build time, p50/p95 query latency and
recall@10 against exact search; and the seam's own overhead (the FAISS store through
``VectorIndex.search`` against the same FAISS index called directly).

    .venv/bin/python bench/milvus_vs_faiss.py --count 100000 --dim 512 --queries 200
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from mmsearch_milvus import MilvusStore

from mmsearch.contracts import IndexTarget, VectorIndex
from mmsearch.store.faiss_index import FaissIndex, FaissStore, search_threads
from mmsearch.testing.store_conformance import VectorIndexConformance, clustered_vectors


def latencies(
    index: VectorIndex, queries: np.ndarray, k: int
) -> tuple[list[float], list[list[int]]]:
    times, found = [], []
    for query in queries:
        started = time.perf_counter()
        ids, _ = index.search(query, k)
        times.append((time.perf_counter() - started) * 1000)
        found.append(ids.tolist())
    return times, found


def recall(found: list[list[int]], exact: list[list[int]]) -> float:
    return sum(len(set(a) & set(b)) for a, b in zip(found, exact, strict=True)) / sum(
        map(len, exact)
    )


def report(
    name: str, times: list[float], found: list[list[int]], exact: list[list[int]], extra: str
) -> None:
    q = statistics.quantiles(times, n=20)
    print(f"{name:<22} p50 {statistics.median(times):7.2f} ms  p95 {q[18]:7.2f} ms  "
          f"recall@10 {recall(found, exact):.3f}  {extra}")  # fmt: skip


def seam_overhead(index: FaissIndex, queries: np.ndarray, k: int, rounds: int = 3) -> None:
    """The flat FAISS search through ``VectorIndex.search`` and called directly, interleaved
    query by query so that the load of a shared machine falls on both alike."""
    seam: list[float] = []
    direct: list[float] = []
    for _ in range(rounds):
        for query in queries:
            row = np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32)
            started = time.perf_counter()
            index.search(query, k)
            seam.append(time.perf_counter() - started)
            started = time.perf_counter()
            with search_threads():  # the thread count the seam's search uses
                index.flat.search(row, k)
            direct.append(time.perf_counter() - started)
    ratio = statistics.median(seam) / statistics.median(direct) - 1
    print(f"{'seam vs direct (flat)':<22} p50 {statistics.median(seam) * 1000:7.2f} ms vs "
          f"{statistics.median(direct) * 1000:.2f} ms: seam overhead {ratio:+.1%} "
          f"({rounds} x {len(queries)} interleaved queries)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--k", type=int, default=10)
    args = parser.parse_args()
    ids = np.arange(args.count, dtype=np.int64) * 3 + 1
    vectors = clustered_vectors(args.count, args.dim, max(10, args.count // 1000))
    queries = clustered_vectors(args.queries, args.dim, max(10, args.count // 1000), seed=7)
    exact = [ids[np.argsort(-(vectors @ q), kind="stable")[: args.k]].tolist() for q in queries]
    catalog = VectorIndexConformance.catalog(ids, vectors)
    print(f"{args.count} x {args.dim} clustered unit vectors, {args.queries} queries, k={args.k}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)

        def target(**options: str) -> IndexTarget:
            return IndexTarget("bench-catalog", 1, "bench|1", args.dim, folder / "indexes", options)

        for label, options in (("faiss exact", {"exact_max": str(args.count)}),
                               ("faiss default", {})):  # fmt: skip
            faiss_index = FaissStore().open_index(target(**options))
            started = time.perf_counter()
            faiss_index.sync(catalog)
            faiss_index.optimize(catalog)
            built = time.perf_counter() - started
            times, found = latencies(faiss_index, queries, args.k)
            report(f"{label} ({faiss_index.kind})", times, found, exact,
                   f"insert+build {args.count / built:,.0f} vectors/s ({built:.1f} s)")  # fmt: skip
            if faiss_index.ann is None:
                seam_overhead(faiss_index, queries, args.k)

        for label, options in (("milvus-lite FLAT", {"ann_min": str(args.count)}),
                               ("milvus-lite IVF_FLAT", {"ann_min": "0"})):  # fmt: skip
            uri = str(folder / f"{label.split()[1]}.db")
            index = MilvusStore().open_index(target(uri=uri, **options))
            started = time.perf_counter()
            index.sync(catalog)
            inserted = time.perf_counter() - started
            index.persist(catalog.generation)
            times, found = latencies(index, queries, args.k)
            report(label, times, found, exact,
                   f"insert {args.count / inserted:,.0f} vectors/s ({inserted:.1f} s)")  # fmt: skip
            index.close()


if __name__ == "__main__":
    main()
