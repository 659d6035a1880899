"""mmsearch plugin: plain-text files, decoded with care and cut into chunks with offsets.

Encodings: a byte-order mark decides (UTF-8, UTF-16, UTF-32); otherwise
strict UTF-8, then Windows-1252, then Latin-1, which decodes anything. A
character cut off at the very end of a Unicode file becomes U+FFFD rather than
demoting the whole file to a legacy encoding. Binary files that merely carry a
text extension are skipped.
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
_UNITS = (("MB", 1e6), ("KB", 1e3))
# What codecs say when the data ends in the middle of a character.
_CUT_SHORT = frozenset({"unexpected end of data", "truncated data"})
# ESC (\x1b) is left out: ANSI colour codes fill many perfectly textual .log files.
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1a\x1c-\x1f]")
_BREAKS = (
    re.compile(r"\n\s*\n"),
    # A sentence ends at . ! ? (and any closing quotes or brackets) before white space,
    # or at a CJK full stop, which needs none.
    re.compile(r"[.!?][\"')\]\u201d\u2019]*\s+|[\u3002\uff01\uff1f]\s*"),
    re.compile(r"\s+"),
)


def _decode(data: bytes, encoding: str, *, after_bom: bool) -> str:
    """Strict decoding, except that a character cut off at the very end becomes U+FFFD.

    A file still being written, or truncated by a failed copy, ends mid-character;
    one broken character must not send the whole file to a legacy encoding.
    """
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        head = data[: exc.start]
        cut_short = exc.end == len(data) and exc.reason in _CUT_SHORT
        # Without a BOM, only earlier multibyte characters show it is UTF-8 cut short,
        # not Latin-1 "café", whose last byte merely looks like the start of one.
        if cut_short and (after_bom or not head.isascii()):
            return head.decode(encoding) + "\ufffd"
        raise


def decode_text(data: bytes) -> tuple[str, str]:
    """The text and the name of the encoding it was decoded with."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return _decode(data[len(bom) :], encoding, after_bom=True), encoding
            except UnicodeDecodeError:
                break  # a BOM followed by junk: fall back to guessing
    for encoding in _FALLBACKS:
        try:
            return _decode(data, encoding, after_bom=False), encoding
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
    """``(start, end)`` character offsets of chunks of at most ``size`` characters.

    Chunks are trimmed of white space, never overlap, and together hold every
    other character of ``text`` in order.
    """
    if size < 1:
        # A zero size would never advance: fail loudly instead of looping forever.
        raise ValueError(f"chunk size must be at least 1 character, not {size}")
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


def _sizes(size: int, limit: int) -> tuple[str, str]:
    """Both byte counts in one unit, with enough decimals that the size reads as larger."""
    for unit, scale in _UNITS:
        if limit >= scale:
            for decimals in range(1, 7):
                shown = f"{size / scale:.{decimals}f}"
                if float(shown) > limit / scale:
                    break
            return f"{shown} {unit}", f"{limit / scale:g} {unit}"
    return f"{size} bytes", f"{limit} bytes"


def _too_large(size: int, limit: int) -> SkipFile:
    shown, cap = _sizes(size, limit)
    return SkipFile(
        "too large",
        f"{shown} of text is over the {cap} limit for text files; "
        "split it into smaller files, or raise the limit with --max-text-mb "
        "(max_text_bytes in the Python API's ExtractSettings)",
    )


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
            raise _too_large(source.size, limit)
        with source.open() as handle:
            data = handle.read(limit + 1)
        if len(data) > limit:
            # It grew since it was listed; a cut-off read would end mid-character.
            raise _too_large(len(data), limit)
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
