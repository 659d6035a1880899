"""Figures for docs/models-offline.md: load times, encode speed, and text-to-image recall.

Run from the repository root:  .venv/bin/python plugins/mmsearch-offline/tools/bench.py
Options: --threads 1,2 (torch thread counts to time), --seconds 5 (per timing), --skip-recall.
It prints figures; it asserts nothing. Timings depend on what else the machine runs, so the
load average is printed with them. Nothing is downloaded: the photos are the sample images
installed with scikit-image.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

CAPTIONS: dict[str, tuple[str, ...]] = {
    # Written to describe each picture the way a person would search for it.
    "astronaut.png": ("an astronaut in a spacesuit", "a smiling woman in an orange flight suit"),
    "brick.png": ("a brick wall", "a close-up of grey bricks"),
    "camera.png": ("a photographer with a camera on a tripod", "a man taking a picture"),
    "chelsea.png": ("a cat", "a tabby cat looking to the side"),
    "clock_motion.png": ("a wall clock", "a blurry photo of a clock"),
    "coffee.png": ("a cup of coffee", "an espresso on a saucer"),
    "coins.png": ("old coins", "a collection of coins on a table"),
    "grass.png": ("grass", "a lawn seen from close up"),
    "gravel.png": ("gravel", "small stones on the ground"),
    "horse.png": ("a horse", "the silhouette of a horse"),
    "hubble_deep_field.jpg": ("galaxies in deep space", "a telescope image of the night sky"),
    "ihc.png": ("a microscope slide of stained tissue", "cells under a microscope"),
    "moon.png": ("the surface of the moon", "craters on the moon"),
    "motorcycle_left.png": ("a motorcycle", "a motorbike parked in a garage"),
    "page.png": ("a page of a book", "printed text on paper"),
    "retina.jpg": ("the back of an eye", "a retina scan"),
    "rocket.jpg": ("a rocket on the launch pad", "a space launch"),
}


def _load_average() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def _rate(work: Callable[[], int], seconds: float) -> float:
    """Items per second of ``work`` (which returns how many items it did), after a warm-up."""
    work()
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        done += work()
    return done / (time.perf_counter() - start)


def _timed(label: str, work: Callable[[], object]) -> None:
    start = time.perf_counter()
    work()
    print(f"  {label}: {time.perf_counter() - start:.2f} s")


def _photos() -> tuple[Path, list[Image.Image]]:
    from skimage import data

    folder = Path(data.data_dir)
    return folder, [Image.open(folder / name).convert("RGB") for name in CAPTIONS]


def bench_loading() -> None:
    """Cold start: the text model, the class vectors (computed, then cached), the image model."""
    from mmsearch_offline import OfflineEncoder

    print("loading (first use in a process; includes imports):")
    encoder = OfflineEncoder()
    _timed("text model (import + hash check + load)", lambda: encoder.encode_batch("text", ["x"]))
    blank = [Image.new("RGB", (64, 64))]
    _timed("class vectors computed + image model", lambda: encoder.encode_batch("image", blank))
    again = OfflineEncoder()
    again.encode_batch("text", ["x"])
    _timed("class vectors from cache + image model", lambda: again.encode_batch("image", blank))


def bench_speed(threads: list[int], seconds: float) -> None:
    """Images/s and texts/s of encode_batch, and the preprocessing share of image time."""
    import torch
    from mmsearch_offline import OfflineEncoder

    encoder = OfflineEncoder()
    _, photos = _photos()
    image_model, _ = encoder._image_models()  # the bench looks inside on purpose
    batch = (photos * 3)[:32]
    big = Image.fromarray(np.random.default_rng(0).integers(0, 255, (3000, 4000, 3), np.uint8))
    sentences = [
        f"We went over item {i} of the budget and agreed to cut travel." for i in range(32)
    ]
    chunks = [("The committee reviewed the quarterly figures in detail. " * 18)[:1000]] * 32
    mean_mp = np.mean([p.width * p.height for p in photos]) / 1e6
    load = _load_average()
    print(f"speed (batches of 32; photos average {mean_mp:.2f} MP; load average {load}):")
    prep = _rate(lambda: len([image_model.preprocess(p) for p in batch]), seconds)
    exact_big = _rate(lambda: len([image_model.transform(big)]), seconds)
    prep_big = _rate(lambda: len([image_model.preprocess(big)]), seconds)
    print(
        f"  preprocessing alone: {prep:.0f} photos/s; 12 MP: {prep_big:.1f} images/s "
        f"(timm's exact transform: {exact_big:.1f} images/s)"
    )
    for count in threads:
        torch.set_num_threads(count)
        images = _rate(lambda: len(encoder.encode_batch("image", batch)), seconds)
        texts = _rate(lambda: len(encoder.encode_batch("text", sentences)), seconds)
        long = _rate(lambda: len(encoder.encode_batch("text", chunks)), seconds)
        query = 1000 / _rate(lambda: len(encoder.encode_batch("text", ["a cat"])), seconds)
        print(
            f"  {count} thread(s): {images:.1f} images/s, {texts:.0f} sentences/s, "
            f"{long:.1f} 1000-char chunks/s, {query:.1f} ms per one-line query"
        )


def bench_recall(tops: list[int]) -> None:
    """Text-to-image recall@1 and @5 of the caption set, for several top-T values."""
    from mmsearch_offline import OfflineEncoder

    folder, photos = _photos()
    names = list(CAPTIONS)
    queries = [(caption, i) for i, name in enumerate(names) for caption in CAPTIONS[name]]
    print(f"recall ({len(queries)} captions, {len(names)} photos from {folder}):")
    for top in tops:
        encoder = OfflineEncoder(top=top)
        gallery = encoder.encode_batch("image", photos)
        scores = encoder.encode_batch("text", [q for q, _ in queries]) @ gallery.T
        ranks = [
            int((row > row[target]).sum()) for row, (_, target) in zip(scores, queries, strict=True)
        ]
        r1 = np.mean([r < 1 for r in ranks])
        r5 = np.mean([r < 5 for r in ranks])
        missed = [q for (q, _), r in zip(queries, ranks, strict=True) if r >= 5]
        print(f"  top-{top}: recall@1 {r1:.2f}, recall@5 {r5:.2f}; not in top 5: {missed}")


def main() -> None:
    """Parse the options and print every figure."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", default="1,2", help="torch thread counts to time")
    parser.add_argument("--seconds", type=float, default=5.0, help="seconds per timing")
    parser.add_argument("--skip-recall", action="store_true")
    args = parser.parse_args()
    # Keep the class-vector cache of this run out of the user's cache folder.
    os.environ["MMSEARCH_HOME"] = tempfile.mkdtemp(prefix="mmsearch-bench-")
    bench_loading()
    bench_speed([int(n) for n in args.threads.split(",")], args.seconds)
    if not args.skip_recall:
        bench_recall([1, 5, 10, 20])


if __name__ == "__main__":
    main()
