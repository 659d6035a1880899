"""Benchmark: what the catalog's identity and damage checks cost, at 100,000 x 512 vectors.

Builds a catalog of ``--vectors`` one-segment text items with random unit
vectors through :meth:`Catalog.write_items` (batches of ``--batch`` items, as
an index run commits them), then times:

- the digest's share of a write: :func:`vector_digest` over each batch;
- a cold open's checks: opening the catalog (writable and read-only), the
  space's generation and count, its stored digest (one row), and loading the
  FAISS file with its digest compared;
- what runs once or on demand: recomputing the digest from every vector
  (:func:`refresh_digest`, an index run after another program changed the
  vectors) and SQLite's ``PRAGMA quick_check`` (``mmsearch status``).

Not a test: it prints figures. Run from the repository root:

    .venv/bin/python bench/catalog_checks.py                   # 100,000 x 512
    .venv/bin/python bench/catalog_checks.py --vectors 5000    # smoke run
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import numpy as np

from mmsearch.contracts import CatalogVectors, Encoder, FloatArray, IndexTarget, Modality
from mmsearch.store.catalog import Catalog, ItemRecord, NewSegment
from mmsearch.store.digest import vector_digest
from mmsearch.store.faiss_index import FaissIndex
from mmsearch.store.locations import index_folder
from mmsearch.store.space_digests import refresh_digest, space_digest

T = TypeVar("T")


class _Dims(Encoder):
    """Only what ``ensure_space`` reads: the bench writes vectors itself."""

    encoder_id = "bench"
    modalities: frozenset[Modality] = frozenset({"text"})
    batch_size = 1

    def __init__(self, dim: int) -> None:
        self.dim = dim

    def encode_batch(self, modality: Modality, inputs: list[object]) -> FloatArray:
        raise NotImplementedError


def _timed(call: Callable[[], T]) -> tuple[T, float]:
    started = time.perf_counter()
    result = call()
    return result, time.perf_counter() - started


def _records(start: int, rows: FloatArray) -> list[ItemRecord]:
    return [
        ItemRecord(
            relpath=f"f{start + i}.txt".encode(),
            display=f"f{start + i}.txt",
            size=10,
            mtime_ns=1,
            content_hash=None,
            media_type="text",
            extractor="bench",
            status="done",
            segments=(NewSegment(0, "text", "text", f"note {start + i}", None, None, 0, 9, row),),
        )
        for i, row in enumerate(rows)
    ]


def build(db: Path, count: int, dim: int, batch: int) -> tuple[float, float]:
    """Write the catalog; seconds writing, seconds of that spent on digests."""
    catalog = Catalog(db)
    space = catalog.ensure_space(_Dims(dim), activate=True)
    root = catalog.ensure_root(b"/bench", "/bench")
    rng = np.random.default_rng(0)
    writing = hashing = 0.0
    for start in range(0, count, batch):
        rows = rng.standard_normal((min(batch, count - start), dim)).astype(np.float32)
        rows /= np.linalg.norm(rows, axis=1, keepdims=True)
        records = _records(start, rows)
        started = time.perf_counter()
        catalog.write_items(root, space.id, records)
        writing += time.perf_counter() - started
        started = time.perf_counter()
        vector_digest(np.arange(start, start + len(rows), dtype=np.int64), rows)
        hashing += time.perf_counter() - started
    catalog.close()
    return writing, hashing


def _median(call: Callable[[], object], runs: int) -> float:
    return statistics.median(_timed(call)[1] for _ in range(runs))


def measure(db: Path, dim: int, runs: int) -> list[tuple[str, float]]:
    """The checks' costs on the built catalog, each the median of ``runs``."""
    out = [
        ("open writable (probe + revision check)", _median(lambda: Catalog(db).close(), runs)),
        (
            "open read-only (probe + revision check)",
            _median(lambda: Catalog(db, read_only=True).close(), runs),
        ),
    ]
    catalog = Catalog(db, read_only=True)
    out.append(
        ("space generation + count (existing)", _median(lambda: catalog.space_state(1), runs))
    )
    out.append(("stored digest (one row)", _median(lambda: space_digest(catalog, 1), runs)))
    target = IndexTarget(catalog.catalog_id(), 1, "bench", dim, index_folder(db))
    generation, count = catalog.space_state(1)
    vectors = CatalogVectors(
        generation, count, lambda: catalog.vector_batches(1, dim), space_digest(catalog, 1)
    )
    index = FaissIndex(target)
    out.append(("FAISS rebuild from SQL (once)", _timed(lambda: index.rebuild(vectors))[1]))
    index.persist(generation)
    out.append(
        (
            "FAISS load, digest compared",
            _median(lambda: FaissIndex(target).load(generation, count, vectors.digest), runs),
        )
    )
    catalog.close()
    writable = Catalog(db)
    out.append(
        ("refresh_digest: every vector read", _timed(lambda: refresh_digest(writable, 1, dim))[1])
    )
    with writable.sqlite() as conn:
        quick = _median(lambda: conn.execute("PRAGMA quick_check").fetchall(), runs)
    out.append(("PRAGMA quick_check (status)", quick))
    writable.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--vectors", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--batch", type=int, default=1000, help="items per write_items call")
    parser.add_argument("--runs", type=int, default=5, help="repeats of each cheap check")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="mmsearch-catalog-checks-"))
    try:
        db = folder / "catalog.db"
        writing, hashing = build(db, args.vectors, args.dim, args.batch)
        print(f"load average {os.getloadavg()[0]:.2f}; {args.vectors} x {args.dim} vectors, "
              f"catalog {db.stat().st_size / 1e6:.0f} MB")  # fmt: skip
        print(f"write_items: {writing:.2f} s in all; vector_digest of the batches {hashing:.3f} s "
              f"({100 * hashing / writing:.1f}%)")  # fmt: skip
        for name, seconds in measure(db, args.dim, args.runs):
            print(f"{name:42s} {seconds * 1000:10.1f} ms")
    finally:
        if args.keep:
            print(f"kept {folder}")
        else:
            shutil.rmtree(folder)


if __name__ == "__main__":
    main()
