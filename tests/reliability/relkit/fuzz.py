"""Mutated media for the fuzz corpus: valid files of five formats, damaged from a fixed seed.

Each base is a small valid file: JPEG, PNG, WAV, a two-page PDF (made by
tests/test_documents.py's ``make_pdf``) and an MP4 audio file (M4A, written with
PyAV when it is installed). A mutant is a base with one to three damages: bytes
flipped (mostly in the header, where parsers decide things), a truncation, or a
length field that lies (a PNG chunk length or IHDR size with its CRC made to
match, a JPEG segment length or frame size, a RIFF/fmt/data size or format
field, a PDF ``/Length``, xref offset or page count, an MP4 box size or table
entry count). The same seed gives the same bytes on every machine (the M4A base
depends on the installed encoder).
"""

from __future__ import annotations

import io
import random
import re
import struct
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
from test_documents import make_pdf

from mmsearch.testing.media import image_bytes, sample_images, wav_bytes

LIES_32 = (0, 1, 7, 8, 0x7FFF, 0xFFFF, 0x7FFFFFFF, 0xFFFFFFFF)
LIES_16 = (0, 1, 2, 3, 0x7FFF, 0xFFFF)
HEADER_BYTES = 512


@dataclass(frozen=True, slots=True)
class Base:
    """A valid file to damage, and the extensions its mutants are written with."""

    kind: str
    data: bytes
    extensions: tuple[str, ...]


def m4a_bytes(seconds: float = 0.5) -> bytes | None:
    """Silent AAC in an M4A (MP4) file, or None without PyAV. Silence: no model runs on it."""
    try:
        import av
    except ImportError:
        return None
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="ipod") as out:
        stream = out.add_stream("aac", rate=16_000, layout="mono")
        frame = av.AudioFrame.from_ndarray(
            np.zeros((1, int(16_000 * seconds)), dtype=np.float32), format="fltp", layout="mono"
        )
        frame.rate = 16_000
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            out.mux(packet)
    return buffer.getvalue()


def bases() -> list[Base]:
    """The valid files the mutants come from (audio silent, so no speech model runs)."""
    images = sample_images()
    found = [
        Base("jpeg", image_bytes(images[1], "JPEG", quality=90), ("jpg", "jpeg")),
        Base("png", image_bytes(images[0], "PNG"), ("png",)),
        Base("wav", wav_bytes(np.zeros(4000, dtype=np.float32)), ("wav",)),
        Base("pdf", make_pdf([["Harbour lanterns", "and granite meadows"], None]), ("pdf",)),
    ]
    m4a = m4a_bytes()
    if m4a is not None:
        found.append(Base("mp4", m4a, ("m4a", "mp4")))
    return found


# -- where the length fields are ---------------------------------------------------


def png_chunks(data: bytes) -> Iterator[tuple[int, bytes, int]]:
    """(offset of the length field, chunk type, data length) of each PNG chunk."""
    offset = 8
    while offset + 8 <= len(data):
        (length,) = struct.unpack_from(">I", data, offset)
        yield offset, data[offset + 4 : offset + 8], length
        offset += 12 + length


def jpeg_segments(data: bytes) -> Iterator[tuple[int, int]]:
    """(offset of the marker, marker byte) of each JPEG segment with a length, up to SOS."""
    offset = 2
    while offset + 4 <= len(data) and data[offset] == 0xFF:
        marker = data[offset + 1]
        yield offset, marker
        if marker == 0xDA:  # start of scan: entropy-coded data follows
            return
        offset += 2 + struct.unpack_from(">H", data, offset + 2)[0]


def mp4_boxes(data: bytes, start: int = 0, end: int | None = None) -> Iterator[tuple[int, bytes]]:
    """(offset, type) of every MP4 box, descending into the containers that hold others."""
    end = len(data) if end is None else end
    offset = start
    while offset + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, offset)
        yield offset, kind
        if size < 8:
            return
        if kind in (b"moov", b"trak", b"mdia", b"minf", b"stbl", b"udta", b"edts"):
            yield from mp4_boxes(data, offset + 8, min(end, offset + size))
        offset += size


# -- damages -------------------------------------------------------------------------


def flip_bytes(data: bytes, rng: random.Random) -> tuple[bytes, str]:
    """XOR a few bytes, most in the header."""
    out = bytearray(data)
    count = rng.randint(1, 8)
    for _ in range(count):
        span = HEADER_BYTES if rng.random() < 0.8 else len(out)
        out[rng.randrange(min(span, len(out)))] ^= rng.randint(1, 255)
    return bytes(out), f"flip{count}"


def truncate(data: bytes, rng: random.Random) -> tuple[bytes, str]:
    """Cut the file short, often inside its header."""
    span = HEADER_BYTES if rng.random() < 0.6 else len(data)
    cut = rng.randrange(min(span, len(data)))
    return data[:cut], f"cut{cut}"


def _put(data: bytes, offset: int, fmt: str, value: int) -> bytes:
    out = bytearray(data)
    struct.pack_into(fmt, out, offset, value % (1 << (8 * struct.calcsize(fmt))))
    return bytes(out)


def _lie(rng: random.Random, true: int, lies: tuple[int, ...]) -> int:
    return rng.choice([*lies, true + 1, max(0, true - 1), true * 2 + 1])


