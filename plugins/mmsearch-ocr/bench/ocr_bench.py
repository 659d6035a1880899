"""Benchmark of the OCR annotator: accuracy and time per image, and the choices behind it.

Generates a seeded corpus (text cards in several fonts, sizes and colours, pages
of 11 and 8 pt print at 150 and 300 dpi, a 1920x1080 screenshot of 14 px text,
12 MP photos with a sign, 12 MP photos of a receipt in 20, 24 and 32 px type, and
scikit-image's sample photos, which hold no text), then prints, per section:

- ``decode``: word recall and precision of RapidOCR's own decoding against the
  spacing decoder at several thresholds (why ``space_min`` is 0.01);
- ``size``: recall and time per image at several ``max_side`` values (why 1600);
- ``angle``: the 0/180 degree line classifier on and off (why off);
- ``threads``: four extraction threads sharing one locked engine (ONNX Runtime
  with 2 or 1 threads) against an engine per thread (why per thread, 1 thread);
- ``screen``: time per image, through the annotator, for photos without text and
  for tiny and blank images (what the cheap checks cost and save);
- ``look``: a rejected shortcut, a quick look by the detector alone at 960 px
  before reading a large image in full: what it would save, and what it misses.

Timings are wall-clock and process CPU seconds per image; on a shared machine
the CPU figure is the steadier one. This is not a test. From the repository root:

    .venv/bin/python plugins/mmsearch-ocr/bench/ocr_bench.py            # every section
    .venv/bin/python plugins/mmsearch-ocr/bench/ocr_bench.py size angle
"""

from __future__ import annotations

import argparse
import os
import random
import re
import statistics
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from mmsearch_ocr import EngineConfig, OcrAnnotator
from mmsearch_ocr.screening import fit
from PIL import Image, ImageDraw, ImageFont

from mmsearch import ExtractSettings, Segment, Source

_VOCABULARY = """
invoice receipt total amount payment bank transfer account number date order customer
delivery address street city station platform train departure arrival coffee menu price
open closed monday friday welcome exit entrance parking ticket meeting budget report
project summary quarter revenue growth market office garden window kitchen library
"""
WORDS = _VOCABULARY.split()
FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
FONT_FILES = ("DejaVuSans.ttf", "DejaVuSerif.ttf", "DejaVuSansMono.ttf", "DejaVuSans-Bold.ttf")


@dataclass
class Sample:
    """One benchmark image and the words printed on it."""

    name: str
    image: Image.Image
    words: list[str]
    group: str


Font = Callable[[int], Any]


def _default_font(size: int) -> Any:
    return ImageFont.load_default(size=size)


def _truetype(path: Path) -> Font:
    return lambda size: ImageFont.truetype(str(path), size)


def _fonts() -> list[Font]:
    """Pillow's built-in font, and the DejaVu fonts where the system has them."""
    fonts: list[Font] = [_default_font]
    fonts += [_truetype(FONT_DIR / name) for name in FONT_FILES if (FONT_DIR / name).exists()]
    return fonts


def _phrase(rng: random.Random, count: int) -> list[str]:
    words = rng.sample(WORDS, count)
    if rng.random() < 0.5:
        words.insert(rng.randrange(len(words) + 1), str(rng.randrange(10, 99999)))
    return words


def _card(rng: random.Random, index: int) -> Sample:
    font = rng.choice(_fonts())(rng.choice((14, 18, 24, 32, 48)))
    lines = [_phrase(rng, rng.randint(2, 4)) for _ in range(rng.randint(1, 4))]
    dark = rng.random() < 0.7
    ink = (rng.randrange(0, 80), rng.randrange(0, 80), rng.randrange(0, 80))
    paper = (rng.randrange(190, 256), rng.randrange(190, 256), rng.randrange(190, 256))
    ink, paper = (ink, paper) if dark else (paper, ink)
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    boxes = [probe.textbbox((0, 0), " ".join(line), font=font) for line in lines]
    width = round(max(box[2] for box in boxes)) + 40
    line_height = round(max(box[3] for box in boxes) + font.size / 2)
    image = Image.new("RGB", (width, line_height * len(lines) + 40), paper)
    draw = ImageDraw.Draw(image)
    for row, line in enumerate(lines):
        draw.text((20, 20 + row * line_height), " ".join(line), fill=ink, font=font)
    return Sample(f"card{index}", image, [w for line in lines for w in line], "card")


