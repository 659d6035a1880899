"""A small mixed corpus (photos, recordings, documents) with queries, for retrieval benchmarks.

``build_corpus(dest)`` writes, deterministically and without the network:

- ``photos/``: 17 scikit-image sample pictures that ship inside the wheel (no download),
  at most 800 px, and 4 pictures of printed words drawn with Pillow (a receipt, a street
  sign, a concert poster, a sticky note), so OCR text matters. Most files have camera
  names (``IMG_0412.jpg``), a few descriptive ones, as in a real library;
- ``recordings/``: 13 short voice memos and one ~55 s recording, spoken by espeak-ng from
  the scripts in ``bench/corpus_text/speech``, one sentence at a time joined with short
  pauses, so each sentence's time range is known exactly;
- ``docs/``: 13 hand-written notes, letters and lists from ``bench/corpus_text/docs``;
- ``queries.jsonl``: the queries of ``bench/mixed_queries.py``, one JSON object a line,
  paths relative to the file's folder, sentence spans turned into seconds (the ``mmsearch
  eval`` format, so without each query's kind).

Run from the repository root::

    .venv/bin/python bench/mixed_corpus.py /tmp/mixed_corpus
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import wave
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

sys.path.insert(0, str(Path(__file__).resolve().parent))
from mixed_queries import QUERIES, Query, Span

from mmsearch.errors import UsageError

TEXT_DIR = Path(__file__).resolve().parent / "corpus_text"
DOCS_DIR = TEXT_DIR / "docs"
SPEECH_DIR = TEXT_DIR / "speech"
MAX_SIDE = 800
PAUSE_S = 0.6  # silence between sentences: a speaker's breath, well under whisper's 2 s cut
FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")

# (skimage.data function, file name). Only pictures stored in the wheel: no pooch, no network.
SAMPLE_PHOTOS: tuple[tuple[str, str], ...] = (
    ("chelsea", "IMG_0412.jpg"),
    ("coffee", "IMG_0415.jpg"),
    ("rocket", "IMG_0731.jpg"),
    ("camera", "DSC_1023.jpg"),
    ("astronaut", "portrait_nasa.png"),
    ("coins", "coin_collection.png"),
    ("moon", "IMG_0877.jpg"),
    ("hubble_deep_field", "desktop_background.jpg"),
    ("stereo_motorcycle", "IMG_1130.jpg"),
    ("brick", "IMG_0590.jpg"),
    ("horse", "clipart_03.png"),
    ("gravel", "IMG_0602.jpg"),
    ("immunohistochemistry", "slide_07.png"),
    ("colorwheel", "colour_wheel.png"),
    ("page", "scan_0001.png"),
    ("text", "IMG_0533.jpg"),
    ("retina", "eye_scan_left.jpg"),
)


@dataclass(frozen=True)
class Recording:
    """A recording's script, one sentence an item, and how espeak-ng speaks it."""

    name: str
    sentences: tuple[str, ...]
    voice: str = "en-us"
    speed: int = 160


def read_script(path: Path) -> Recording:
    """A script of ``corpus_text/speech``: a ``# voice=V speed=N`` line, then one sentence a line.

    The sentence lines are what :class:`mixed_queries.Span` counts, from 0.
    """
    header, *lines = path.read_text(encoding="utf-8").splitlines()
    settings = dict(item.split("=", 1) for item in header.lstrip("# ").split())
    sentences = tuple(line.strip() for line in lines if line.strip())
    return Recording(f"{path.stem}.wav", sentences, settings["voice"], int(settings["speed"]))


def recordings() -> list[Recording]:
    """Every recording's script, in file-name order."""
    return [read_script(path) for path in sorted(SPEECH_DIR.glob("*.txt"))]


# -- photos ------------------------------------------------------------------------------


def _sample_picture(name: str) -> Image.Image:
    import skimage.data  # imported here: it takes a second and only this step needs it

    pixels = getattr(skimage.data, name)()
    if isinstance(pixels, tuple):  # stereo pairs: keep the left view
        pixels = pixels[0]
    if pixels.dtype == bool:  # the horse: True is the background
        pixels = np.where(pixels, 255, 0).astype(np.uint8)
    return _fit(Image.fromarray(pixels))


def _fit(image: Image.Image) -> Image.Image:
    if max(image.size) > MAX_SIDE:
        scale = MAX_SIDE / max(image.size)
        size = (round(image.width * scale), round(image.height * scale))
        image = image.resize(size, Image.Resampling.LANCZOS)
    return image.convert("RGB") if image.mode not in ("RGB", "L") else image


def _save(image: Image.Image, path: Path) -> None:
    if path.suffix == ".jpg":
        image.save(path, quality=90)
    else:
        image.save(path, optimize=False)


def _font(size: int, style: str = "") -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """DejaVu Sans (``style`` "-Bold", "-Oblique", "Mono-Bold"...), else Pillow's own font."""
    path = FONT_DIR / f"DejaVuSans{style}.ttf"
    if path.is_file():
        return ImageFont.truetype(str(path), size)
    return ImageFont.load_default(size)