def lie_png(data: bytes, rng: random.Random) -> tuple[bytes, str]:
    """A chunk length lies, or IHDR's size does with its CRC recomputed (so it is believed)."""
    chunks = list(png_chunks(data))
    offset, kind, length = rng.choice(chunks)
    if kind == b"IHDR" and rng.random() < 0.6:
        field = rng.choice((0, 4))
        lied = _put(data, offset + 8 + field, ">I", rng.choice(LIES_32))
        crc = zlib.crc32(lied[offset + 4 : offset + 8 + length])
        return _put(lied, offset + 8 + length, ">I", crc), f"ihdr{field}"
    return _put(data, offset, ">I", _lie(rng, length, LIES_32)), f"len-{kind.decode()}"


def lie_jpeg(data: bytes, rng: random.Random) -> tuple[bytes, str]:
    """A segment length lies, or the frame header's height or width does."""
    segments = list(jpeg_segments(data))
    frames = [o for o, m in segments if m in (0xC0, 0xC1, 0xC2)]
    if frames and rng.random() < 0.4:
        field = rng.choice((5, 7))  # height, width
        return _put(data, frames[0] + field, ">H", rng.choice(LIES_16)), f"sof{field}"
    offset, marker = rng.choice(segments)
    true = struct.unpack_from(">H", data, offset + 2)[0]
    return _put(data, offset + 2, ">H", _lie(rng, true, LIES_16)), f"len-ff{marker:02x}"


_WAV_FIELDS = {
    4: "<I",
    16: "<I",
    20: "<H",
    22: "<H",
    24: "<I",
    28: "<I",
    32: "<H",
    34: "<H",
    40: "<I",
}


def lie_wav(data: bytes, rng: random.Random) -> tuple[bytes, str]:
    """A RIFF, fmt or data size lies, or a format field (codec, channels, rate, bits) does."""
    offset = rng.choice(sorted(_WAV_FIELDS))
    fmt = _WAV_FIELDS[offset]
    true = struct.unpack_from(fmt, data, offset)[0]
    return _put(data, offset, fmt, _lie(rng, true, LIES_16 if fmt == "<H" else LIES_32)), (
        f"wav{offset}"
    )


_PDF_NUMBERS = {
    "length": rb"/Length (\d+)",
    "count": rb"/Count (\d+)",
    "size": rb"/Size (\d+)",
    "startxref": rb"startxref\n(\d+)",
}


def lie_pdf(data: bytes, rng: random.Random) -> tuple[bytes, str]:
    """A ``/Length``, ``/Count``, ``/Size``, ``startxref`` or xref offset says another number."""
    if rng.random() < 0.3:
        offsets = [m.start() for m in re.finditer(rb"\d{10} 00000 n", data)]
        at = rng.choice(offsets)
        lie = b"%010d" % rng.choice([0, 1, rng.randrange(len(data)), 9_999_999_999])
        return data[:at] + lie + data[at + 10 :], "xref"
    name = rng.choice(sorted(_PDF_NUMBERS))
    match = re.search(_PDF_NUMBERS[name], data)
    assert match is not None
    lie = str(rng.choice([0, 1, -1, 999_999_999, int(match.group(1)) + 1])).encode()
    return data[: match.start(1)] + lie + data[match.end(1) :], f"pdf-{name}"


def lie_mp4(data: bytes, rng: random.Random) -> tuple[bytes, str]:
    """A box size lies, or a sample table's entry count does."""
    boxes = list(mp4_boxes(data))
    tables = [o for o, k in boxes if k in (b"stsz", b"stco", b"stts", b"stsc")]
    if tables and rng.random() < 0.4:
        offset = rng.choice(tables)
        field = 16 if data[offset + 4 : offset + 8] == b"stsz" else 12
        return _put(data, offset + field, ">I", rng.choice(LIES_32)), "entries"
    offset, kind = rng.choice(boxes)
    true = struct.unpack_from(">I", data, offset)[0]
    return _put(data, offset, ">I", _lie(rng, true, LIES_32)), f"box-{kind.decode('latin-1')}"


LIES: dict[str, Callable[[bytes, random.Random], tuple[bytes, str]]] = {
    "jpeg": lie_jpeg,
    "png": lie_png,
    "wav": lie_wav,
    "pdf": lie_pdf,
    "mp4": lie_mp4,
}


def mutate(base: Base, rng: random.Random) -> tuple[bytes, str]:
    """One to three damages to ``base``; the bytes, and what was done (for the file name)."""
    data, done = base.data, []
    for _ in range(rng.choice((1, 1, 2, 3))):
        if not data:
            break
        damage = rng.choice((flip_bytes, truncate, LIES[base.kind], LIES[base.kind]))
        try:
            data, what = damage(data, rng)
        except (ValueError, IndexError, struct.error, AssertionError):
            continue  # an earlier damage hid the field this one looks for
        done.append(what)
    return data, "+".join(done) or "none"


def mutants(count: int, seed: int) -> Iterator[tuple[str, bytes, str]]:
    """``count`` mutants as (relative path, bytes, what was done), round-robin over the bases."""
    rng = random.Random(seed)
    found = bases()
    for n in range(count):
        base = found[n % len(found)]
        data, what = mutate(base, rng)
        ext = rng.choice(base.extensions)
        safe = re.sub(r"[^A-Za-z0-9+-]", "_", what)[:60]
        yield f"mutants/{base.kind}/{n:05d}-{safe}.{ext}", data, f"{base.kind} {what}"
