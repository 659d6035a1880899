"""mmsearch plugin: plain-text files, decoded with care and cut into chunks with offsets.

Encodings: a byte-order mark decides (UTF-8, UTF-16, UTF-32); otherwise
strict UTF-8, then Windows-1252, then Latin-1, which decodes anything. Binary
files that merely carry a text extension are skipped.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable, Iterator
from typing import ClassVar

from mmsearch import Extractor, MediaType, Segment, SkipFile, Source, hookimpl

_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),  # before UTF-16 LE, whose BOM is its prefix
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_FALLBACKS = ("utf-8", "cp1252", "latin-1")
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f]")
_BREAKS = (re.compile(r"\n\s*\n"), re.compile(r"(?<=[.!?])\s+"), re.compile(r"\s+"))


def decode_text(data: bytes) -> tuple[str, str]:
    """The text and the name of the encoding it was decoded with."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data[len(bom) :].decode(encoding), encoding
            except UnicodeDecodeError:
                break  # a BOM followed by junk: fall back to guessing
    for encoding in _FALLBACKS:
        try:
            return data.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    raise AssertionError("latin-1 decodes every byte string")  # pragma: no cover


def looks_binary(text: str) -> bool:
    """True when decoded text is full of control characters: a binary file, not prose."""
    sample = text[:8192]
    if "\x00" in sample:
        return True
    return len(_CONTROL.findall(sample)) > max(8, len(sample) // 100)


def _cut_point(text: str, start: int, limit: int) -> int:
    """Where to end a chunk starting at ``start``: a paragraph, sentence or word break."""
    if limit >= len(text):
        return len(text)
    floor = start + (limit - start) // 2
    for pattern in _BREAKS:
        best = -1
        for match in pattern.finditer(text, floor, limit):
            best = match.end()
        if best > floor:
            return best
    return limit


def chunk_spans(text: str, size: int) -> Iterator[tuple[int, int]]:
    """``(start, end)`` character offsets of chunks of at most ``size`` characters."""
    start = 0
    while start < len(text):
        end = _cut_point(text, start, start + size)
        left, right = start, end
        while left < right and text[left].isspace():
            left += 1
        while right > left and text[right - 1].isspace():
            right -= 1
        if right > left:
            yield left, right
        start = end


class PlainTextExtractor(Extractor):
    """Text chunks of about ``text_chunk_chars`` characters, cut at natural breaks."""

    name: ClassVar[str] = "plain-text"
    media_type: ClassVar[MediaType] = "text"
    extensions: ClassVar[frozenset[str]] = frozenset(
        {"txt", "text", "md", "markdown", "rst", "org", "log"}
    )

    def extract(self, source: Source) -> Iterator[Segment]:
        """Decode the file and yield its chunks with their character offsets."""
        limit = source.settings.max_text_bytes
        if source.size > limit:
            raise SkipFile(
                "too large",
                f"{source.size / 1e6:.1f} MB of text is over the {limit / 1e6:.0f} MB limit "
                "for text files; split it, or raise max_text_bytes",
            )
        with open(source.path, "rb") as handle:
            data = handle.read(limit + 1)
        text, _encoding = decode_text(data)
        if looks_binary(text):
            raise SkipFile(
                "binary data",
                "named like a text file but holds binary data; it may be misnamed",
            )
        for start, end in chunk_spans(text, source.settings.text_chunk_chars):
            yield Segment(
                kind="text",
                modality="text",
                content=text[start:end],
                text=text[start:end],
                char_start=start,
                char_end=end,
            )


@hookimpl
def register_extractors(register: Callable[[Extractor], None]) -> None:
    """Provide the plain-text extractor."""
    register(PlainTextExtractor())
