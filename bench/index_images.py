"""Benchmark: images/s of indexing JPEG photos with open_clip, against two baselines.

Generates photo-like JPEGs of 0.5 MP (816x612) and 12 MP (4000x3000) in a temporary
folder, loads open_clip ViT-B-32 with random weights (``ViT-B-32:random``: the
same compute as the real weights, which cannot be downloaded here), and measures
in one run, with the same loaded model:

- **engine**: ``Library.index(folder)`` end to end on a fresh catalog (hash, decode
  in the engine's thread pool, encode in batches, SQLite, FAISS save);
- **(a) bare forward**: the image tower on pre-decoded, pre-processed tensors, in
  batches of the encoder's batch size: the ceiling for any pipeline;
- **(b) naive loop**: ``Image.open`` -> open_clip's preprocess -> forward, one image
  at a time, as a first script would do it.

Then it times the pieces (decode with and without JPEG draft mode, preprocessing,
forward) so a reader sees where the time goes.

Targets on a 2-core machine: >= 40 images/s at 0.5 MP and >= 15 images/s at 12 MP,
>= 0.8 of (a) and >= 2x (b).

This is not a test: it prints figures. Run from the repository root:

    .venv/bin/python bench/index_images.py                    # ~4 minutes
    .venv/bin/python bench/index_images.py --small 32 --large 8   # smoke run
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from PIL import Image

from mmsearch import hookimpl

T = TypeVar("T")
SIZES = {"0.5 MP": (816, 612), "12 MP": (4000, 3000)}
TARGETS = {"0.5 MP": 40.0, "12 MP": 15.0}


def load_line() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def timed(fn: Callable[[], T]) -> tuple[T, float]:
    started = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - started


# -- data -------------------------------------------------------------------------------


def photo(size: tuple[int, int], seed: int, grain: np.ndarray[Any, Any]) -> Image.Image:
    """A camera-like picture: smooth random shapes, fine texture and sensor noise.

    A small random field upscaled gives the shapes; a shared grain tile, shifted per
    image, gives the high-frequency detail that makes JPEG files (and their
    decoding) as heavy as a real photo's.
    """
    width, height = size
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, (height // 64 + 2, width // 64 + 2, 3), dtype=np.uint8)
    base = Image.fromarray(coarse).resize((width, height), Image.Resampling.BICUBIC)
    pixels = np.asarray(base, dtype=np.int16)
    dy, dx = rng.integers(0, 64, 2)
    reps = (height // grain.shape[0] + 2, width // grain.shape[1] + 2, 1)
    texture = np.tile(grain, reps)[dy : dy + height, dx : dx + width]
    return Image.fromarray(np.clip(pixels + texture, 0, 255).astype(np.uint8))


def make_photos(folder: Path, count: int, size: tuple[int, int], seed: int) -> list[Path]:
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    grain = rng.normal(0, 7, (256, 256, 1)).astype(np.int16)
    grain += (10 * np.sin(np.arange(256) * 0.8)).astype(np.int16)[None, :, None]
    paths = []
    for i in range(count):
        path = folder / f"IMG_{i:05d}.jpg"
        photo(size, seed * 100_000 + i, grain).save(path, quality=90)
        paths.append(path)
    return paths


# -- the three ways of embedding ---------------------------------------------------------


def bare_forward(encoder: Any, images: Sequence[Image.Image], seconds: float) -> float:
    """(a): images/s of the image tower alone on ready tensors, in encoder-sized batches."""
    tower = encoder.model().images
    batch = tower.tensors(list(images)[: encoder.batch_size])
    tower.forward(batch)  # warm-up
    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        tower.forward(batch)
        done += len(batch)
    return done / (time.perf_counter() - started)


def naive_loop(encoder: Any, paths: Sequence[Path]) -> float:
    """(b): images/s of open -> reference preprocess -> forward, one image at a time."""
    tower = encoder.model().images
    started = time.perf_counter()
    for path in paths:
        image = Image.open(path).convert("RGB")
        tower.forward(tower.preprocess(image).unsqueeze(0))
    return len(paths) / (time.perf_counter() - started)


class BenchPlugin:
    """Exactly the Pillow image extractor and the already loaded encoder."""

    __name__ = "index-images-bench"

    def __init__(self, encoder: Any) -> None:
        self.encoder = encoder

    @hookimpl
    def register_extractors(self, register: Callable[[Any], None]) -> None:
        from mmsearch_images import PillowImageExtractor

        register(PillowImageExtractor())

    @hookimpl
    def register_encoders(self, register: Callable[[Any], None]) -> None:
        register(self.encoder)


def engine(encoder: Any, folder: Path, db: Path) -> tuple[float, Any]:
    """images/s of ``Library.index`` on a fresh catalog, and its report."""
    from mmsearch import Library
    from mmsearch.plugins import load_plugins

    plugin = BenchPlugin(encoder)
    with Library.open(db, registry=load_plugins(plugin, discover=False)) as lib:
        report = lib.index(folder)
    if report.failed or report.skipped:
        sys.exit(f"indexing went wrong: {report.to_json()}")
    return report.indexed / report.seconds, report


# -- pieces ---------------------------------------------------------------------------


def decode_rate(paths: Sequence[Path], min_side: int | None, workers: int) -> float:
    """images/s of the engine's extraction step alone (hash + decode) in ``workers`` threads."""
    from mmsearch_images import PillowImageExtractor

    from mmsearch import ExtractSettings, Source
    from mmsearch.index.extraction import extract_file

    options = {} if min_side is None else {"image_min_side": min_side}
    settings = ExtractSettings(options=options)
    extractors = [PillowImageExtractor()]

    def one(path: Path) -> None:
        raw = os.fsencode(path)
        outcome = extract_file(extractors, Source(raw, str(path), path.stat().st_size, settings))
        assert outcome.status == "done", outcome.detail

    started = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(one, paths))
    return len(paths) / (time.perf_counter() - started)


