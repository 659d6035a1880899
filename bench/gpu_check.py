"""GPU check: open_clip image encoding and FAISS search on one machine with an NVIDIA GPU.

One prepared script, so a GPU machine's few minutes go to measuring. It prints every figure
with its unit, and at the end one line per part that could not run on a GPU.

(a) Images. It writes ``--images`` (4096) photo-like 256x256 pictures (7 in 8 JPEG, the rest
PNG) to a temporary folder, loads open_clip ViT-B-32 with RANDOM weights
(``ViT-B-32:random``: the real model's compute, no download) through the mmsearch-open-clip
plugin, so the device choice (``MMSEARCH_DEVICE``) and the fp16 check at load are the ones
the engine uses, and measures, at ``--batch`` (256) images per forward pass:

- decode only: JPEG/PNG decode + open_clip's reference preprocessing on ``--workers`` CPU
  workers, no model: threads (as the engine and the plugin decode), then worker processes
  (a torch DataLoader; its batches travel through /dev/shm, so a small /dev/shm is said,
  not fatal);
- encode only: the image tower on one preprocessed batch already on the device, vectors
  back on the CPU as float32; also in fp32, with the cosine of fp16 to fp32 vectors;
- end to end: decode on the same CPU workers overlapped with the forward passes (the next
  batches decode while the GPU runs one), with threads and with processes;
- plugin encode_batch: ``OpenClipEncoder.encode_batch`` on decoded PIL images (preprocessing
  in the plugin's threads, then the GPU), the call the engine makes; decoding excluded.

(b) Search. ``--vectors`` (1,000,000) x 512 clustered, unit-length float32 vectors in FAISS:
a flat inner-product index and an IVF-Flat index, each copied to the GPU with
``faiss.index_cpu_to_all_gpus``: single-query and batch-of-256 latency (p50, p95) and
recall@10 against exact CPU search on 100 queries. Without GPU support in faiss (faiss-cpu
is installed, or faiss sees no GPU) it says so and measures the CPU index instead.

Setup on the GPU machine, from the repository root. The default PyPI torch wheel
(torch 2.14.1 is built for CUDA 13.0) needs nothing more; faiss-gpu and faiss-cpu both
install the ``faiss`` module, so faiss-cpu goes and faiss-gpu is reinstalled over the files
that removing faiss-cpu deleted (the ``gpu`` extra in pyproject.toml says why):

    ./scripts/setup              # or: pip install -e . -e plugins/mmsearch-open-clip
    .venv/bin/pip install -e ".[gpu]"
    .venv/bin/pip uninstall -y faiss-cpu
    .venv/bin/pip install --force-reinstall --no-deps "faiss-gpu>=1.14.3"
    .venv/bin/python bench/gpu_check.py --json gpu_check.json

Sized to finish within about 5 minutes on one GPU with 16 cores (an estimate: it has not
run on a GPU yet). Exit status 1 after a full run means some part could not use a GPU (the
summary names it); the figures it printed are still valid for what they say.

``--smoke`` runs every step at tiny sizes on any machine (no GPU needed) to prove the script
works; its figures mean nothing. ``--json PATH`` also writes the figures as JSON.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import platform
import shutil
import sys
import tempfile
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

K = 10


@dataclasses.dataclass(frozen=True)
class Sizes:
    images: int
    side: int
    batch: int
    encode_repeats: int
    vectors: int
    clusters: int
    single_queries: int
    query_batches: int
    recall_queries: int
    nlist: int
    nprobes: tuple[int, ...]


FULL = Sizes(4096, 256, 256, 20, 1_000_000, 1000, 500, 20, 100, 4096, (16, 64))
SMOKE = Sizes(32, 256, 16, 2, 20_000, 50, 30, 3, 20, 64, (8,))


class Report:
    """Prints each figure with its unit and keeps it for the JSON file."""

    def __init__(self) -> None:
        self.figures: dict[str, dict[str, Any]] = {}
        self.fallbacks: list[str] = []

    def section(self, title: str) -> None:
        print(f"\n== {title}", flush=True)

    def figure(self, name: str, value: float, unit: str, note: str = "") -> None:
        shown = f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.4g}"
        print(f"  {name:<58} {shown:>12} {unit}{'  (' + note + ')' if note else ''}", flush=True)
        self.figures[name] = {"value": value, "unit": unit, "note": note}

    def fact(self, name: str, value: object) -> None:
        print(f"  {name:<58} {value}", flush=True)
        self.figures[name] = {"value": str(value)}

    def fallback(self, message: str) -> None:
        print(f"  FALLBACK: {message}", flush=True)
        self.fallbacks.append(message)


def timed(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def percentiles(seconds: Sequence[float]) -> tuple[float, float]:
    ms = np.asarray(seconds) * 1000.0
    return float(np.percentile(ms, 50)), float(np.percentile(ms, 95))


# -- (a) images --------------------------------------------------------------------------------


def _picture(index: int, side: int) -> Image.Image:
    """A photo-like picture: smooth colour fields, a disc, stripes and sensor-like noise."""
    rng = np.random.default_rng(index)
    ys, xs = np.mgrid[0:side, 0:side].astype(np.float32) / side
    phase = rng.random(3) * 6.28
    base = np.stack([np.sin(xs * (2 + i) + ys * (1 + i) + phase[i]) for i in range(3)], -1)
    pixels = 128 + 80 * base
    cx, cy, r = rng.random(3) * [1, 1, 0.3]
    pixels[(xs - cx) ** 2 + (ys - cy) ** 2 < r**2] = rng.random(3) * 255
    pixels += (10 * np.sin(xs * side * rng.random() + ys * 9))[..., None]
    pixels += rng.normal(0, 6, pixels.shape)
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def _write_pictures(folder: str, start: int, stop: int, side: int) -> list[str]:
    paths = []
    for index in range(start, stop):
        picture = _picture(index, side)
        if index % 8 == 7:
            path = os.path.join(folder, f"img{index:05d}.png")
            picture.save(path)
        else:
            path = os.path.join(folder, f"img{index:05d}.jpg")
            picture.save(path, quality=90)
        paths.append(path)
    return paths


def write_pictures(folder: Path, count: int, side: int, workers: int) -> list[str]:
    step = max(1, count // (workers * 4))
    starts = list(range(0, count, step))
    stops = [min(count, start + step) for start in starts]
    n = len(starts)
    with ProcessPoolExecutor(workers) as pool:
        chunks = pool.map(_write_pictures, [str(folder)] * n, starts, stops, [side] * n)
        return [path for chunk in chunks for path in chunk]


class Files:
    """A map-style dataset: file -> decoded, preprocessed tensor (runs in DataLoader workers)."""

    def __init__(self, paths: Sequence[str], transform: Callable[[Image.Image], Any]) -> None:
        self.paths = list(paths)
        self.transform = transform

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> Any:
        with Image.open(self.paths[index]) as picture:
            return self.transform(picture.convert("RGB"))


def loader(files: Files, batch: int, workers: int, pin: bool) -> Any:
    from torch.utils.data import DataLoader

    dataset: Any = files  # map-style: __len__ and __getitem__ are all DataLoader uses
    return DataLoader(dataset, batch_size=batch, num_workers=workers, pin_memory=pin, timeout=300)


def threaded(files: Files, batch: int, pool: ThreadPoolExecutor, ahead: int = 2) -> Iterator[Any]:
    """Batches of ``files`` in order, decoded image by image in ``pool``; the next ``ahead``
    batches decode while the caller works on one."""
    import torch

    chunks = iter(_chunks(range(len(files)), batch))
    pending: deque[list[Any]] = deque()

    def submit() -> None:
        chunk = next(chunks, None)
        if chunk is not None:
            pending.append([pool.submit(files.__getitem__, i) for i in chunk])

    for _ in range(ahead + 1):
        submit()
    while pending:
        futures = pending.popleft()
        submit()
        yield torch.stack([future.result() for future in futures])


def synchronize(device: Any) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def image_part(sizes: Sizes, workers: int, arch: str, report: Report, smoke: bool) -> None:
    import torch
    from mmsearch_open_clip import OpenClipEncoder
    from mmsearch_open_clip.runtime import ImageTower, create_model

    from mmsearch.torch_device import DeviceError, encoder_device

    report.section("(a) open_clip image encoding")
    report.fact("torch", f"{torch.__version__} (built for CUDA {torch.version.cuda})")
    try:
        device = encoder_device()
    except DeviceError as exc:
        report.fallback(f"image part not run: {exc}")
        return
    if device.type != "cuda":
        why = (
            f"torch sees no CUDA device (torch.cuda.is_available() is "
            f"{torch.cuda.is_available()}; nvidia-smi "
            f"{'found' if shutil.which('nvidia-smi') else 'not found'})"
        )
        if not smoke:
            report.fallback(f"image part not run: {why}; --smoke runs it on the CPU")
            return
        report.fallback(f"{why}: the smoke run measures the CPU")
    report.fact("device", f"{device} ({_device_name(device)})")

    with tempfile.TemporaryDirectory(prefix="mmsearch-gpu-check-") as tmp:
        started = time.perf_counter()
        paths = write_pictures(Path(tmp), sizes.images, sizes.side, workers)
        seconds = time.perf_counter() - started
        megabytes = sum(os.path.getsize(p) for p in paths) / 1e6
        report.figure(
            f"wrote {len(paths)} {sizes.side}x{sizes.side} pictures",
            seconds,
            "s",
            f"{megabytes:.0f} MB, 7/8 JPEG q90, 1/8 PNG",
        )

        encoder = OpenClipEncoder(f"{arch}:random")
        seconds = timed(encoder.model)
        loaded = encoder.model()
        tower = loaded.images
        report.figure(f"load {arch} (random weights) + precision checks", seconds, "s")
        report.fact("image tower precision", _name(tower.dtype))
        report.fact("text tower precision", _name(loaded.texts.dtype))
        report.fact("encoder batch_size attribute", encoder.batch_size)

        files = Files(paths, tower.preprocess)
        pool = ThreadPoolExecutor(workers, thread_name_prefix="decode")
        sum(len(b) for b in threaded(files, sizes.batch, pool))  # warm-up: page cache
        seconds = timed(lambda: sum(len(b) for b in threaded(files, sizes.batch, pool)))
        report.figure(
            f"decode only, {workers} threads",
            len(paths) / seconds,
            "images/s",
            "decode + reference preprocessing, no model",
        )

        batch = torch.stack([files[i] for i in range(min(sizes.batch, len(files)))])
        on_device = batch.to(device, tower.dtype)
        _encode_only(report, tower, on_device, sizes, device, str(tower.dtype))
        if tower.dtype != torch.float32:
            fp32 = ImageTower(create_model(encoder.choice).to(device), 1, device, torch.float32)
            _encode_only(report, fp32, batch.to(device), sizes, device, "torch.float32")
            cosines = (tower.forward(on_device) * fp32.forward(batch.to(device))).sum(-1)
            report.figure(
                f"cosine {_name(tower.dtype)} to fp32 vectors, min over {len(batch)} images",
                float(cosines.min()),
                "",
                "random weights",
            )
            del fp32

        def end_to_end(batches: Iterator[Any]) -> None:
            for tensors in batches:
                tower.forward(tensors.to(device, non_blocking=True))

        seconds = timed(lambda: end_to_end(threaded(files, sizes.batch, pool)))
        report.figure(
            f"end to end: decode on {workers} threads overlapped with encode",
            len(paths) / seconds,
            "images/s",
            f"batch {sizes.batch}",
        )
        try:
            _processes(report, files, sizes, workers, device, end_to_end)
        except Exception as exc:  # e.g. a /dev/shm too small for the batches
            report.fallback(f"DataLoader worker processes failed: {type(exc).__name__}: {exc}")

        pictures = list(pool.map(_decoded, paths))
        pool.shutdown()
        chunks = list(_chunks(pictures, sizes.batch))
        encoder.encode_batch("image", chunks[0])  # warm-up
        seconds = timed(lambda: [encoder.encode_batch("image", chunk) for chunk in chunks])
        report.figure(
            "plugin encode_batch from decoded PIL images",
            len(pictures) / seconds,
            "images/s",
            "preprocess in the plugin's threads + encode; decode excluded",
        )


def _processes(
    report: Report,
    files: Files,
    sizes: Sizes,
    workers: int,
    device: Any,
    end_to_end: Callable[[Iterator[Any]], None],
) -> None:
    pin = device.type == "cuda"

    def decode_pass() -> int:
        return sum(len(b) for b in loader(files, sizes.batch, workers, pin))

    decode_pass()  # warm-up: worker start
    seconds = timed(decode_pass)
    report.figure(
        f"decode only, {workers} worker processes",
        len(files) / seconds,
        "images/s",
        "torch DataLoader",
    )
    seconds = timed(lambda: end_to_end(iter(loader(files, sizes.batch, workers, pin))))
    report.figure(
        f"end to end: decode on {workers} processes overlapped with encode",
        len(files) / seconds,
        "images/s",
        f"batch {sizes.batch}",
    )


def _name(dtype: Any) -> str:
    return str(dtype).replace("torch.", "")


def _decoded(path: str) -> Image.Image:
    with Image.open(path) as picture:
        return picture.convert("RGB")


def _encode_only(
    report: Report, tower: Any, batch: Any, sizes: Sizes, device: Any, dtype: str
) -> None:
    tower.forward(batch)  # warm-up: kernels, allocator
    synchronize(device)
    seconds = timed(lambda: [tower.forward(batch) for _ in range(sizes.encode_repeats)])
    rate = sizes.encode_repeats * len(batch) / seconds
    report.figure(
        f"encode only, {_name(dtype)}, batch {len(batch)}",
        rate,
        "images/s",
        "input on the device, vectors back on the CPU",
    )


def _device_name(device: Any) -> str:
    import torch

    if device.type == "cuda":
        return str(torch.cuda.get_device_name(device))
    return platform.processor() or platform.machine()


# -- (b) search --------------------------------------------------------------------------------


def clustered(count: int, dim: int, centers: Any, seed: int, chunk: int = 100_000) -> Any:
    """Unit rows around random unit centres (cosine to their centre about 0.86)."""
    rng = np.random.default_rng(seed)
    out = np.empty((count, dim), dtype=np.float32)
    for start in range(0, count, chunk):
        n = min(chunk, count - start)
        labels = rng.integers(0, len(centers), n)
        rows = centers[labels] + rng.standard_normal((n, dim), dtype=np.float32) * (
            0.6 / np.sqrt(dim)
        )
        rows /= np.linalg.norm(rows, axis=1, keepdims=True)
        out[start : start + n] = rows
    return out


def _gpu_faiss(faiss: Any, report: Report) -> bool:
    if not hasattr(faiss, "StandardGpuResources"):
        report.fallback(
            "this faiss has no GPU support (faiss-cpu is installed): measuring the CPU index. "
            "Switch with: pip uninstall -y faiss-cpu && pip install --force-reinstall "
            '--no-deps "faiss-gpu>=1.14.3" (see the gpu extra in pyproject.toml)'
        )
        return False
    if faiss.get_num_gpus() < 1:
        report.fallback("faiss has GPU support but sees no GPU: measuring the CPU index")
        return False
    return True


def _latency(index: Any, queries: Any, sizes: Sizes, label: str, report: Report) -> None:
    for i in range(5):
        index.search(queries[i : i + 1], K)  # warm-up
    singles = []
    for i in range(sizes.single_queries):
        started = time.perf_counter()
        index.search(queries[i : i + 1], K)
        singles.append(time.perf_counter() - started)
    p50, p95 = percentiles(singles)
    report.figure(f"{label}: single query p50", p50, "ms", f"{len(singles)} queries, k={K}")
    report.figure(f"{label}: single query p95", p95, "ms")
    batches = []
    for j in range(sizes.query_batches):
        block = queries[j * 256 : (j + 1) * 256]
        started = time.perf_counter()
        index.search(block, K)
        batches.append(time.perf_counter() - started)
    p50, p95 = percentiles(batches)
    report.figure(f"{label}: batch of 256 p50", p50, "ms", f"{len(batches)} batches")
    report.figure(f"{label}: batch of 256 p95", p95, "ms")
    report.figure(f"{label}: batch of 256 throughput at p50", 256 / (p50 / 1000), "queries/s")


def _recall(index: Any, queries: Any, exact: Any, label: str, report: Report) -> None:
    _, found = index.search(queries, K)
    hits = [len(set(a) & set(b)) for a, b in zip(found.tolist(), exact.tolist(), strict=True)]
    report.figure(
        f"{label}: recall@{K} vs exact CPU", float(np.mean(hits)) / K, "", f"{len(queries)} queries"
    )


def search_part(sizes: Sizes, report: Report) -> None:
    import faiss

    report.section("(b) FAISS search")
    report.fact("faiss", f"{faiss.__version__}")
    on_gpu = _gpu_faiss(faiss, report)
    dim = 512
    rng = np.random.default_rng(0)
    centers = rng.standard_normal((sizes.clusters, dim)).astype(np.float32)
    centers /= np.linalg.norm(centers, axis=1, keepdims=True)
    started = time.perf_counter()
    data = clustered(sizes.vectors, dim, centers, seed=1)
    queries = clustered(sizes.single_queries + 256 * sizes.query_batches, dim, centers, seed=2)
    report.figure(
        f"made {sizes.vectors:,} x {dim} clustered vectors",
        time.perf_counter() - started,
        "s",
        f"{sizes.clusters} clusters",
    )
    recall_queries = queries[: sizes.recall_queries]

    cpu_flat = faiss.IndexFlatIP(dim)
    cpu_flat.add(data)
    started = time.perf_counter()
    _, exact = cpu_flat.search(recall_queries, K)
    report.figure(
        f"exact CPU flat search of {len(recall_queries)} queries",
        (time.perf_counter() - started) * 1000,
        "ms",
        "the recall reference",
    )
    where = "GPU" if on_gpu else "CPU"
    flat: Any = cpu_flat
    if on_gpu:
        report.fact("GPUs faiss sees", faiss.get_num_gpus())
        started = time.perf_counter()
        flat = faiss.index_cpu_to_all_gpus(cpu_flat)
        report.figure("flat index copied to the GPU(s)", time.perf_counter() - started, "s")
    _latency(flat, queries, sizes, f"{where} flat IP", report)
    _recall(flat, recall_queries, exact, f"{where} flat IP", report)
    del flat
    try:
        _ivf(faiss, data, queries, recall_queries, exact, sizes, on_gpu, report)
    except Exception as exc:  # the flat figures stand; say why IVF has none
        report.fallback(f"IVF part failed: {type(exc).__name__}: {exc}")


def _ivf(
    faiss: Any,
    data: Any,
    queries: Any,
    recall_queries: Any,
    exact: Any,
    sizes: Sizes,
    on_gpu: bool,
    report: Report,
) -> None:
    dim = data.shape[1]
    cpu_ivf = faiss.IndexIVFFlat(
        faiss.IndexFlatIP(dim), dim, sizes.nlist, faiss.METRIC_INNER_PRODUCT
    )
    index = faiss.index_cpu_to_all_gpus(cpu_ivf) if on_gpu else cpu_ivf
    sample = data[
        np.random.default_rng(3).choice(len(data), min(len(data), 40 * sizes.nlist), replace=False)
    ]
    where = "GPU" if on_gpu else "CPU"
    seconds = timed(lambda: index.train(sample))
    report.figure(f"{where} IVF{sizes.nlist},Flat: train on {len(sample):,}", seconds, "s")
    seconds = timed(lambda: index.add(data))
    report.figure(f"{where} IVF{sizes.nlist},Flat: add {len(data):,}", seconds, "s")
    space = faiss.GpuParameterSpace() if on_gpu else faiss.ParameterSpace()
    for nprobe in sizes.nprobes:
        space.set_index_parameter(index, "nprobe", nprobe)
        label = f"{where} IVF{sizes.nlist},Flat nprobe={nprobe}"
        _latency(index, queries, sizes, label, report)
        _recall(index, recall_queries, exact, label, report)


# -- main --------------------------------------------------------------------------------------


def _quiet_logs() -> None:
    """The plugin's device and precision lines on stderr; not open_clip's chatter."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("  log: %(message)s"))
    for name in ("mmsearch", "mmsearch_open_clip"):
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.setLevel(logging.INFO)
        logger.propagate = False


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, any machine")
    parser.add_argument(
        "--workers", type=int, default=None, help="CPU decode workers (default: the usable cores)"
    )
    parser.add_argument("--arch", default="ViT-B-32", help="open_clip architecture")
    parser.add_argument("--images", type=int, help="pictures to write and encode")
    parser.add_argument("--vectors", type=int, help="vectors in the search index")
    parser.add_argument("--skip-images", action="store_true")
    parser.add_argument("--skip-search", action="store_true")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    sizes = SMOKE if args.smoke else FULL
    sizes = dataclasses.replace(
        sizes, images=args.images or sizes.images, vectors=args.vectors or sizes.vectors
    )
    workers = args.workers or max(1, len(os.sched_getaffinity(0)))
    _quiet_logs()
    report = Report()
    started = time.perf_counter()
    report.section("machine")
    report.fact("python", f"{platform.python_version()} on {platform.platform()}")
    report.fact("usable CPU cores", len(os.sched_getaffinity(0)))
    report.fact("load average", " ".join(f"{x:.2f}" for x in os.getloadavg()))
    report.fact("mode", "smoke (tiny sizes: figures mean nothing)" if args.smoke else "full")
    if not args.skip_images:
        image_part(sizes, workers, args.arch, report, args.smoke)
    if not args.skip_search:
        search_part(sizes, report)
    report.section("summary")
    report.figure("total wall time", time.perf_counter() - started, "s")
    for message in report.fallbacks:
        print(f"  not on a GPU: {message}")
    if args.json:
        args.json.write_text(
            json.dumps({"figures": report.figures, "fallbacks": report.fallbacks}, indent=2)
        )
    # A full run in which any part could not use a GPU is a failed GPU check.
    return 1 if report.fallbacks and not args.smoke else 0


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


if __name__ == "__main__":
    sys.exit(main())
