"""Media for plugin tests: ordinary samples, and the hostile corpus every plugin must survive.

Everything is generated on the spot from a fixed seed (no files to download,
the same bytes on every machine): PNG and JPEG images with Pillow, WAV
recordings with the standard library, texts in several encodings.
"""

from __future__ import annotations

import errno
import io
import math
import os
import random
import struct
import wave
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

SAMPLE_RATE = 16_000
"""Sample rate of the kit's waveforms and WAV files (mono float32 in [-1, 1])."""

Expectation = Literal["reason", "indexed", "either"]


@dataclass(frozen=True, slots=True)
class HostileFile:
    """One file of the hostile corpus and what the engine must make of it.

    ``expect`` is ``"reason"`` (skipped or failed with a reason, whatever is
    installed), ``"indexed"`` (a valid file: indexed when an installed extractor
    claims its extension) or ``"either"`` (indexed, or skipped with a reason).
    """

    path: Path
    hazard: str
    expect: Expectation


@dataclass(slots=True)
class HostileCorpus:
    """A folder of hostile files, and the expectations for each."""

    root: Path
    files: list[HostileFile] = field(default_factory=list)

    def add(
        self, relpath: str | bytes, data: bytes, hazard: str, expect: Expectation
    ) -> Path | None:
        """Write ``data`` at ``relpath`` under the root and record it.

        Returns None, recording nothing, where the file system refuses the name
        (macOS refuses names that are not valid UTF-8).
        """
        raw = os.path.join(os.fsencode(self.root), os.fsencode(relpath))
        try:
            with open(raw, "wb") as handle:
                handle.write(data)
        except OSError as exc:
            if exc.errno == errno.EILSEQ:
                return None
            raise
        path = Path(os.fsdecode(raw))
        self.files.append(HostileFile(path, hazard, expect))
        return path

    def by_hazard(self, hazard: str) -> HostileFile:
        """The file written for ``hazard``."""
        return next(f for f in self.files if f.hazard == hazard)


# -- ordinary samples ----------------------------------------------------------

SAMPLE_TEXTS = (
    "A red car parked by the harbour at sunset.",
    "Minutes of the budget meeting: the roof repairs come first.",
    "Un café au lait, s'il vous plaît, et l'addition.",
    "東京の夜景はとても綺麗でした。",
)

_COLOURS = ((220, 30, 30), (30, 60, 210), (40, 170, 60), (245, 200, 40))
_SIZES = ((64, 48), (37, 91), (120, 80), (50, 50))


