"""Which vector index type pays off in Milvus, by collection size: FLAT, HNSW and IVF_FLAT.

For each size: the rows are inserted once into a Milvus Lite collection (a local file, or a
``milvus-lite server`` / real Milvus with ``--uri``), then searched with each index type and
search breadth in turn (the index swapped in place): p50/p95 latency, recall@10 against
exact, and the index build time. Prints the server's version, so a figure says which engine
it was measured on.

    .venv/bin/python bench/milvus_index_types.py --sizes 10000,50000,100000 --queries 50
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from pymilvus import DataType, MilvusClient

from mmsearch.testing.store_conformance import clustered_vectors

NAME = "bench_index_types"


def configurations(count: int) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(index type, build params, search params) to try at ``count`` rows."""
    nlist = max(16, int(4 * count**0.5))
    return [
        ("FLAT", {}, {}),
        *(("HNSW", {"M": 16, "efConstruction": 200}, {"ef": ef}) for ef in (64, 128, 256, 512)),
        *(("IVF_FLAT", {"nlist": nlist}, {"nprobe": p}) for p in (16, 32, 64)),
    ]


def fill(client: MilvusClient, vectors: np.ndarray) -> float:
    """A fresh collection holding ``vectors`` (ids 0..n-1); the insert's seconds."""
    if client.has_collection(NAME):
        client.drop_collection(NAME)
    schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=vectors.shape[1])
    params = client.prepare_index_params()
    params.add_index("vector", index_type="FLAT", metric_type="IP")
    client.create_collection(NAME, schema=schema, index_params=params,
                             consistency_level="Strong")  # fmt: skip
    started = time.perf_counter()
    for start in range(0, len(vectors), 2_000):
        rows = vectors[start : start + 2_000]
        client.insert(NAME, [{"id": start + i, "vector": row} for i, row in enumerate(rows)])
    client.flush(NAME)
    return time.perf_counter() - started


def reindex(client: MilvusClient, kind: str, build: dict[str, Any]) -> float:
    """Swap the vector index for ``kind``; the seconds until it is loaded."""
    started = time.perf_counter()
    client.release_collection(NAME)
    client.drop_index(NAME, "vector")
    params = client.prepare_index_params()
    params.add_index("vector", index_type=kind, metric_type="IP", params=build)
    client.create_index(NAME, params)
    client.load_collection(NAME)
    found = client.describe_index(NAME, "vector")
    if str(found.get("index_type")) != kind:
        raise SystemExit(f"asked for {kind}, the collection reports {found.get('index_type')}")
    return time.perf_counter() - started


def measure(
    client: MilvusClient, queries: np.ndarray, exact: list[set[int]], k: int,
    search: dict[str, Any],
) -> tuple[float, float, float]:  # fmt: skip
    """p50 ms, p95 ms and recall@k of ``queries`` with ``search`` params."""
    times, hits = [], 0
    for query, truth in zip(queries, exact, strict=True):
        started = time.perf_counter()
        found = client.search(NAME, [query], limit=k, output_fields=["id"],
                              search_params={"metric_type": "IP", "params": search})  # fmt: skip
        times.append((time.perf_counter() - started) * 1000)
        hits += len({int(h["id"]) for h in found[0]} & truth)
    q = statistics.quantiles(times, n=20)
    return statistics.median(times), q[18], hits / (k * len(queries))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,50000,100000")
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--uri", default="", help="a server; default: a Lite file in /tmp")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        client = MilvusClient(uri=args.uri or str(Path(tmp) / "bench.db"))
        print(f"server: {client.get_server_version()}; {args.dim}-d clustered unit vectors "
              f"(bench/milvus_vs_faiss.py's data), {args.queries} queries, k={args.k}")  # fmt: skip
        for count in (int(s) for s in args.sizes.split(",")):
            vectors = clustered_vectors(count, args.dim, max(10, count // 1000))
            queries = clustered_vectors(args.queries, args.dim, max(10, count // 1000), seed=7)
            exact = [set(np.argsort(-(vectors @ q), kind="stable")[: args.k].tolist())
                     for q in queries]  # fmt: skip
            inserted = fill(client, vectors)
            print(f"{count:>7} rows: insert {count / inserted:,.0f} vectors/s")
            built: dict[tuple[str, str], float] = {}
            for kind, build, search in configurations(count):
                key = (kind, str(build))
                if key not in built:
                    built[key] = reindex(client, kind, build)
                p50, p95, found = measure(client, queries, exact, args.k, search)
                label = f"{kind} {build or ''} {search or ''}".strip()
                print(f"{count:>7}  {label:<50} build {built[key]:6.1f} s  p50 {p50:7.1f} ms"
                      f"  p95 {p95:7.1f} ms  recall@{args.k} {found:.3f}")  # fmt: skip
        client.drop_collection(NAME)
        client.close()


if __name__ == "__main__":
    main()
