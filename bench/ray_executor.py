"""The Ray executor against the local one: the same images, the same encoder.

Generates N images, indexes them into two fresh catalogs, once locally and once with
``--executor ray`` on a local cluster, and prints files/s of each and Ray's start-up
cost (``ray.init`` until the cluster answers). Default encoder: open_clip ViT-B-32 with
random weights (the same compute as the real model, nothing to download).

    .venv/bin/python bench/ray_executor.py --images 300 --encoder open-clip --model ViT-B-32:random
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from mmsearch import Library
from mmsearch.index.indexer import IndexOptions
from mmsearch.index.ray_executor import RayExecutor
from mmsearch.plugins import load_plugins


def make_images(folder: Path, count: int) -> None:
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True)
    for n in range(count):
        pixels = rng.integers(0, 255, (240, 320, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / f"img-{n:04d}.jpg", quality=85)


def run(
    db: Path, folder: Path, encoder: str, model: str | None, executor: RayExecutor | None
) -> float:
    started = time.perf_counter()
    with Library.open(db, registry=load_plugins()) as lib:
        report = lib.index(
            folder, encoder=encoder, model=model, options=IndexOptions(executor=executor)
        )
    seconds = time.perf_counter() - started
    assert report.indexed > 0, report.summary_lines()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=300)
    parser.add_argument("--encoder", default="open-clip")
    parser.add_argument("--model", default="ViT-B-32:random")
    parser.add_argument("--cpus", type=int, default=2, help="CPUs of the local Ray cluster")
    args = parser.parse_args()
    model = args.model or None
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "images"
        make_images(folder, args.images)
        local = run(Path(tmp) / "local.db", folder, args.encoder, model, None)
        print(f"local: {args.images} images in {local:.1f} s = {args.images / local:.1f} files/s")
        import ray

        started = time.perf_counter()
        ray.init(num_cpus=args.cpus, include_dashboard=False, log_to_driver=False)
        ray.cluster_resources()
        start_up = time.perf_counter() - started
        try:
            remote = run(Path(tmp) / "ray.db", folder, args.encoder, model, RayExecutor())
        finally:
            ray.shutdown()
        print(f"ray:   {args.images} images in {remote:.1f} s = {args.images / remote:.1f} files/s "
              f"(+ {start_up:.1f} s start-up; {args.cpus} CPUs, one actor each)")  # fmt: skip


if __name__ == "__main__":
    main()