def decoded(paths: Sequence[Path], min_side: int | None) -> list[Image.Image]:
    from mmsearch_images import PillowImageExtractor

    from mmsearch import ExtractSettings, Source

    options = {} if min_side is None else {"image_min_side": min_side}
    out = []
    for path in paths:
        source = Source(os.fsencode(path), str(path), 0, ExtractSettings(options=options))
        out.append(next(iter(PillowImageExtractor().extract(source))).content)
    return out


def preprocess_ms(encoder: Any, images: Sequence[Image.Image]) -> float:
    tower = encoder.model().images
    _, seconds = timed(lambda: tower.tensors(images))
    return 1000 * seconds / len(images)


def patched_window(window: int) -> None:
    """Experiment: let extraction run ``window`` files ahead of encoding (engine default 4)."""
    import mmsearch.index.indexer
    from mmsearch.index.pipeline import extract_in_order

    def wider(
        items: Any, extract: Callable[[Any], Any], workers: int, budget: float | None = None
    ) -> Iterator[Any]:
        return extract_in_order(items, extract, workers, window=window, budget=budget)

    mmsearch.index.indexer.extract_in_order = wider  # type: ignore[assignment]


# -- model comparison ----------------------------------------------------------------------

QUERY = "a cat sleeping on a sofa"


def text_ms(tower: Any, trimmed: bool, repeats: int = 15) -> float:
    """Median milliseconds to embed one query (uncached) at full or trimmed length."""
    tokens = tower._tokens([QUERY])
    forward = tower._trimmed if trimmed else tower._full
    forward(tokens)
    times = [timed(lambda: forward(tokens))[1] for _ in range(repeats)]
    return 1000 * statistics.median(times)


def tower_speeds(arches: Sequence[str], seconds: float) -> None:
    """Image tower images/s and query latency of several architectures (random weights)."""
    import open_clip
    import torch
    from mmsearch_open_clip import parse_choice
    from mmsearch_open_clip.hardware import thread_count
    from mmsearch_open_clip.runtime import ImageTower, create_model
    from mmsearch_open_clip.text import TextTower

    torch.set_num_threads(thread_count())
    print(f"\n{'architecture':<20}{'images/s':>10}{'query ms full':>15}{'trimmed':>10}")
    for arch in arches:
        choice = parse_choice(f"{arch}:random")
        model = create_model(choice)
        images = ImageTower(model, thread_count())
        size = choice.arch.image_size
        batch = images.tensors([Image.new("RGB", (size, size), (i, 90, 160)) for i in range(64)])
        images.forward(batch)
        done, started = 0, time.perf_counter()
        while time.perf_counter() - started < seconds:
            images.forward(batch)
            done += len(batch)
        speed = done / (time.perf_counter() - started)
        try:
            texts = TextTower(model, open_clip.get_tokenizer(arch))
        except Exception as exc:  # e.g. a Hugging Face tokenizer that is not cached
            print(f"{arch:<20}{speed:>10.1f}   text: n/a ({type(exc).__name__})")
            continue
        full = text_ms(texts, trimmed=False)
        trimmed = text_ms(texts, trimmed=True) if texts.trims else float("nan")
        print(f"{arch:<20}{speed:>10.1f}{full:>15.1f}{trimmed:>10.1f}")
    print(f"load average now: {load_line()}")


# -- report -------------------------------------------------------------------------------


def line(name: str, value: float, unit: str, note: str = "") -> None:
    print(f"  {name:<44}{value:8.1f} {unit}   {note}".rstrip())


