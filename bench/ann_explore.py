"""Exploration: which approximate index should a space's FAISS store use at 1M x 512?

Prints figures; nothing fails when a figure misses its target. Targets (inner
product on L2-normalised 512-d vectors, 1,000,000 of them): recall@10 >= 0.95
against exact search, single-query p50 <= 5 ms and p95 <= 15 ms with one FAISS
thread, index memory <= 1 GB (so the 2 GB float32 matrix is *not* in RAM: the
index holds compressed codes, and an exact re-ranking pass reads the float32
rows of the candidates from an ``np.memmap`` of a file on disk, rows in id
order, candidates mapped id -> row with ``np.searchsorted`` and read in row
order), build (train + add) timed with two threads.

The data (cached in ``--workdir``, reused while its parameters match) is a
hierarchical mixture of Gaussians on the unit sphere, meant to look like real
embeddings rather than uniform noise:

* a shared mean direction (random pairs have cosine ~0.2, as CLIP-like
  embeddings sit in a cone rather than all over the sphere);
* ``--super`` coarse topics, each with ``--clusters / --super`` fine clusters
  around it (sibling clusters overlap, so a query's exact top 10 often spans
  several clusters);
* cluster weights log-normal (sizes vary ~10x), spreads log-normal;
* anisotropic noise: a power-law spectrum (participation ratio ~30 of 512
  dims, the low intrinsic dimension of real embeddings) with each cluster's
  principal axes a different subset of a random rotation.

Queries are drawn from the same mixture with another seed (never rows of the
database); ground truth is an exact ``IndexFlatIP`` search. The ``data`` section
prints how clustered the neighbourhoods are (share of a query's exact top 10 in
its own cluster, distinct clusters in it).

Sections (pick with ``--sections``):

* ``data``: generation, the time to write the float32 file (+ fsync), ground truth;
* ``ann``: for each ``--candidates`` preset (or ``--factory``): build (coarse
  k-means, encoder training, add), size, memory (RssAnon delta of ``read_index``
  in a fresh process), then a sweep of nprobe / efSearch x re-rank depth R with
  p50/p95 latency including the re-rank (id -> row, gather, dot products, top 10);
* ``filtered``: allow-lists of several selectivities: exact scan of the allowed
  rows gathered from disk vs. the ANN index with an IDSelector (Batch, Bitmap,
  Array) + re-rank, and whether the results equal the exact ones;
* ``threshold``: exact ``IndexFlatIP`` single-query latency and ANN build time,
  recall and latency at several sizes (nlist ~ sqrt(n));
* ``write``: writing the 2 GB float32 file again from memory, + fsync;
* ``cold``: first re-rank after opening the file, and after evicting it from the
  page cache with ``posix_fadvise(DONTNEED)``.

Findings on the 2-core machine (shared; see the load figures each run prints):
``IVF1024,PQ128x4fs`` (4-bit fast-scan PQ, 64 B a vector, ~75 MiB at 1M) with
nprobe 16 and an exact re-rank of the top 300 gave recall@10 0.990, p50 ~0.7-1.5 ms,
built in ~42-70 s; allow-lists up to ~10,000 ids are scanned exactly, larger ones
go through the index with an ``IDSelectorBitmap``. The PQ training settings
(``--pq-iter 10 --pq-points 64``, and ``do_polysemous_training = False``, which
``index_factory`` turns on for 8-bit PQ and costs minutes at M=64) are part of it.

    .venv/bin/python bench/ann_explore.py --sections data                 # 1M x 512, ~2.5 min
    .venv/bin/python bench/ann_explore.py --sections ann --keep-index     # the chosen index
    .venv/bin/python bench/ann_explore.py --sections ann --candidates ivfsq8,ivfpq64 \
        --nprobe 8,16 --rerank 50,100,200,300                             # alternatives
    .venv/bin/python bench/ann_explore.py --sections filtered             # needs --keep-index
    .venv/bin/python bench/ann_explore.py --sections threshold
    .venv/bin/python bench/ann_explore.py --sections write,cold
    .venv/bin/python bench/ann_explore.py --n 20000 --clusters 60 --super 3 --queries 50 \
        --nlist 128 --sizes 5000,10000 --workdir /tmp/annb_tiny \
        --sections data,ann,filtered,threshold,cold --keep-index         # smoke run, ~1 min

Each run stays under ~10 minutes at 1M except HNSW (``hnswsq8``: 700k of 1M added
in 600 s). Generated data, ground truth and coarse centroids are cached in
``--workdir`` (default ``$TMPDIR/mmsearch_ann_bench``, ~2.1 GB at 1M).
"""

from __future__ import annotations

import argparse
import json
import mmap
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faiss
import numpy as np

try:  # numpy's own BLAS: one thread while timing queries, like FAISS
    from threadpoolctl import threadpool_limits  # type: ignore[import-untyped,unused-ignore]
except ImportError:  # pragma: no cover - the figures are then a little less honest
    threadpool_limits = None

K = 10
GT_DEPTH = 100
CHUNK = 50_000