def _page(rng: random.Random, dpi: int, points: int = 11) -> Sample:
    width, height = round(8.27 * dpi), round(11.69 * dpi)
    size = round(points / 72 * dpi)
    font = _fonts()[min(1, len(_fonts()) - 1)](size)
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    words: list[str] = []
    for row in range(30):
        line = _phrase(rng, 6)
        words.extend(line)
        draw.text((dpi, dpi + row * size * 1.6), " ".join(line), fill="black", font=font)
    return Sample(f"page{dpi}dpi{points}pt", image, words, "page")


def _screenshot(rng: random.Random) -> Sample:
    """A 1920x1080 screen of 14 px interface text in three columns."""
    image = Image.new("RGB", (1920, 1080), (245, 245, 245))
    draw = ImageDraw.Draw(image)
    font = _fonts()[0](14)
    words: list[str] = []
    for column in range(3):
        for row in range(12):
            line = _phrase(rng, 3)
            words.extend(line)
            draw.text(
                (40 + column * 620, 60 + row * 70), " ".join(line), fill=(30, 30, 30), font=font
            )
    return Sample("screenshot", image, words, "screen")


def _photos() -> list[tuple[str, Image.Image]]:
    import skimage.data as data

    names = ["astronaut", "chelsea", "coffee", "rocket", "camera", "coins", "retina"]
    names += ["hubble_deep_field", "immunohistochemistry", "brick", "grass", "moon"]
    return [(name, Image.fromarray(getattr(data, name)()).convert("RGB")) for name in names]


def _sign_photo(rng: random.Random, photo: Image.Image, index: int) -> Sample:
    big = photo.resize((4000, 3000), Image.Resampling.BICUBIC)
    words = _phrase(rng, 3)
    font = _fonts()[-1](rng.choice((90, 140)))
    draw = ImageDraw.Draw(big)
    box = draw.textbbox((600, 900), " ".join(words), font=font)
    draw.rectangle((box[0] - 40, box[1] - 40, box[2] + 40, box[3] + 40), fill=(250, 250, 240))
    draw.text((600, 900), " ".join(words), fill=(20, 20, 60), font=font)
    return Sample(f"sign{index}", big, words, "photo12mp")


def _receipt(rng: random.Random, photo: Image.Image, size: int) -> Sample:
    """A 12 MP photo of a slightly turned receipt printed in ``size`` px type."""
    big = photo.resize((4000, 3000), Image.Resampling.BICUBIC)
    paper = Image.new("RGB", (1400, 2600), (245, 243, 236))
    draw = ImageDraw.Draw(paper)
    font = _fonts()[-1](size)
    words: list[str] = []
    for row in range(int(2400 / (size * 1.5))):
        line = _phrase(rng, 3)
        words.extend(line)
        draw.text((60, 60 + row * size * 1.5), " ".join(line), fill=(30, 30, 30), font=font)
    big.paste(paper.rotate(4, expand=True, fillcolor=(90, 70, 50)), (1300, 150))
    return Sample(f"receipt{size}px", big, words, "receipt")


def corpus(seed: int = 7, cards: int = 40) -> list[Sample]:
    """The seeded text corpus: cards, pages, a screenshot, photos of a sign and a receipt."""
    rng = random.Random(seed)
    samples = [_card(rng, i) for i in range(cards)]
    samples += [_page(rng, 150), _page(rng, 300), _page(rng, 300, 8), _screenshot(rng)]
    photos = _photos()
    samples += [_sign_photo(rng, photos[i][1], i) for i in range(3)]
    samples += [_receipt(rng, photos[2][1], size) for size in (20, 24, 32)]
    return samples