def _photo_grain(image: Image.Image, seed: int) -> Image.Image:
    """Sensor-like noise, so a drawn picture is not unnaturally clean for OCR."""
    rng = np.random.default_rng(seed)
    pixels = np.asarray(image, dtype=np.int16)
    noisy = pixels + rng.normal(0, 4, pixels.shape).round().astype(np.int16)
    return Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8))


def _lines(draw: ImageDraw.ImageDraw, x: int, y: int, lines: Sequence[tuple[str, int, str]],
           fill: tuple[int, int, int], gap: int = 10) -> None:  # fmt: skip
    for text, size, style in lines:
        font = _font(size, style)
        draw.text((x, y), text, font=font, fill=fill)
        y += int(font.getbbox("Ag")[3]) + gap


def receipt() -> Image.Image:
    """A till receipt lying on a wooden table."""
    paper = Image.new("RGB", (380, 470), (248, 246, 240))
    rows = [
        ("GREEN LEAF GROCERS", 24, "Mono-Bold"), ("14 Mill Lane, Hebden", 17, "Mono"),
        ("12/03/2024  10:42", 17, "Mono"), ("", 8, "Mono"),
        ("Tomatoes          2.10", 17, "Mono"), ("Cheddar           3.75", 17, "Mono"),
        ("Olive oil         5.49", 17, "Mono"), ("Free range eggs   2.60", 17, "Mono"),
        ("", 8, "Mono"), ("TOTAL            13.94", 20, "Mono-Bold"),
        ("VISA **** 5521", 17, "Mono"), ("", 8, "Mono"),
        ("Thank you for shopping local", 15, "Mono"),
    ]  # fmt: skip
    _lines(ImageDraw.Draw(paper), 28, 30, rows, (30, 30, 30), gap=8)
    table = Image.new("RGB", (520, 600), (118, 84, 56))
    table.paste(paper.rotate(1.5, expand=True, fillcolor=(118, 84, 56)), (60, 50))
    return _photo_grain(table, 1)


def street_sign() -> Image.Image:
    """A green street name sign on a post against the sky."""
    sky = np.linspace((135, 185, 230), (205, 228, 246), 480).astype(np.uint8)
    image = Image.fromarray(np.repeat(sky[:, None, :], 640, axis=1))
    draw = ImageDraw.Draw(image)
    draw.rectangle((300, 290, 330, 480), fill=(90, 90, 95))
    draw.rounded_rectangle((50, 110, 590, 300), radius=18, fill=(0, 104, 66), outline="white",
                           width=7)  # fmt: skip
    _lines(draw, 84, 140, [("HARBOUR ROAD", 48, "-Bold"), ("Ferry Terminal 400 m \u2192", 30, "")],
           (255, 255, 255), gap=30)  # fmt: skip
    return _photo_grain(image, 2)


def concert_poster() -> Image.Image:
    """A phone screenshot of a concert poster."""
    image = Image.new("RGB", (540, 760), (18, 28, 64))
    draw = ImageDraw.Draw(image)
    for i, radius in enumerate((260, 190, 120)):
        shade = (30 + 14 * i, 48 + 18 * i, 110 + 20 * i)
        draw.ellipse((400 - radius, 620 - radius, 400 + radius, 620 + radius), fill=shade)
    _lines(draw, 40, 60, [("JAZZ NIGHT", 68, "-Bold")], (240, 196, 70))
    rows = [
        ("The Blue Finches", 42, "-Bold"), ("Friday 14 March, 8 pm", 30, ""),
        ("Old Mill Hall", 30, ""), ("Tickets \u00a312 at the door", 26, ""),
    ]  # fmt: skip
    _lines(draw, 40, 180, rows, (255, 255, 255), gap=22)
    return image


def sticky_note() -> Image.Image:
    """A yellow sticky note on a desk with the wireless network's details."""
    note = Image.new("RGB", (380, 380), (250, 234, 120))
    rows = [("Wi-Fi", 40, "-Bold"), ("Hub-7F2K-5G", 32, "-Oblique"),
            ("password:", 28, "-Oblique"), ("tulip-otter-42", 32, "-Oblique")]  # fmt: skip
    _lines(ImageDraw.Draw(note), 34, 40, rows, (40, 40, 120), gap=22)
    desk = Image.new("RGB", (600, 600), (196, 168, 128))
    desk.paste(note.rotate(-4, expand=True, fillcolor=(196, 168, 128)), (95, 90))
    return _photo_grain(desk, 3)


DRAWN_PHOTOS: tuple[tuple[Callable[[], Image.Image], str], ...] = (
    (receipt, "IMG_2041.jpg"),
    (street_sign, "IMG_2107.jpg"),
    (concert_poster, "Screenshot_20240302-191544.png"),
    (sticky_note, "IMG_2210.jpg"),
)