# name -> (factory template, knob); {nlist} is filled from --nlist
PRESETS: dict[str, tuple[str, str]] = {
    "ivfpq32": ("IVF{nlist},PQ32", "nprobe"),
    "ivfpq64": ("IVF{nlist},PQ64", "nprobe"),
    "ivfpq64fs": ("IVF{nlist},PQ64x4fs", "nprobe"),
    "ivfpq128fs": ("IVF{nlist},PQ128x4fs", "nprobe"),
    "opqivfpq64": ("OPQ64,IVF{nlist},PQ64", "nprobe"),
    "ivfhnswpq64": ("IVF{nlist}_HNSW32,PQ64", "nprobe"),
    "ivfsq8": ("IVF{nlist},SQ8", "nprobe"),
    "hnswsq8": ("IDMap2,HNSW32,SQ8", "ef"),
    "hnsw16sq8": ("IDMap2,HNSW16,SQ8", "ef"),
    "hnswpq64": ("IDMap2,HNSW32_PQ64", "ef"),
}


# -- small helpers ---------------------------------------------------------------


def load() -> str:
    return "load {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def proc_status() -> dict[str, int]:
    """VmRSS, RssAnon and RssFile of this process, in bytes."""
    out: dict[str, int] = {}
    with open("/proc/self/status") as handle:
        for line in handle:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "RssAnon", "RssFile"):
                out[key] = int(value.split()[0]) * 1024
    return out


def pct(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


def ms(values: Sequence[float]) -> str:
    return f"p50 {pct(values, 50) * 1e3:7.2f}  p95 {pct(values, 95) * 1e3:7.2f}"


def mib(nbytes: float) -> str:
    return f"{nbytes / 2**20:7.1f} MiB"


@contextmanager
def threads(count: int) -> Iterator[None]:
    """FAISS (OpenMP) and numpy (BLAS) limited to ``count`` threads."""
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(count)
    limiter = threadpool_limits(limits=count) if threadpool_limits else None
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)
        if limiter is not None:
            limiter.restore_original_limits()


def log(*parts: object) -> None:
    print(*parts, flush=True)


# -- the data -------------------------------------------------------------------


@dataclass
class Mixture:
    centers: np.ndarray  # (C, d) float32, not normalised (mean direction + topic + cluster)
    sigma: np.ndarray  # (C, d) float32 per-cluster noise std along the rotated axes
    weights: np.ndarray  # (C,) float64
    rotation: np.ndarray  # (d, d) float32 orthogonal


def unit(x: np.ndarray) -> np.ndarray:
    out: np.ndarray = (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)
    return out


def make_mixture(args: argparse.Namespace) -> Mixture:
    rng = np.random.default_rng(args.seed)
    d, c, s = args.dim, args.clusters, args.super
    rotation = np.linalg.qr(rng.standard_normal((d, d)))[0].astype(np.float32)
    # power-law spectrum: variance of axis i ~ 1/(i+1)^alpha, total 1
    spectrum = (1.0 / np.arange(1, d + 1) ** args.alpha).astype(np.float64)
    spectrum /= spectrum.sum()
    std = np.sqrt(spectrum)

    def aniso(count: int, scale: np.ndarray | float) -> np.ndarray:
        # each row: its own random assignment of the spectrum to the rotated axes
        perms = np.argsort(rng.random((count, d)), axis=1)
        sig: np.ndarray = (std[perms] * np.reshape(scale, (-1, 1))).astype(np.float32)
        return sig

    mean = unit(rng.standard_normal(d))
    topics = unit(args.mean_weight * mean + unit(rng.standard_normal((s, d))))
    parent = rng.integers(0, s, size=c)
    # a topic's clusters share most of their principal axes (--shared-axes of the variance)
    topic_sigma = aniso(s, 1.0)[parent]
    own_sigma = aniso(c, 1.0)
    shape = np.sqrt(args.shared_axes * topic_sigma**2 + (1 - args.shared_axes) * own_sigma**2)
    topic_noise = (
        rng.standard_normal((c, d)).astype(np.float32) * shape * args.topic_spread
    ) @ rotation
    centers = unit(topics[parent] + topic_noise)
    spread = args.spread * np.exp(rng.normal(0.0, args.spread_sd, size=c))
    sigma = (shape * spread[:, None]).astype(np.float32)
    weights = np.exp(rng.normal(0.0, args.weight_sd, size=c))
    weights /= weights.sum()
    return Mixture(centers, sigma, weights, rotation)


def draw(mix: Mixture, rng: np.random.Generator, count: int) -> tuple[np.ndarray, np.ndarray]:
    labels = rng.choice(len(mix.weights), size=count, p=mix.weights).astype(np.int32)
    g = rng.standard_normal((count, mix.centers.shape[1]), dtype=np.float32)
    g *= mix.sigma[labels]
    x = mix.centers[labels] + g @ mix.rotation
    return unit(x), labels


@dataclass
class Data:
    path: Path
    n: int
    dim: int
    ids: np.ndarray  # (n,) int64 sorted, gappy: segment ids are not row numbers
    labels: np.ndarray
    queries: np.ndarray
    qlabels: np.ndarray
    warm: np.ndarray  # untimed warm-up queries
    gt: np.ndarray  # (nq, GT_DEPTH) ids, exact order
    gt_scores: np.ndarray

    def memmap(self) -> np.memmap:
        return np.memmap(self.path, dtype=np.float32, mode="r", shape=(self.n, self.dim))


def data_key(args: argparse.Namespace) -> str:
    fields = (
        "n",
        "dim",
        "queries",
        "seed",
        "clusters",
        "super",
        "alpha",
        "spread",
        "spread_sd",
        "topic_spread",
        "weight_sd",
        "mean_weight",
        "shared_axes",
    )
    return json.dumps({f: getattr(args, f) for f in fields}, sort_keys=True)