def tokens(text: str) -> list[str]:
    """Lower-case alphanumeric tokens, as keyword search sees them."""
    return re.findall(r"[0-9a-z]+", text.lower())


def score(truth: Iterable[str], text: str) -> tuple[int, int, int]:
    """(matched, true words, read tokens) with multiplicity."""
    want, got = Counter(tokens(" ".join(truth))), Counter(tokens(text))
    return sum((want & got).values()), sum(want.values()), sum(got.values())


def _timed(fn: Callable[[], str]) -> tuple[str, float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    text = fn()
    return text, time.perf_counter() - wall, time.process_time() - cpu


def run_config(label: str, annotator: OcrAnnotator, samples: list[Sample]) -> None:
    """Print recall, precision and time per image of one annotator per sample group."""
    annotator.read(Image.new("RGB", (64, 32), "white"))  # load outside the timings
    groups: dict[str, list[tuple[int, int, int, float, float]]] = {}
    for sample in samples:
        text, wall, cpu = _timed(partial(annotator.read, sample.image))
        groups.setdefault(sample.group, []).append((*score(sample.words, text), wall, cpu))
    for group, rows in groups.items():
        matched, true, read = (sum(row[i] for row in rows) for i in range(3))
        wall = statistics.mean(row[3] for row in rows)
        cpu = statistics.mean(row[4] for row in rows)
        print(
            f"  {label:<28} {group:<10} n={len(rows):<3} recall {matched / true:6.1%}  "
            f"precision {matched / max(1, read):6.1%}  {wall * 1e3:7.0f} ms wall "
            f"{cpu * 1e3:7.0f} ms cpu / image"
        )


def section_decode(samples: list[Sample]) -> None:
    print("decode: RapidOCR's decoder against the spacing decoder (max_side 1600)")
    run_config("rapidocr decoder", OcrAnnotator(EngineConfig(spacing_decoder=False)), samples)
    for space_min in (0.005, 0.01, 0.03, 0.1):
        run_config(
            f"spacing, space_min={space_min}",
            OcrAnnotator(EngineConfig(space_min=space_min)),
            samples,
        )


def section_size(samples: list[Sample]) -> None:
    print("size: longer side the image is read at")
    for side in (960, 1280, 1600, 2000):
        run_config(f"max_side={side}", OcrAnnotator(EngineConfig(max_side=side)), samples)


def section_angle(samples: list[Sample]) -> None:
    print("angle: the 0/180 degree line classifier")
    for use in (False, True):
        run_config(
            f"angle classifier {'on' if use else 'off'}",
            OcrAnnotator(EngineConfig(use_angle_classifier=use)),
            samples,
        )


def _per_thread(config: EngineConfig) -> Callable[[Sample], str]:
    local = threading.local()

    def read(sample: Sample) -> str:
        if not hasattr(local, "annotator"):
            local.annotator = OcrAnnotator(config)
        return str(local.annotator.read(sample.image))

    return read


def _shared(config: EngineConfig) -> Callable[[Sample], str]:
    annotator = OcrAnnotator(config)
    return lambda sample: annotator.read(sample.image)


def section_threads(samples: list[Sample]) -> None:
    print("threads: 4 extraction threads reading the text cards; rounds alternate")
    work = [s for s in samples if s.group == "card"]
    strategies = {
        "one engine, lock, ORT x2": _shared(EngineConfig(threads=2)),
        "one engine, lock, ORT x1": _shared(EngineConfig(threads=1)),
        "engine per thread, ORT x1": _per_thread(EngineConfig(threads=1)),
    }
    rates: dict[str, list[tuple[float, float]]] = {label: [] for label in strategies}
    with ThreadPoolExecutor(4) as pool:
        for fn in strategies.values():
            list(pool.map(fn, work[:8]))  # load the models in every thread
        for _round in range(3):
            for label, fn in strategies.items():
                wall, cpu = time.perf_counter(), time.process_time()
                list(pool.map(fn, work))
                wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
                rates[label].append((len(work) / wall, cpu / len(work)))
    for label, runs in rates.items():
        print(
            f"  {label:<28} {len(work)} images x {len(runs)}: "
            f"median {statistics.median(r for r, _ in runs):5.2f} images/s wall "
            f"(best {max(r for r, _ in runs):5.2f}), "
            f"{statistics.median(c for _, c in runs) * 1e3:5.0f} ms cpu / image"
        )


def _source(options: dict[str, str] | None = None) -> Source:
    return Source(b"/nonexistent.png", "bench.png", 0, ExtractSettings(options=options or {}))


def section_screen(_samples: list[Sample]) -> None:
    print("screen: images without text, through annotate()")
    annotator = OcrAnnotator()
    annotator.read(Image.new("RGB", (64, 32), "white"))
    photos = _photos()
    big = [(f"{n}@12MP", p.resize((4000, 3000), Image.Resampling.BICUBIC)) for n, p in photos[:4]]
    cases = [*photos, *big, ("tiny 12x400", Image.new("RGB", (400, 12), "white"))]
    cases.append(("blank 3000x2000", Image.new("RGB", (3000, 2000), (250, 250, 250))))
    for name, image in cases:
        out, wall, cpu = _timed(partial(_annotate, annotator, image))
        print(
            f"  {name:<24} {image.width:>5}x{image.height:<5} {wall * 1e3:7.0f} ms wall "
            f"{cpu * 1e3:7.0f} ms cpu  text={out[:40]!r}"
        )


def _annotate(annotator: OcrAnnotator, image: Image.Image) -> str:
    return annotator.annotate(Segment("image", "image", image), _source()).text or ""


def _quick_look(ocr: Any, image: Image.Image) -> tuple[int, float]:
    """Text boxes the detector alone finds at 960 px, and the CPU seconds it took."""
    small = fit(image, 960).convert("RGB")
    cpu = time.process_time()
    boxes, _ = ocr(
        np.ascontiguousarray(np.asarray(small)[:, :, ::-1]), use_rec=False, use_cls=False
    )
    return len(boxes or ()), time.process_time() - cpu


def section_look(samples: list[Sample]) -> None:
    print("look: the detector alone at 960 px, before reading large images in full (rejected)")
    from rapidocr_onnxruntime import RapidOCR  # the detector on its own

    ocr = RapidOCR(**EngineConfig().rapidocr_kwargs())
    annotator = OcrAnnotator()
    annotator.read(Image.new("RGB", (64, 32), "white"))
    large = [s for s in samples if s.group in ("photo12mp", "receipt", "screen", "page")]
    large += [Sample(f"{n}@12MP", p.resize((4000, 3000)), [], "no text") for n, p in _photos()]
    for sample in large:
        boxes, look = _quick_look(ocr, sample.image)
        text, _, full = _timed(partial(annotator.read, sample.image))
        matched, true, _ = score(sample.words, text)
        found = f"reads {matched}/{true} words" if true else f"reads {len(tokens(text))} tokens"
        print(
            f"  {sample.name:<22} look: {boxes:3d} boxes in {look * 1e3:4.0f} ms cpu; "
            f"full reading: {found} in {full * 1e3:5.0f} ms cpu"
        )


SECTIONS = {
    "decode": section_decode,
    "size": section_size,
    "angle": section_angle,
    "threads": section_threads,
    "screen": section_screen,
    "look": section_look,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sections", nargs="*", help=f"any of: {', '.join(SECTIONS)}")
    parser.add_argument("--cards", type=int, default=40)
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}")
    unknown = set(args.sections) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections {sorted(unknown)}; choose from {', '.join(SECTIONS)}")
    samples = corpus(cards=args.cards)
    for name in args.sections or SECTIONS:
        SECTIONS[name](samples)


if __name__ == "__main__":
    main()