def run_size(label: str, paths: list[Path], encoder: Any, tmp: Path, args: Any) -> None:
    """Engine, (a) and (b) for one image size, interleaved round by round, then the pieces.

    Each round measures (a), the engine and (b) back to back, so the ratios compare
    figures taken under the same load; the medians over rounds are reported.
    """
    min_side = encoder.image_min_side
    naive_paths = paths[: max(4, len(paths) // 4)]
    forward_images = decoded(paths[: encoder.batch_size], min_side)
    rounds = []
    for run in range(args.runs):
        a = bare_forward(encoder, forward_images, seconds=5)
        rate = engine(encoder, paths[0].parent, tmp / f"catalog-{label}-{run}.db")[0]
        b = naive_loop(encoder, naive_paths)
        rounds.append((rate, a, b))
    rate, a, b = (statistics.median(r[i] for r in rounds) for i in range(3))
    to_a = statistics.median(r[0] / r[1] for r in rounds)
    to_b = statistics.median(r[0] / r[2] for r in rounds)
    megabytes = sum(p.stat().st_size for p in paths) / len(paths) / 1e6
    print(f"\n{label}: {len(paths)} JPEGs of {megabytes:.2f} MB, {args.runs} rounds (medians)")
    each = "; ".join(f"{r:.1f}/{x:.1f}/{y:.1f}" for r, x, y in rounds)
    line("engine: Library.index", rate, "images/s", f"target >= {TARGETS[label]:.0f}")
    line("(a) bare batched forward", a, "images/s", f"engine/(a) = {to_a:.2f}, target >= 0.8")
    line(f"(b) naive loop, {len(naive_paths)} files", b, "images/s", f"engine/(b) = {to_b:.2f}")
    print(f"  rounds (engine/a/b): {each}")
    sample = paths[: min(len(paths), 16)]
    workers = max(1, min(4, os.cpu_count() or 1))
    print("  where the time goes:")
    line(
        f"decode+hash, {workers} threads, draft", decode_rate(sample, min_side, workers), "images/s"
    )
    line(
        f"decode+hash, {workers} threads, full size", decode_rate(sample, None, workers), "images/s"
    )
    line("decode+hash, 1 thread, draft", decode_rate(sample, min_side, 1), "images/s")
    drafted = decoded(sample[:8], min_side)
    full = decoded(sample[:4], None)
    line(f"preprocess {drafted[0].size} (draft)", preprocess_ms(encoder, drafted), "ms/image")
    line(f"preprocess {full[0].size} (full)", preprocess_ms(encoder, full), "ms/image")
    line("forward alone, as in (a)", 1000 / a, "ms/image")
    print(f"  load average now: {load_line()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=256, help="0.5 MP images (default 256)")
    parser.add_argument("--large", type=int, default=48, help="12 MP images (default 48)")
    parser.add_argument("--model", default="ViT-B-32:random", help="open-clip --model value")
    parser.add_argument("--threads", type=int, help="torch threads (MMSEARCH_TORCH_THREADS)")
    parser.add_argument("--precision", choices=("auto", "fp32", "bf16"), help="image tower")
    parser.add_argument("--runs", type=int, default=3, help="rounds per size (medians)")
    parser.add_argument("--window", type=int, help="experiment: extraction read-ahead")
    parser.add_argument("--workdir", help="folder for the temporary data (default: system tmp)")
    parser.add_argument("--keep", action="store_true", help="keep the generated data")
    parser.add_argument(
        "--compare",
        metavar="ARCH,...",
        help="instead: image tower and text query speed of these architectures, e.g. "
        "ViT-B-32,ViT-B-16,ViT-B-16-SigLIP,ViT-L-14",
    )
    args = parser.parse_args()
    if args.threads:
        os.environ["MMSEARCH_TORCH_THREADS"] = str(args.threads)
    if args.precision:
        os.environ["MMSEARCH_OPEN_CLIP_PRECISION"] = args.precision
    if args.window:
        patched_window(args.window)

    import torch
    from mmsearch_open_clip import OpenClipEncoder

    print(
        f"python {platform.python_version()}, torch {torch.__version__}, {os.cpu_count()} CPUs, "
        f"{platform.platform()}, load average {load_line()}"
    )
    if args.compare:
        tower_speeds(args.compare.split(","), seconds=8)
        return
    encoder = OpenClipEncoder(args.model)
    _, seconds = timed(encoder.model)
    tower = encoder.model().images
    print(
        f"model {encoder.checkpoint}: loaded in {seconds:.1f}s, {torch.get_num_threads()} torch "
        f"threads, image tower {str(tower.dtype).removeprefix('torch.')}, batch "
        f"{encoder.batch_size}, text trimming {'on' if encoder.model().texts.trims else 'off'}"
        + (f", extraction window {args.window} (experiment)" if args.window else "")
    )
    tmp = Path(tempfile.mkdtemp(prefix="mmsearch-bench-images-", dir=args.workdir))
    try:
        sets = {}
        for seed, (label, count) in enumerate((("0.5 MP", args.small), ("12 MP", args.large))):
            if count:
                folder = tmp / label.replace(" ", "").replace(".", "_")
                started = time.perf_counter()
                sets[label] = make_photos(folder, count, SIZES[label], seed + 1)
                print(f"generated {count} {label} JPEGs in {time.perf_counter() - started:.1f}s")
        for label, paths in sets.items():
            run_size(label, paths, encoder, tmp, args)
    finally:
        if args.keep:
            print(f"\ndata kept in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