def prepare_data(args: argparse.Namespace, report: bool) -> Data:
    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    meta_path = work / "data.json"
    vec_path = work / "vectors.f32"
    key = data_key(args)
    fresh = not (
        meta_path.exists()
        and meta_path.read_text() == key
        and vec_path.exists()
        and (work / "meta.npz").exists()
    )
    if fresh or args.regen:
        meta_path.unlink(missing_ok=True)
        log(
            f"generating {args.n:,} x {args.dim} ({args.clusters} clusters, "
            f"{args.super} topics) ...  {load()}"
        )
        t0 = time.perf_counter()
        mix = make_mixture(args)
        rng = np.random.default_rng([args.seed, 1])
        labels = np.empty(args.n, dtype=np.int32)
        gen_s = write_s = 0.0
        with open(vec_path, "wb") as handle:
            for start in range(0, args.n, CHUNK):
                count = min(CHUNK, args.n - start)
                a = time.perf_counter()
                x, lab = draw(mix, rng, count)
                b = time.perf_counter()
                handle.write(x.tobytes())
                write_s += time.perf_counter() - b
                gen_s += b - a
                labels[start : start + count] = lab
            a = time.perf_counter()
            handle.flush()
            os.fsync(handle.fileno())
            fsync_s = time.perf_counter() - a
        size = args.n * args.dim * 4
        log(
            f"  generated in {gen_s:.1f} s; wrote {size / 2**30:.2f} GiB: "
            f"write() {write_s:.2f} s + "
            f"fsync {fsync_s:.2f} s = {write_s + fsync_s:.2f} s "
            f"({size / 2**20 / (write_s + fsync_s):.0f} MiB/s)"
        )
        qrng = np.random.default_rng([args.seed, 2])
        queries, qlabels = draw(mix, qrng, args.queries)
        warm, _ = draw(mix, qrng, 20)
        id_rng = np.random.default_rng([args.seed, 3])
        ids = 1000 + np.cumsum(id_rng.integers(1, 4, size=args.n)).astype(np.int64)
        gt, gt_scores = exact_ground_truth(vec_path, args.n, args.dim, queries, ids)
        np.savez(
            work / "meta.npz",
            ids=ids,
            labels=labels,
            queries=queries,
            qlabels=qlabels,
            warm=warm,
            gt=gt,
            gt_scores=gt_scores,
        )
        meta_path.write_text(key)
        log(f"  data ready in {time.perf_counter() - t0:.1f} s")
    z = np.load(work / "meta.npz")
    data = Data(
        vec_path,
        args.n,
        args.dim,
        z["ids"],
        z["labels"],
        z["queries"],
        z["qlabels"],
        z["warm"],
        z["gt"],
        z["gt_scores"],
    )
    if report:
        describe(data)
    return data


