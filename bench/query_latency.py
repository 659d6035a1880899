"""Benchmark: query latency end to end (text in, top 10 out) at 100,000 stored vectors.

Builds a catalog of ``--vectors`` segments in the *offline* space (384-d, the
space this machine indexes into) through the real catalog code
(``Catalog.write_items``), each with a short random text drawn from a
vocabulary (so the FTS5 keyword search has real posting lists) and a random
unit vector (the vector search costs the same whatever the vectors mean).
Then it times ``Library.search`` with the real offline text encoder
(all-MiniLM-L6-v2) on distinct natural-language queries made from that
vocabulary:

- cold text: every query text seen for the first time (encoder runs);
- cached text: the same queries again (the library's LRU query cache);
- planner overhead: end to end minus embedding (filters, FAISS, FTS5, SQL
  loads, exact re-scoring, attention, fusion, dedupe, explanations);
- filtered: ``type:text`` (10% of files) and ``path:d07/**`` (1%).

Targets (issue 4): p50 <= 30 ms and p95 <= 60 ms end to end.

    .venv/bin/python bench/query_latency.py                   # 100,000 vectors, ~3 minutes
    .venv/bin/python bench/query_latency.py --vectors 5000    # smoke run
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from mmsearch import Encoder, Library, SearchOptions
from mmsearch.plugins import load_plugins
from mmsearch.store.catalog import ItemRecord, NewSegment

ROOT = b"/bench/corpus"
MEDIA_MIX = {"image": 0.89, "text": 0.10, "audio": 0.01}
COMMON = [
    *("beach", "sunset", "harbour", "car", "train", "station", "budget", "meeting"),
    *("invoice", "recipe", "garden", "cat", "dog", "mountain", "river", "forest", "city"),
    *("bridge", "birthday", "party", "concert", "rain", "snow", "winter", "summer"),
    *("kitchen", "office", "school", "holiday", "flight", "hotel", "museum", "market"),
    *("bicycle", "boat", "lake", "island"),
]
TEMPLATES = (
    "{0} near the {1}",
    "photos of the {0} and the {1}",
    "a {0} at the {1} in {2}",
    "notes from the {0} about the {1}",
    "what did we say about the {0}",
    "{0} {1} {2}",
)


def vocabulary(rng: np.random.Generator, size: int = 3000) -> list[str]:
    """Common words plus pronounceable filler words."""
    letters = list("bcdfghjklmnprstvz")
    vowels = list("aeiou")
    filler = {
        "".join(rng.choice(letters) + rng.choice(vowels) for _ in range(3)) for _ in range(size * 2)
    }
    return COMMON + sorted(filler)[: size - len(COMMON)]


def seed_catalog(lib: Library, encoder: Encoder, vectors: int, seed: int) -> None:
    """``vectors`` segments, two per file, with random texts and random unit vectors."""
    space = lib.catalog.ensure_space(encoder, activate=True)
    root_id = lib.catalog.ensure_root(ROOT, ROOT.decode())
    rng = np.random.default_rng(seed)
    words = vocabulary(rng)
    weights = np.array([8.0 if w in COMMON else 1.0 for w in words])
    weights /= weights.sum()
    per_item, batch = 2, 5000
    items = -(-vectors // per_item)
    media = rng.choice(list(MEDIA_MIX), size=items, p=list(MEDIA_MIX.values()))
    for first in range(0, items, batch):
        records = []
        for i in range(first, min(items, first + batch)):
            n = min(per_item, vectors - i * per_item)
            data = rng.standard_normal((n, encoder.dim)).astype(np.float32)
            data /= np.linalg.norm(data, axis=1, keepdims=True)
            kind = {"image": "image", "text": "text", "audio": "speech"}[str(media[i])]
            ext = {"image": "jpg", "text": "txt", "audio": "mp3"}[str(media[i])]
            relpath = f"d{i % 100:02d}/item{i:06d}.{ext}".encode()
            segments = tuple(
                NewSegment(
                    ordinal=j, kind=kind, modality="image" if kind == "image" else "text",
                    text=" ".join(rng.choice(words, size=12, p=weights)),
                    start=float(j * 30) if kind == "speech" else None,
                    end=float(j * 30 + 30) if kind == "speech" else None,
                    char_start=None, char_end=None, vector=data[j],
                )
                for j in range(n)
            )  # fmt: skip
            records.append(
                ItemRecord(
                    relpath=relpath, display=relpath.decode(), size=1000 + i,
                    mtime_ns=1_700_000_000_000_000_000 + i, content_hash=f"{i:064x}",
                    media_type=str(media[i]), extractor="bench", status="done",
                    segments=segments,
                )
            )  # fmt: skip
        lib.catalog.write_items(root_id, space.id, records)


def queries(count: int, seed: int) -> list[str]:
    """Distinct natural-language queries over the common words."""
    rng = np.random.default_rng(seed)
    out: list[str] = []
    while len(out) < count:
        template = TEMPLATES[len(out) % len(TEMPLATES)]
        text = template.format(*rng.choice(COMMON, size=3, replace=False))
        if text not in out:
            out.append(text)
    return out


def stats(samples: Sequence[float]) -> str:
    """p50 / p95 / mean of seconds, in milliseconds."""
    ms = sorted(s * 1000 for s in samples)
    p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
    return f"p50 {statistics.median(ms):7.2f}  p95 {p95:7.2f}  mean {statistics.fmean(ms):7.2f} ms"


def timed(
    run: Callable[[str], dict[str, float]], texts: Sequence[str]
) -> tuple[list[float], list[float]]:
    """End-to-end seconds and non-embedding seconds per query."""
    total, overhead = [], []
    for text in texts:
        started = time.perf_counter()
        timings = run(text)
        elapsed = time.perf_counter() - started
        total.append(elapsed)
        overhead.append(elapsed - timings.get("embed", 0.0))
    return total, overhead


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vectors", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    registry = load_plugins()
    encoder = registry.encoder("offline")
    if encoder is None:
        raise SystemExit("The offline encoder plugin (plugins/mmsearch-offline) is not installed.")
    machine = platform.processor() or platform.machine()
    load = os.getloadavg()[0]
    print(f"# {machine}, {os.cpu_count()} cpus, load {load:.2f}; {args.vectors} vectors, "
          f"{args.queries} queries")  # fmt: skip
    with (
        tempfile.TemporaryDirectory() as tmp,
        Library.open(Path(tmp) / "catalog.db", registry=registry) as lib,
    ):
        started = time.perf_counter()
        seed_catalog(lib, encoder, args.vectors, args.seed)
        print(f"seeded in {time.perf_counter() - started:.1f} s")
        options = SearchOptions(k=10, keep_weak=True)

        def run(text: str) -> dict[str, float]:
            return lib.search(text, options=options).timings

        started = time.perf_counter()
        run("warm up: load the model, the index and the calibration")
        print(f"first query (model load, index build, calibration): "
              f"{time.perf_counter() - started:.1f} s")  # fmt: skip
        texts = queries(args.queries, args.seed)
        cold, cold_overhead = timed(run, texts)
        warm, warm_overhead = timed(run, texts)
        typed, _ = timed(lambda t: run(f"{t} type:text"), texts[:50])
        pathed, _ = timed(lambda t: run(f"{t} path:d07/**"), texts[:50])
        rrf_options = SearchOptions(k=10, keep_weak=True, fusion="rrf")
        rrf, _ = timed(lambda t: lib.search(t, options=rrf_options).timings, texts[:50])
        sample = lib.search(texts[0], options=options).timings
    print(f"end to end, new query text     {stats(cold)}   (target p50 <= 30, p95 <= 60)")
    print(f"end to end, repeated text      {stats(warm)}")
    print(f"planner overhead (no embed)    {stats(cold_overhead)}")
    print(f"planner overhead, repeated     {stats(warm_overhead)}")
    print(f"with type:text (10% of files)  {stats(typed)}")
    print(f"with path:d07/** (1%)          {stats(pathed)}")
    print(f"fusion=rrf                     {stats(rrf)}")
    print("one query's stages (ms): "
          + ", ".join(f"{k} {v * 1000:.2f}" for k, v in sample.items()))  # fmt: skip


if __name__ == "__main__":
    main()