def sample_images() -> list[Any]:
    """Four small RGB PIL images of different colours, patterns and shapes."""
    from PIL import Image, ImageDraw

    images = []
    for i, (colour, size) in enumerate(zip(_COLOURS, _SIZES, strict=True)):
        image = Image.new("RGB", size, colour)
        draw = ImageDraw.Draw(image)
        inverse = tuple(255 - c for c in colour)
        draw.rectangle((0, 0, size[0] // (i + 2), size[1] // 2), fill=inverse)
        draw.ellipse((size[0] // 2, size[1] // 3, size[0] - 1, size[1] - 1), fill=(250, 250, 250))
        images.append(image)
    return images


def tone(seconds: float, freq: float = 440.0, amplitude: float = 0.5) -> npt.NDArray[np.float32]:
    """A sine tone as a mono float32 waveform at :data:`SAMPLE_RATE`."""
    t = np.arange(int(seconds * SAMPLE_RATE), dtype=np.float64) / SAMPLE_RATE
    return (amplitude * np.sin(2 * math.pi * freq * t)).astype(np.float32)


def sample_waveforms() -> list[npt.NDArray[np.float32]]:
    """Three short recordings: a low tone, a high tone, a noise burst with a chirp."""
    rng = np.random.default_rng(7)
    noise = (0.2 * rng.standard_normal(SAMPLE_RATE // 2)).astype(np.float32)
    t = np.arange(SAMPLE_RATE // 2) / SAMPLE_RATE
    chirp = (0.4 * np.sin(2 * math.pi * (200 + 1600 * t) * t)).astype(np.float32)
    return [tone(1.0, 220.0), tone(0.8, 1760.0, 0.3), noise + chirp]


_SAMPLES: dict[str, Callable[[], list[Any]]] = {
    "text": lambda: list(SAMPLE_TEXTS),
    "image": lambda: sample_images(),
    "audio": lambda: list(sample_waveforms()),
}


def sample_contents(modalities: Iterable[str] = ("text", "image", "audio")) -> dict[str, list[Any]]:
    """Ordinary inputs for an encoder, for each of ``modalities``."""
    return {modality: _SAMPLES[modality]() for modality in modalities}


def _edge_images() -> list[Any]:
    from PIL import Image

    return [
        Image.new("RGB", (1, 1), (10, 200, 30)),
        Image.new("RGB", (1, 700), (200, 10, 30)),
        Image.new("RGB", (700, 1), (30, 10, 200)),
        Image.new("RGB", (32, 32), (0, 0, 0)),
    ]


_EDGES: dict[str, Callable[[], list[Any]]] = {
    "text": lambda: ["", "   \n\t ", "\U0001f642\U0001f642\U0001f642", "word " * 4000, "x"],
    "image": _edge_images,
    "audio": lambda: [
        np.zeros(SAMPLE_RATE, dtype=np.float32),
        tone(0.01),
        np.ones(SAMPLE_RATE // 4, dtype=np.float32),
    ],
}


def edge_contents(modalities: Iterable[str] = ("text", "image", "audio")) -> dict[str, list[Any]]:
    """Valid but unusual inputs an encoder meets in real folders, for each of ``modalities``."""
    return {modality: _EDGES[modality]() for modality in modalities}


def image_bytes(image: Any, fmt: str, **options: Any) -> bytes:
    """``image`` encoded as ``fmt`` ("PNG", "JPEG")."""
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def wav_bytes(waveform: npt.NDArray[np.float32], rate: int = SAMPLE_RATE) -> bytes:
    """A 16-bit mono WAV file of ``waveform``."""
    pcm = (np.clip(waveform, -1.0, 1.0) * 32767).astype("<i2").tobytes()
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(pcm)
    return buffer.getvalue()


def write_sample_media(folder: Path) -> list[Path]:
    """Ordinary files of common types (PNG, JPEG, text, Markdown, WAV) under ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    images = sample_images()
    files = {
        "red.png": image_bytes(images[0], "PNG"),
        "blue.jpg": image_bytes(images[1], "JPEG", quality=90),
        "green.png": image_bytes(images[2], "PNG"),
        "car.txt": SAMPLE_TEXTS[0].encode(),
        "budget.md": f"# Budget\n\n{SAMPLE_TEXTS[1]}\n".encode(),
        "cafe.txt": SAMPLE_TEXTS[2].encode("cp1252"),
        "tone.wav": wav_bytes(sample_waveforms()[0]),
    }
    written = []
    for name, data in files.items():
        path = folder / name
        path.write_bytes(data)
        written.append(path)
    return written


# -- the hostile corpus ----------------------------------------------------------


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def bomb_png(width: int = 4000, height: int = 4000) -> bytes:
    """A real, decodable greyscale PNG of ``width`` x ``height`` that compresses to a few KB."""
    rows = (b"\x00" + bytes(width)) * 250  # each row: filter byte, then black pixels
    compressor = zlib.compressobj(9)
    parts = [compressor.compress(rows) for _ in range(height // 250)]
    parts.append(compressor.compress((b"\x00" + bytes(width)) * (height % 250)))
    body = b"".join(parts) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", body)
        + _png_chunk(b"IEND", b"")
    )


def truncated_wav() -> bytes:
    """A WAV whose header promises a second of audio but holds a tenth of it."""
    data = wav_bytes(tone(1.0))
    return data[: 44 + SAMPLE_RATE // 5]


def _flip(data: bytes, seed: int) -> bytes:
    """``data`` with bytes in its second half inverted, headers left intact."""
    rng = random.Random(seed)
    out = bytearray(data)
    start = len(out) // 2
    for _ in range(max(1, len(out) // 50)):
        i = rng.randrange(start, len(out))
        out[i] ^= 0xFF
    return bytes(out)


def _random_bytes(size: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(size)


def _generic(corpus: HostileCorpus) -> None:
    from PIL import Image

    images = sample_images()
    png, jpeg = image_bytes(images[0], "PNG"), image_bytes(images[1], "JPEG", quality=90)
    add = corpus.add
    add("empty.jpg", b"", "zero-byte image", "reason")
    add("empty.txt", b"", "zero-byte text", "reason")
    add("empty.wav", b"", "zero-byte audio", "reason")
    add("truncated.png", png[: len(png) * 2 // 3], "truncated PNG", "reason")
    add("truncated.jpg", jpeg[: len(jpeg) // 2], "truncated JPEG", "either")
    add("bitflip.jpg", _flip(jpeg, 1), "bit-flipped JPEG", "either")
    add("header-only.png", png[:33], "PNG header without data", "reason")
    add("truncated.wav", truncated_wav(), "truncated WAV", "either")
    add("header-only.wav", wav_bytes(tone(1.0))[:44], "WAV header without data", "either")
    add("not-an-image.jpg", b"Just some words, not a JPEG.\n", "text named .jpg", "reason")
    add("random.png", _random_bytes(4096, 2), "random bytes named .png", "reason")
    add("random.wav", _random_bytes(4096, 3), "random bytes named .wav", "reason")
    add("random.mp4", _random_bytes(4096, 4), "random bytes named .mp4", "reason")
    add("random.pdf", _random_bytes(4096, 5), "random bytes named .pdf", "reason")
    add("bomb.png", bomb_png(), "decompression bomb (16 MP, over a 1 MP cap)", "reason")
    add("binary.txt", b"\x00\x01\x02BIN\x00" * 500, "binary data named .txt", "reason")
    add(b"caf\xe9-latin1-name.txt", "Caf\xe9 notes".encode("cp1252"), "non-UTF-8 name", "indexed")
    add("latin1.txt", "Na\xefve caf\xe9 cr\xe8me".encode("cp1252"), "text in cp1252", "indexed")
    add("emoji.txt", " \n\U0001f642\U0001f642 \t\n".encode(), "text of emoji only", "indexed")
    add("tiny.png", image_bytes(Image.new("RGB", (1, 1), (9, 9, 9)), "PNG"), "1x1 image", "indexed")
    tall = Image.new("RGB", (2, 900), (200, 30, 30))
    add("tall.png", image_bytes(tall, "PNG"), "2x900 image", "indexed")
    add("silence.wav", wav_bytes(np.zeros(SAMPLE_RATE, np.float32)), "silent audio", "either")
    add("click.wav", wav_bytes(tone(0.01)), "10 ms of audio", "either")


def _links(corpus: HostileCorpus) -> None:
    loop = corpus.root / "loop"
    loop.mkdir()
    (loop / "inside.txt").write_text("inside the looping folder")
    corpus.files.append(HostileFile(loop / "inside.txt", "file beside a symlink loop", "indexed"))
    os.symlink("..", loop / "back-to-top")
    corpus.files.append(HostileFile(loop / "back-to-top", "folder symlink loop", "reason"))
    os.symlink("self-link.txt", corpus.root / "self-link.txt")
    corpus.files.append(HostileFile(corpus.root / "self-link.txt", "file symlink loop", "reason"))
    os.symlink("nowhere.txt", corpus.root / "dangling.txt")
    corpus.files.append(HostileFile(corpus.root / "dangling.txt", "dangling symlink", "reason"))


def _derived(corpus: HostileCorpus, samples: Sequence[Path]) -> None:
    """Damaged copies of the plugin's own sample files, for the formats it claims."""
    for n, sample in enumerate(samples):
        data = sample.read_bytes()
        stem, ext = f"sample{n}", sample.suffix
        what = f"{sample.name}"
        corpus.add(f"{stem}-copy{ext}", data, f"intact copy of {what}", "indexed")
        name = os.fsencode(stem) + b"-\xff\xfe-name" + os.fsencode(ext)
        corpus.add(name, data, f"copy of {what} with a non-UTF-8 name", "indexed")
        corpus.add(f"{stem}-empty{ext}", b"", f"zero-byte {ext}", "reason")
        corpus.add(f"{stem}-half{ext}", data[: len(data) // 2], f"{what} cut in half", "either")
        corpus.add(f"{stem}-head{ext}", data[:16], f"first 16 bytes of {what}", "either")
        corpus.add(f"{stem}-flipped{ext}", _flip(data, n), f"{what}, bit-flipped", "either")
        junk = _random_bytes(2048, 100 + n)
        corpus.add(f"{stem}-random{ext}", junk, f"random bytes named {ext}", "either")
        words = b"Plain words in a file with the wrong name.\n"
        corpus.add(f"{stem}-words{ext}", words, f"text named {ext}", "either")


def write_hostile_media(folder: Path, samples: Iterable[Path] = ()) -> HostileCorpus:
    """Write the hostile corpus under ``folder`` (created if needed).

    ``samples`` are valid files of the formats a plugin reads: the corpus adds
    intact, renamed, emptied, truncated, bit-flipped and impostor copies of each.
    Index it with ``max_image_megapixels=1`` (so ``bomb.png`` is over the cap) and
    ``follow_symlinks=True`` (so the folder loop is walked into and caught).
    """
    folder.mkdir(parents=True, exist_ok=True)
    corpus = HostileCorpus(folder)
    _generic(corpus)
    _links(corpus)
    _derived(corpus, list(samples))
    return corpus