def write_photos(folder: Path) -> list[Path]:
    """The sample and drawn pictures, written under ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for sample, name in SAMPLE_PHOTOS:
        _save(_sample_picture(sample), folder / name)
        written.append(folder / name)
    for draw, name in DRAWN_PHOTOS:
        _save(draw(), folder / name)
        written.append(folder / name)
    return written


# -- recordings --------------------------------------------------------------------------


def _speak(text: str, voice: str, speed: int, path: Path) -> None:
    command = ["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(path), text]
    subprocess.run(command, check=True, capture_output=True)


def write_recording(recording: Recording, folder: Path) -> list[tuple[float, float]]:
    """Speak ``recording`` into ``folder``; return each sentence's (start, end) in seconds."""
    if shutil.which("espeak-ng") is None:
        raise UsageError(
            "espeak-ng was not found on PATH; the mixed corpus speaks its recordings with it. "
            "Install it (apt install espeak-ng) and run again."
        )
    frames: list[bytes] = []
    spans: list[tuple[float, float]] = []
    rate, width, at = 0, 2, 0
    with tempfile.TemporaryDirectory() as tmp:
        for i, sentence in enumerate(recording.sentences):
            clip = Path(tmp) / f"{i}.wav"
            _speak(sentence, recording.voice, recording.speed, clip)
            with wave.open(str(clip), "rb") as source:
                rate, width = source.getframerate(), source.getsampwidth()
                data = source.readframes(source.getnframes())
            if i:
                pause = b"\x00" * (round(PAUSE_S * rate) * width)
                frames.append(pause)
                at += len(pause) // width
            spans.append((at / rate, (at + len(data) // width) / rate))
            frames.append(data)
            at += len(data) // width
    with wave.open(str(folder / recording.name), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(width)
        out.setframerate(rate)
        out.writeframes(b"".join(frames))
    return spans


# -- documents and queries ---------------------------------------------------------------


def write_docs(folder: Path) -> list[Path]:
    """Copy the hand-written documents into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for source in sorted(DOCS_DIR.iterdir()):
        if source.suffix in (".txt", ".md"):
            written.append(folder / source.name)
            shutil.copyfile(source, written[-1])
    return written


Spans = dict[str, list[tuple[float, float]]]


def query_record(query: Query, spans: Spans) -> dict[str, object]:
    """The JSON object of one query; a sentence span becomes its time range."""
    relevant: str | dict[str, object] = query.relevant if isinstance(query.relevant, str) else ""
    if isinstance(query.relevant, Span):
        start, end = spans[query.relevant.path][query.relevant.sentence]
        relevant = {"path": query.relevant.path, "start": round(start, 2), "end": round(end, 2)}
    # No "kind": the eval loader rejects unknown keys; bench/fusion.py reads kinds from
    # mixed_queries.py by query id.
    return {"id": query.id, "query": query.text, "relevant": [relevant],
            "modality": query.modality}  # fmt: skip


def write_queries(path: Path, spans: Spans) -> None:
    """``queries.jsonl``, after checking every relevant file was written."""
    lines = []
    for query in QUERIES:
        relevant = query.relevant if isinstance(query.relevant, str) else query.relevant.path
        if not (path.parent / relevant).is_file():
            raise UsageError(f"query {query.id} points at {relevant}, which the corpus lacks; "
                             "fix bench/mixed_queries.py or the corpus lists.")  # fmt: skip
        lines.append(json.dumps(query_record(query, spans), ensure_ascii=False))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def build_corpus(dest: Path) -> Path:
    """Write the corpus under ``dest`` (created if needed); return ``dest/queries.jsonl``.

    Files of an earlier build are overwritten; nothing else under ``dest`` is touched.
    """
    if dest.exists() and not dest.is_dir():
        raise UsageError(f"{dest} is a file; give a folder to build the mixed corpus in.")
    write_photos(dest / "photos")
    (dest / "recordings").mkdir(parents=True, exist_ok=True)
    spans = {f"recordings/{r.name}": write_recording(r, dest / "recordings") for r in recordings()}
    write_docs(dest / "docs")
    queries = dest / "queries.jsonl"
    write_queries(queries, spans)
    return queries


def summary(dest: Path, spans_seconds: float) -> str:
    """Counts of files per folder, seconds of speech, and queries per modality and kind."""
    files = {
        sub: sum(1 for _ in (dest / sub).iterdir()) for sub in ("photos", "recordings", "docs")
    }
    kinds = Counter(f"{q.modality}/{q.kind}" for q in QUERIES)
    return (
        f"mixed corpus in {dest}: "
        + ", ".join(f"{n} {sub}" for sub, n in files.items())
        + f"; {spans_seconds:.1f} s of speech; {len(QUERIES)} queries ("
        + ", ".join(f"{k} {n}" for k, n in sorted(kinds.items()))
        + ")"
    )


def _speech_seconds(folder: Path) -> float:
    total = 0.0
    for path in sorted(folder.glob("*.wav")):
        with wave.open(str(path), "rb") as source:
            total += source.getnframes() / source.getframerate()
    return total


def main(argv: Sequence[str] | None = None) -> int:
    """Build the corpus into the folder given on the command line and print a summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("dest", type=Path, help="folder to build the corpus in")
    args = parser.parse_args(argv)
    try:
        queries = build_corpus(args.dest)
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(summary(args.dest, _speech_seconds(args.dest / "recordings")))
    print(f"queries: {queries}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