def exact_ground_truth(
    path: Path, n: int, dim: int, queries: np.ndarray, ids: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    t0 = time.perf_counter()
    mm = np.memmap(path, dtype=np.float32, mode="r", shape=(n, dim))
    heap = faiss.ResultHeap(len(queries), GT_DEPTH, keep_max=True)
    with threads(2):
        for start in range(0, n, 100_000):
            flat = faiss.IndexFlatIP(dim)
            flat.add(np.ascontiguousarray(mm[start : start + 100_000]))
            dist, rows = flat.search(queries, GT_DEPTH)
            heap.add_result(dist, rows + start)
    heap.finalize()
    del mm
    log(
        f"  exact ground truth (IndexFlatIP, {len(queries)} queries, top {GT_DEPTH}): "
        f"{time.perf_counter() - t0:.1f} s"
    )
    return ids[heap.I], heap.D.astype(np.float32)


def describe(data: Data) -> None:
    rows = np.searchsorted(data.ids, data.gt)
    lab = data.labels[rows]
    own = (lab[:, :K] == data.qlabels[:, None]).mean()
    distinct = np.mean([len(set(r)) for r in lab[:, :K]])
    one = np.mean([len(set(r)) == 1 for r in lab[:, :K]])
    s = data.gt_scores
    mm = data.memmap()
    rng = np.random.default_rng(0)
    a = mm[np.sort(rng.choice(data.n, 2000, replace=False))]
    rand_cos = float((a[:1000] * a[1000:]).sum(1).mean())
    sizes = np.bincount(data.labels)
    sizes = sizes[sizes > 0]
    log(
        f"data: {data.n:,} x {data.dim}, {len(sizes)} clusters (sizes p5/p50/p95 "
        + "/".join(f"{np.percentile(sizes, q):.0f}" for q in (5, 50, 95))
        + "), "
        f"{len(data.queries)} held-out queries"
    )
    log(
        f"  exact neighbours: cos@1 {s[:, 0].mean():.3f}, cos@10 {s[:, 9].mean():.3f}, "
        f"cos@100 {s[:, 99].mean():.3f}; random pair cos {rand_cos:.3f}"
    )
    log(
        f"  top-10 from the query's own cluster {own:.2f}; distinct clusters in top 10 "
        f"{distinct:.2f}; queries whose top 10 is one cluster {one:.2f}"
    )
    log(f"  gap cos@10 - cos@11 median {np.median(s[:, 9] - s[:, 10]):.4f}")


# -- building and searching -----------------------------------------------------


def train_sample(data: Data, n: int, size: int, seed: int) -> np.ndarray:
    """A random sample of the first ``n`` rows (the database being built)."""
    rng = np.random.default_rng([seed, 4, n])
    rows = np.sort(rng.choice(n, size=min(size, n), replace=False))
    mm = data.memmap()
    out = np.ascontiguousarray(mm[rows])
    del mm
    return out


def build(
    factory: str, data: Data, args: argparse.Namespace, n: int | None = None, quiet: bool = False
) -> tuple[Any, float, float]:
    n = data.n if n is None else n
    index = faiss.index_factory(data.dim, factory, faiss.METRIC_INNER_PRODUCT)
    ivf: Any = faiss.try_extract_index_ivf(index)
    nlist = ivf.nlist if ivf is not None else 0
    if ivf is not None:
        ivf.cp.niter = args.kmeans_iter
        ivf = faiss.downcast_index(ivf)
    for holder in (ivf, pq_holder(index)):
        if holder is not None and hasattr(holder, "do_polysemous_training"):
            # index_factory turns it on for PQ; it only serves Hamming pre-filtering (polysemous
            # search), which this store does not use, and costs minutes at M=64
            holder.do_polysemous_training = False
    hnsw = hnsw_of(index)
    if hnsw is not None:
        hnsw.hnsw.efConstruction = args.ef_construction
    pq = product_quantizer(index)
    if pq is not None:  # PQ codebook training: M k-means of 2^nbits centroids
        pq.cp.niter = args.pq_iter
        pq.cp.max_points_per_centroid = args.pq_points
    train_size = args.train_size or max(65_536, 40 * nlist)
    train_size = min(train_size, n)
    with threads(args.build_threads):
        xt = train_sample(data, n, train_size, args.seed)
        coarse_s, coarse_note = 0.0, ""
        if (
            isinstance(index, faiss.IndexIVF)
            and ivf.quantizer.ntotal == 0
            and isinstance(faiss.downcast_index(ivf.quantizer), faiss.IndexFlat)
        ):
            coarse_s, coarse_note = train_coarse(ivf, xt, n, train_size, args)
        t0 = time.perf_counter()
        if not index.is_trained:
            index.train(xt)
        encoder_s = time.perf_counter() - t0
        train_s = coarse_s + encoder_s
        del xt
        mm = data.memmap()
        t0 = time.perf_counter()
        for start in range(0, n, 100_000):
            stop = min(n, start + 100_000)
            index.add_with_ids(np.ascontiguousarray(mm[start:stop]), data.ids[start:stop])
            if args.progress:
                log(f"    added {stop:,}: {time.perf_counter() - t0:.1f} s  {load()}")
        add_s = time.perf_counter() - t0
        del mm
    if not quiet:
        log(
            f"built {factory!r}: train {train_s:.1f} s = coarse k-means {coarse_s:.1f} s"
            f"{coarse_note} + rest {encoder_s:.1f} s, on {train_size:,} vectors "
            f"(kmeans niter {args.kmeans_iter}, PQ niter {args.pq_iter} x {args.pq_points}"
            f"/centroid), add {add_s:.1f} s, total {train_s + add_s:.1f} s "
            f"({args.build_threads} threads)  {load()}"
        )
    return index, train_s, add_s


def train_coarse(
    ivf: Any, xt: np.ndarray, n: int, train_size: int, args: argparse.Namespace
) -> tuple[float, str]:
    """Train the IVF's flat coarse quantizer the way ``IndexIVF.train`` does, timed apart.

    The centroids are cached per (n, nlist, sample, iterations) so that encoders compared
    on the same nlist share one k-means; a reused run reports the time it first took.
    """
    nlist = ivf.nlist
    stem = Path(args.workdir) / f"coarse_n{n}_nlist{nlist}_t{train_size}_i{args.kmeans_iter}"
    if args.reuse_coarse and stem.with_suffix(".npy").exists():
        ivf.quantizer.add(np.load(stem.with_suffix(".npy")))
        took = float(stem.with_suffix(".json").read_text())
        return took, " (measured once, centroids reused)"
    t0 = time.perf_counter()
    clus = faiss.Clustering(ivf.d, nlist, ivf.cp)  # cp.spherical is set for inner product
    clus.train(xt, ivf.quantizer)
    took = time.perf_counter() - t0
    ivf.quantizer.is_trained = True
    np.save(stem.with_suffix(".npy"), faiss.vector_to_array(clus.centroids).reshape(nlist, ivf.d))
    stem.with_suffix(".json").write_text(str(took))
    return took, ""


def product_quantizer(index: Any) -> Any:
    return getattr(pq_holder(index), "pq", None)


def pq_holder(index: Any) -> Any:
    inner = index
    while True:
        if isinstance(inner, (faiss.IndexPreTransform, faiss.IndexIDMap)):
            inner = faiss.downcast_index(inner.index)
        elif isinstance(inner, faiss.IndexHNSW):
            inner = faiss.downcast_index(inner.storage)
        else:
            break
    return inner if hasattr(inner, "pq") else None


def hnsw_of(index: Any) -> Any:
    inner = faiss.downcast_index(index.index) if isinstance(index, faiss.IndexIDMap) else index
    return inner if isinstance(inner, faiss.IndexHNSW) else None


def params_for(index: Any, knob: str, value: int, sel: Any = None) -> Any:
    lib: Any = faiss  # the SWIG parameter classes take keyword arguments the stubs do not know
    extra = {"sel": sel} if sel is not None else {}
    if knob == "nprobe":
        p = lib.SearchParametersIVF(nprobe=value, **extra)
    else:
        p = lib.SearchParametersHNSW(efSearch=value, **extra)
    if isinstance(index, faiss.IndexPreTransform):
        # the selector goes to the inner index, the outer params only carry it
        return lib.SearchParametersPreTransform(index_params=p)
    return p


def index_memory(index: Any, workdir: Path) -> tuple[int, int]:
    """Serialised size, and RssAnon growth of ``read_index`` in a fresh process."""
    path = workdir / "index.faiss"
    faiss.write_index(index, str(path))
    size = path.stat().st_size
    code = (
        "import faiss, sys\n"
        "def anon():\n"
        "    for line in open('/proc/self/status'):\n"
        "        if line.startswith('RssAnon'): return int(line.split()[1]) * 1024\n"
        "a = anon(); idx = faiss.read_index(sys.argv[1]); b = anon(); print(b - a)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True
    )
    path.unlink()
    return size, int(out.stdout.strip())


class Reranker:
    """Exact re-ranking of candidate ids from the float32 rows on disk.

    ``gather="mmap"`` (default) reads them through an ``np.memmap`` (``--madvise random``
    turns off readahead on a miss); ``gather="pread"`` reads each row with ``os.preadv``
    into one buffer, so no page of the file is ever mapped into the process (RssFile
    stays flat; the page cache still holds what was read).
    """

    advice = "random"
    gather = "mmap"

    def __init__(self, data: Data) -> None:
        self.ids = data.ids
        self.dim = data.dim
        self.mm = data.memmap()
        if self.advice == "random":
            # no readahead on a miss: only the pages of the rows read come from disk
            self.mm._mmap.madvise(mmap.MADV_RANDOM)  # type: ignore[attr-defined]
        self.fd = os.open(data.path, os.O_RDONLY) if self.gather == "pread" else -1
        if self.fd >= 0 and self.advice == "random":
            os.posix_fadvise(self.fd, 0, 0, os.POSIX_FADV_RANDOM)

    def __del__(self) -> None:
        if getattr(self, "fd", -1) >= 0:
            os.close(self.fd)

    def rows(self, rows: np.ndarray) -> np.ndarray:
        if self.fd < 0:
            block: np.ndarray = self.mm[rows]
            return block
        width = self.dim * 4
        out = np.empty((len(rows), self.dim), dtype=np.float32)
        view = out.data.cast("B")
        fd, preadv = self.fd, os.preadv
        for i, row in enumerate(rows.tolist()):
            preadv(fd, [view[i * width : (i + 1) * width]], row * width)
        return out

    def top(self, q: np.ndarray, cand: np.ndarray, k: int = K) -> np.ndarray:
        cand = cand[cand >= 0]
        rows = np.searchsorted(self.ids, cand)
        rows.sort()
        block = self.rows(rows)
        scores = block @ q
        best = np.argpartition(-scores, k)[:k] if len(scores) > k else np.arange(len(scores))
        best = best[np.argsort(-scores[best])]
        return self.ids[rows[best]]


def recall(found: Sequence[np.ndarray], truth: np.ndarray) -> float:
    hits = [
        len(set(f[:K].tolist()) & set(t[:K].tolist())) for f, t in zip(found, truth, strict=True)
    ]
    return float(np.mean(hits)) / K


def timed_queries(
    index: Any, params: Any, data: Data, rr: Reranker, depth: int, queries: np.ndarray
) -> tuple[list[float], list[float], list[np.ndarray], list[np.ndarray]]:
    total, ann_t, found, raw = [], [], [], []
    with threads(1):
        for q in data.warm[:10]:
            _, ids = index.search(q[None], depth, params=params)
            rr.top(q, ids[0])
        for q in queries:
            t0 = time.perf_counter()
            _, ids = index.search(q[None], depth, params=params)
            t1 = time.perf_counter()
            top = rr.top(q, ids[0])
            t2 = time.perf_counter()
            total.append(t2 - t0)
            ann_t.append(t1 - t0)
            found.append(top)
            raw.append(ids[0])
    return total, ann_t, found, raw


def sweep(
    name: str, factory: str, knob: str, data: Data, args: argparse.Namespace, index: Any = None
) -> None:
    if index is None:
        index, _, _ = build(factory, data, args)
    size, anon = index_memory(index, Path(args.workdir))
    log(
        f"  index memory: serialised {mib(size)}, RssAnon delta of read_index {mib(anon)} "
        f"(+ id->row array {mib(data.ids.nbytes)})"
    )
    values = args.nprobe if knob == "nprobe" else args.ef
    log(
        f"  {'cfg':<34} {knob:>6} {'R':>4}  recall@10  ANN-only@10 cand-recall  "
        f"{'total latency ms':<28} ANN-part p50"
    )
    rr = Reranker(data)
    before = proc_status()
    for value in values:
        for depth in args.rerank:
            params = params_for(index, knob, value)
            total, ann_t, found, raw = timed_queries(index, params, data, rr, depth, data.queries)
            rec = recall(found, data.gt)
            ann_rec = recall(raw, data.gt)
            cand = np.mean(
                [
                    len(set(r.tolist()) & set(t[:K].tolist())) / K
                    for r, t in zip(raw, data.gt, strict=True)
                ]
            )
            log(
                f"  {name:<34} {value:>6} {depth:>4}  {rec:9.3f}  {ann_rec:11.3f} {cand:11.3f}  "
                f"{ms(total)}   {pct(ann_t, 50) * 1e3:6.2f}"
            )
    after = proc_status()
    log(
        f"  process RSS during the sweep: RssAnon +{mib(after['RssAnon'] - before['RssAnon'])}, "
        f"RssFile +{mib(after['RssFile'] - before['RssFile'])} (memmap pages touched)  {load()}"
    )
    if args.keep_index:
        faiss.write_index(index, str(Path(args.workdir) / f"{name}.faiss"))


# -- filtered queries -----------------------------------------------------------


def bitmap_selector(allowed: np.ndarray, max_id: int) -> tuple[Any, np.ndarray]:
    flags = np.zeros(max_id + 1, dtype=bool)
    flags[allowed] = True
    bits = np.packbits(flags, bitorder="little")
    return faiss.IDSelectorBitmap(len(flags), faiss.swig_ptr(bits)), bits


def filtered(data: Data, args: argparse.Namespace) -> None:
    name = args.filter_index
    path = Path(args.workdir) / f"{name}.faiss"
    if path.exists():
        index = faiss.read_index(str(path))
        log(f"filtered queries with {name} read from {path}")
    else:
        factory, _ = PRESETS[name]
        index, _, _ = build(factory.format(nlist=args.nlist), data, args)
        faiss.write_index(index, str(path))
    knob = PRESETS[name][1]
    rr = Reranker(data)
    mm = data.memmap()
    max_id = int(data.ids[-1])
    nq = min(args.filter_queries, len(data.queries))
    queries = data.queries[:nq]
    log(
        f"  {nq} queries per selectivity, k={K}; exact = gather the allowed rows from the memmap "
        f"(id->row searchsorted, rows in order) + one matrix-vector product"
    )
    log(
        f"  {'selectivity':>11} {'allowed':>9}  {'method':<30} {'recall':>6} {'==exact':>7}"
        "  latency ms"
    )
    for sel_frac in args.selectivity:
        count = max(K, round(sel_frac * data.n))
        rng = np.random.default_rng([args.seed, 6, count])
        allowed = np.sort(rng.choice(data.ids, size=count, replace=False))
        rows_all = np.searchsorted(data.ids, allowed)
        block = np.ascontiguousarray(mm[rows_all])
        with threads(2):
            scores = queries @ block.T
        truth = allowed[np.argsort(-scores, axis=1)[:, :K]]
        del block, scores
        # (a) exact scan of the allowed rows
        lat, found = [], []
        with threads(1):
            for q in data.warm[:3]:
                rr.top(q, allowed)
            for q in queries:
                t0 = time.perf_counter()
                found.append(rr.top(q, allowed))
                lat.append(time.perf_counter() - t0)
        same = np.mean(
            [set(f.tolist()) == set(t.tolist()) for f, t in zip(found, truth, strict=True)]
        )
        log(
            f"  {sel_frac:11.4f} {count:9,}  {'exact scan (' + Reranker.gather + ' gather)':<30} "
            f"{recall(found, truth):6.3f} "
            f"{same:7.2f}  {ms(lat)}"
        )
        # (b) ANN + selector + re-rank
        kinds = ["batch", "bitmap"] + (["array"] if count <= 20_000 and sel_frac == 0.01 else [])
        for kind in kinds:
            values = args.filter_nprobe if knob == "nprobe" else args.filter_ef
            if kind == "array":
                values = values[:1]  # a linear scan per membership test: one figure is enough
            for value in values:
                lat, found = [], []
                qs = queries if kind != "array" else queries[:20]
                with threads(1):
                    for q in qs:
                        t0 = time.perf_counter()
                        if kind == "batch":
                            sel: Any = faiss.IDSelectorBatch(allowed)
                        elif kind == "array":
                            sel = faiss.IDSelectorArray(allowed)
                        else:
                            sel, _bits = bitmap_selector(allowed, max_id)
                        params = params_for(index, knob, value, sel)
                        _, ids = index.search(q[None], args.filter_rerank, params=params)
                        found.append(rr.top(q, ids[0]))
                        lat.append(time.perf_counter() - t0)
                tr = truth[: len(qs)]
                same = np.mean(
                    [set(f.tolist()) == set(t.tolist()) for f, t in zip(found, tr, strict=True)]
                )
                label = f"ANN+{kind} {knob}={value} R={args.filter_rerank}"
                log(
                    f"  {sel_frac:11.4f} {count:9,}  {label:<30} {recall(found, tr):6.3f} "
                    f"{same:7.2f}  "
                    f"{ms(lat)}"
                )
    log(f"  {load()}")


# -- exact / approximate threshold ----------------------------------------------


def threshold(data: Data, args: argparse.Namespace) -> None:
    mm = data.memmap()
    name = args.threshold_index
    factory_t, knob = PRESETS[name]
    log(
        f"  {'n':>9}  {'exact IndexFlatIP (1 thread), ms':<42} {'ANN':<24} build s"
        "  ANN recall / latency"
    )
    for n in args.sizes:
        if n > data.n:
            continue
        flat = faiss.IndexFlatIP(data.dim)
        flat.add(np.ascontiguousarray(mm[:n]))
        lat = []
        with threads(1):
            for q in data.warm[:5]:
                flat.search(q[None], K)
            for q in data.queries[: args.threshold_queries]:
                t0 = time.perf_counter()
                flat.search(q[None], K)
                lat.append(time.perf_counter() - t0)
        # exact truth for this sub-database
        with threads(2):
            _, truth_rows = flat.search(data.queries, K)
        truth = data.ids[truth_rows]
        del flat
        # nlist ~ sqrt(n), a power of two (1024 at 1M, the configuration chosen there)
        nlist = max(64, 1 << round(float(np.log2(np.sqrt(n)))))
        factory = factory_t.format(nlist=nlist)
        index, train_s, add_s = build(factory, data, args, n=n, quiet=True)
        # a small Reranker over the first n rows: ids/memmap are shared (rows in id order)
        rr = Reranker(data)
        value = args.threshold_nprobe if knob == "nprobe" else args.ef[-1]
        params = params_for(index, knob, value)
        total, _, found, _ = timed_queries(
            index, params, data, rr, args.threshold_rerank, data.queries[: args.threshold_queries]
        )
        log(
            f"  {n:9,}  {ms(lat)} min {min(lat) * 1e3:6.2f}  {factory:<24} {train_s + add_s:7.1f}  "
            f"{recall(found, truth[: len(found)]):.3f} / {ms(total)} "
            f"({knob}={value}, R={args.threshold_rerank})"
        )
        del index
    log(f"  {load()}")


# -- page cache ---------------------------------------------------------------


def cold(data: Data, args: argparse.Namespace) -> None:
    name = args.filter_index
    path = Path(args.workdir) / f"{name}.faiss"
    if not path.exists():
        log(f"cold: run --sections ann --candidates {name} --keep-index first")
        return
    index = faiss.read_index(str(path))
    knob = PRESETS[name][1]
    params = params_for(index, knob, args.cold_nprobe)
    depth = args.cold_rerank
    q = data.queries

    def one(rr: Reranker, i: int) -> tuple[float, float]:
        with threads(1):
            t0 = time.perf_counter()
            _, ids = index.search(q[i][None], depth, params=params)
            t1 = time.perf_counter()
            rr.top(q[i], ids[0])
            return t1 - t0, time.perf_counter() - t1

    def evict() -> None:
        fd = os.open(data.path, os.O_RDONLY)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        os.close(fd)

    # warm everything once
    rr = Reranker(data)
    for i in range(len(q)):
        one(rr, i)
    warm = [one(rr, i)[1] for i in range(len(q))]
    del rr
    firsts = []
    for i in range(10):
        rr = Reranker(data)  # a fresh np.memmap: the first query maps its pages
        firsts.append(one(rr, i)[1])
        del rr
    cold_first: list[float] = []
    cold_rest: list[float] = []
    for i in range(10):
        evict()
        rr = Reranker(data)
        cold_first.append(one(rr, i)[1])
        cold_rest.extend(one(rr, j)[1] for j in range(10, 30))
        del rr
    log(
        f"  re-rank part only ({knob}={args.cold_nprobe}, R={depth} rows of 2 KiB, "
        f"gather {Reranker.gather}, madvise {Reranker.advice}):"
    )
    log(f"    warm page cache, same memmap:              {ms(warm)}")
    log(f"    first query after a fresh np.memmap (warm): {ms(firsts)}")
    log(f"    first query after posix_fadvise(DONTNEED):  {ms(cold_first)}")
    log(f"    next 20 queries after eviction (cold-ish):  {ms(cold_rest)}")
    log(f"  (the host may still cache the file below this VM: 'cold' is a lower bound)  {load()}")
    # filtered exact scan, cold
    count = int(0.01 * data.n)
    allowed = np.sort(
        np.random.default_rng([args.seed, 6, count]).choice(data.ids, count, replace=False)
    )
    lat_w, lat_c = [], []
    rr = Reranker(data)
    with threads(1):
        rr.top(q[0], allowed)
        for i in range(10):
            t0 = time.perf_counter()
            rr.top(q[i], allowed)
            lat_w.append(time.perf_counter() - t0)
    del rr
    for i in range(5):
        evict()
        rr = Reranker(data)
        with threads(1):
            t0 = time.perf_counter()
            rr.top(q[i], allowed)
            lat_c.append(time.perf_counter() - t0)
        del rr
    log(f"  filtered exact scan of {count:,} rows: warm {ms(lat_w)}; after eviction {ms(lat_c)}")


def write_speed(data: Data, args: argparse.Namespace) -> None:
    """Time writing the whole float32 file again, from memory, then fsync."""
    mm = data.memmap()
    step = 100_000
    buffer = np.ascontiguousarray(mm[:step])
    del mm
    target = Path(args.workdir) / "write_test.f32"
    t0 = time.perf_counter()
    with open(target, "wb") as handle:
        for start in range(0, data.n, step):
            handle.write(buffer[: min(step, data.n - start)].tobytes())
        t1 = time.perf_counter()
        handle.flush()
        os.fsync(handle.fileno())
    t2 = time.perf_counter()
    size = data.n * data.dim * 4
    target.unlink()
    log(
        f"  wrote {data.n:,} x {data.dim} float32 ({size / 2**30:.2f} GiB) from memory: write() "
        f"{t1 - t0:.2f} s + fsync {t2 - t1:.2f} s = {t2 - t0:.2f} s "
        f"({size / 2**20 / (t2 - t0):.0f} MiB/s)"
        f"  {load()}"
    )


# -- main -----------------------------------------------------------------------


def ints(text: str) -> list[int]:
    return [int(float(v)) for v in text.split(",") if v]


def floats(text: str) -> list[float]:
    return [float(v) for v in text.split(",") if v]


def main(argv: Sequence[str] | None = None) -> None:
    args = parser().parse_args(argv)
    run(args)


def parser() -> argparse.ArgumentParser:
    """The command line, also read by bench/ann.py for the data's parameters."""
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--n", type=int, default=1_000_000)
    p.add_argument("--dim", type=int, default=512)
    p.add_argument("--queries", type=int, default=300)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workdir", default=str(Path(tempfile.gettempdir()) / "mmsearch_ann_bench"))
    p.add_argument("--regen", action="store_true", help="regenerate the data even if cached")
    g = p.add_argument_group("data distribution")
    g.add_argument("--clusters", type=int, default=3000)
    g.add_argument("--super", type=int, default=60, help="coarse topics")
    g.add_argument("--alpha", type=float, default=1.5, help="noise spectrum power law")
    g.add_argument("--spread", type=float, default=1.0, help="within-cluster noise norm")
    g.add_argument("--spread-sd", type=float, default=0.25)
    g.add_argument(
        "--topic-spread", type=float, default=0.5, help="cluster centre noise around its topic"
    )
    g.add_argument("--weight-sd", type=float, default=0.8, help="log-normal sd of cluster weights")
    g.add_argument("--mean-weight", type=float, default=1.0, help="shared mean direction")
    g.add_argument(
        "--shared-axes",
        type=float,
        default=0.7,
        help="share of a cluster's noise variance along its topic's axes",
    )
    p.add_argument(
        "--sections",
        default="data,ann",
        help="comma list of data, ann, filtered, threshold, write, cold",
    )
    g = p.add_argument_group("ANN candidates")
    g.add_argument("--candidates", default="ivfpq128fs", help=f"comma list of {', '.join(PRESETS)}")
    g.add_argument(
        "--factory",
        action="append",
        default=[],
        help="extra index_factory string (knob nprobe unless it has HNSW without IVF)",
    )
    g.add_argument("--nlist", type=int, default=1024)
    g.add_argument("--nprobe", type=ints, default=[8, 16, 32])
    g.add_argument("--ef", type=ints, default=[32, 64, 128, 256])
    g.add_argument("--ef-construction", type=int, default=40)
    g.add_argument("--rerank", type=ints, default=[100, 200, 300, 500])
    g.add_argument("--train-size", type=int, default=0, help="0: max(65536, 40 * nlist)")
    g.add_argument("--kmeans-iter", type=int, default=10)
    g.add_argument("--pq-iter", type=int, default=10, help="PQ codebook k-means iterations")
    g.add_argument(
        "--pq-points",
        type=int,
        default=64,
        help="PQ codebook training points per centroid (x 2^nbits per sub-quantizer)",
    )
    g.add_argument("--build-threads", type=int, default=2)
    g.add_argument(
        "--reuse-coarse",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="share one coarse k-means between candidates with the same nlist",
    )
    g.add_argument("--progress", action="store_true", help="print the time of each 100k added")
    g.add_argument("--keep-index", action="store_true", help="write <workdir>/<candidate>.faiss")
    g = p.add_argument_group("filtered / threshold / cold")
    g.add_argument(
        "--filter-index", default="ivfpq128fs", help="preset (reads <workdir>/<name>.faiss)"
    )
    g.add_argument("--selectivity", type=floats, default=[0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2])
    g.add_argument("--filter-nprobe", type=ints, default=[16, 64, 256, 1024])
    g.add_argument("--filter-ef", type=ints, default=[128, 512])
    g.add_argument("--filter-rerank", type=int, default=300)
    g.add_argument("--filter-queries", type=int, default=100)
    g.add_argument("--sizes", type=ints, default=[50_000, 100_000, 200_000, 500_000])
    g.add_argument("--threshold-index", default="ivfpq128fs")
    g.add_argument("--threshold-nprobe", type=int, default=16)
    g.add_argument("--threshold-rerank", type=int, default=300)
    g.add_argument("--threshold-queries", type=int, default=200)
    g.add_argument("--cold-nprobe", type=int, default=16)
    g.add_argument("--cold-rerank", type=int, default=300)
    p.add_argument(
        "--madvise",
        choices=("normal", "random"),
        default="random",
        help="madvise() of the memmap the re-rank reads",
    )
    p.add_argument(
        "--gather",
        choices=("mmap", "pread"),
        default="mmap",
        help="how the re-rank reads float32 rows: np.memmap, or one os.preadv per row",
    )
    return p


def run(args: argparse.Namespace) -> None:
    Reranker.advice = args.madvise
    Reranker.gather = args.gather
    sections = [s for s in args.sections.split(",") if s]

    log(f"faiss {faiss.__version__}, numpy {np.__version__}, {os.cpu_count()} CPUs, {load()}")
    log(f"args: {vars(args)}")
    data = prepare_data(args, report="data" in sections)
    t_all = time.perf_counter()
    if "ann" in sections:
        jobs = [
            (c, PRESETS[c][0].format(nlist=args.nlist), PRESETS[c][1])
            for c in args.candidates.split(",")
            if c
        ]
        jobs += [(f, f, "ef" if "HNSW" in f and "IVF" not in f else "nprobe") for f in args.factory]
        for name, factory, knob in jobs:
            log(f"\n== {name}: {factory}")
            sweep(name, factory, knob, data, args)
    if "filtered" in sections:
        log("\n== filtered queries")
        filtered(data, args)
    if "threshold" in sections:
        log("\n== exact / approximate threshold")
        threshold(data, args)
    if "write" in sections:
        log("\n== writing the vectors file")
        write_speed(data, args)
    if "cold" in sections:
        log("\n== page cache")
        cold(data, args)
    log(f"\ndone in {time.perf_counter() - t_all:.1f} s  {load()}")


if __name__ == "__main__":
    main()
