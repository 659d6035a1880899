"""RAW photos: images/s through the embedded preview (the fast path) and through a full decode.

Writes ``--files`` synthetic DNGs (tests/rawfiles.py) of ``--megapixels`` each (default
24, a common sensor), each with a JPEG preview of ``--preview-side`` pixels on its long
side (default 1620, what many cameras embed), from the sample photos scaled up; then
reads each with the RAW extractor on its default path (the preview, as its shorter
side is over 512) and with ``raw_preview_min_side=0`` (LibRaw's half-size demosaic),
and prints images/s for both. The files are read once before timing, so both paths
read from the page cache.

    .venv/bin/python bench/raw.py                  # 4 files of 24 MP
    .venv/bin/python bench/raw.py --files 2 --megapixels 6   # smoke run
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from mmsearch_raw import RawExtractor  # noqa: E402

from mmsearch import ExtractSettings, Source  # noqa: E402
from tests.rawfiles import write_dng  # noqa: E402
from tests.videos import PHOTOS, photo  # noqa: E402


def _time(files: list[Path], options: dict[str, object]) -> tuple[float, tuple[int, int]]:
    extractor = RawExtractor()
    size = (0, 0)
    start = time.perf_counter()
    for path in files:
        source = Source(
            os.fsencode(path), str(path), path.stat().st_size, ExtractSettings(options=options)
        )
        (segment,) = extractor.extract(source)
        size = segment.content.size
    return len(files) / (time.perf_counter() - start), size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=4)
    parser.add_argument("--megapixels", type=float, default=24.0)
    parser.add_argument("--preview-side", type=int, default=1620)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="mmsearch-bench-raw-"))
    try:
        print(f"load average: {os.getloadavg()[0]:.2f} ({os.cpu_count()} cores)")
        width = int((args.megapixels * 1e6 * 1.5) ** 0.5) // 2 * 2
        height = int(width / 1.5) // 2 * 2
        names = sorted(p.name for p in PHOTOS.glob("*.jpg"))
        files = [
            write_dng(
                tmp / f"IMG_{n:04d}.DNG",
                photo(names[n % len(names)]).resize((width, height)),
                preview_side=args.preview_side,
            )
            for n in range(args.files)
        ]
        mb = sum(f.stat().st_size for f in files) / len(files) / 1e6
        print(
            f"{args.files} DNGs of {width}x{height} ({width * height / 1e6:.0f} MP, "
            f"{mb:.0f} MB each), JPEG preview {args.preview_side} px"
        )
        for path in files:
            path.read_bytes()  # into the page cache
        for label, options in (
            ("preview path", {}),
            ("full decode (half size)", {"raw_preview_min_side": 0}),
        ):
            rate, size = _time(files, options)
            print(f"{label}: {rate:.2f} images/s, pictures of {size[0]}x{size[1]}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
