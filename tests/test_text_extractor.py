"""The plain-text extractor: encoding detection, binary detection, chunks with offsets.

Each test is named after the hard case it pins. The chunking property test is
seeded, so a failure reproduces exactly.
"""

from __future__ import annotations

import codecs
import io
import os
import random
from pathlib import Path
from typing import Any

import pytest
from mmsearch_images import PillowImageExtractor
from mmsearch_text import PlainTextExtractor, chunk_spans, decode_text, looks_binary
from PIL import Image

from mmsearch import ExtractSettings, Segment, SkipFile, Source
from mmsearch.index.extraction import extract_file

# -- helpers ------------------------------------------------------------------------------


def _source(path: Path, size: int | None = None, **settings: Any) -> Source:
    raw = os.fsencode(path)
    real = os.path.getsize(raw) if size is None else size
    return Source(raw, os.fsdecode(raw), real, ExtractSettings(**settings))


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _segments(path: Path, **settings: Any) -> list[Segment]:
    segments = list(PlainTextExtractor().extract(_source(path, **settings)))
    for segment in segments:
        assert (segment.kind, segment.modality) == ("text", "text")
        assert segment.content == segment.text
    return segments


def _skip(path: Path, size: int | None = None, **settings: Any) -> SkipFile:
    with pytest.raises(SkipFile) as caught:
        list(PlainTextExtractor().extract(_source(path, size, **settings)))
    return caught.value


def _visible(text: str) -> list[str]:
    return [char for char in text if not char.isspace()]


def _assert_chunked(text: str, spans: list[tuple[int, int]], size: int) -> None:
    """The chunking contract: bounded, trimmed, ordered, disjoint, and losing nothing."""
    previous_end = 0
    for start, end in spans:
        assert previous_end <= start < end <= len(text), (start, end)
        assert end - start <= size
        assert not text[start].isspace() and not text[end - 1].isspace()
        previous_end = end
    # Outside the chunks there is only white space.
    ends = [0, *(end for _, end in spans)]
    gaps = [text[a:b] for a, b in zip(ends, [start for start, _ in spans], strict=False)]
    assert all(not gap.strip() for gap in gaps)
    assert not text[previous_end:].strip()
    assert _visible("".join(text[s:e] for s, e in spans)) == _visible(text)


def _chunks(text: str, size: int) -> list[str]:
    spans = list(chunk_spans(text, size))
    _assert_chunked(text, spans, size)
    return [text[s:e] for s, e in spans]


# -- decode_text ----------------------------------------------------------------------------

SAMPLE = "Café “menu” — naïve 日本語 😀"


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        (SAMPLE.encode("utf-8"), "utf-8"),
        (codecs.BOM_UTF8 + SAMPLE.encode("utf-8"), "utf-8"),
        (codecs.BOM_UTF16_LE + SAMPLE.encode("utf-16-le"), "utf-16-le"),
        (codecs.BOM_UTF16_BE + SAMPLE.encode("utf-16-be"), "utf-16-be"),
        (codecs.BOM_UTF32_LE + SAMPLE.encode("utf-32-le"), "utf-32-le"),
        (codecs.BOM_UTF32_BE + SAMPLE.encode("utf-32-be"), "utf-32-be"),
    ],
)
def test_decode_text_unicode_with_and_without_bom(data: bytes, encoding: str) -> None:
    # The BOM decides, and is not part of the text.
    assert decode_text(data) == (SAMPLE, encoding)


def test_decode_text_latin1_cafe() -> None:
    text, encoding = decode_text("café au lait".encode("latin-1"))

    assert text == "café au lait"
    assert encoding in {"cp1252", "latin-1"}  # identical for these characters


def test_decode_text_latin1_ending_in_accent_is_not_utf8_cut_short() -> None:
    # 0xE9 ("é") at the very end also looks like the start of a 3-byte UTF-8 character.
    assert decode_text("café".encode("latin-1"))[0] == "café"


def test_decode_text_cp1252_smart_quotes() -> None:
    text = "“Quoted” – it’s €5…"  # noqa: RUF001 - the typographic characters are the point

    assert decode_text(text.encode("cp1252")) == (text, "cp1252")


def test_decode_text_bytes_cp1252_lacks_fall_to_latin1() -> None:
    data = b"caf\xe9 \x81"  # 0x81 has no cp1252 character

    assert decode_text(data) == ("café \x81", "latin-1")


@pytest.mark.parametrize(
    "data",
    [
        codecs.BOM_UTF8 + b"\xff\xfe not utf-8",
        codecs.BOM_UTF16_LE + b"\x00\xd8a\x00",  # a high surrogate with no low one
        codecs.BOM_UTF32_BE + b"\x7f\xff\xff\xff",  # far past the last code point
    ],
)
def test_decode_text_invalid_bom_falls_back_to_guessing(data: bytes) -> None:
    text, encoding = decode_text(data)

    assert encoding in {"cp1252", "latin-1"}
    assert text == data.decode(encoding)  # the whole file, guessed, never an exception


def test_decode_text_utf8_cut_mid_character_stays_utf8() -> None:
    data = "naïve 日本".encode()[:-1]  # the last character lost its final byte

    assert decode_text(data) == ("naïve 日\ufffd", "utf-8")


def test_decode_text_utf16_with_odd_trailing_byte_stays_utf16() -> None:
    data = codecs.BOM_UTF16_LE + "hello".encode("utf-16-le")[:-1]

    assert decode_text(data) == ("hell\ufffd", "utf-16-le")


def test_decode_text_empty() -> None:
    assert decode_text(b"") == ("", "utf-8")


# -- binary data --------------------------------------------------------------------------


def _png_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (32, 32), (200, 30, 30)).save(buffer, "PNG")
    return buffer.getvalue()


def test_png_bytes_in_a_text_file_are_binary_data(tmp_path: Path) -> None:
    path = _write(tmp_path / "picture.txt", _png_bytes())

    skip = _skip(path)

    assert skip.reason == "binary data"
    assert "misnamed" in skip.detail


def test_random_bytes_are_binary_data(tmp_path: Path) -> None:
    path = _write(tmp_path / "noise.log", random.Random(7).randbytes(4096))

    assert _skip(path).reason == "binary data"


def test_png_named_txt_goes_to_the_image_extractor(tmp_path: Path) -> None:
    path = _write(tmp_path / "picture.txt", _png_bytes())

    outcome = extract_file([PlainTextExtractor(), PillowImageExtractor()], _source(path))

    assert outcome.status == "done"
    assert outcome.extractor is not None and outcome.extractor.name == "pillow-image"


def test_looks_binary_on_decoded_png() -> None:
    assert looks_binary(decode_text(_png_bytes())[0])


def test_ansi_coloured_log_is_text(tmp_path: Path) -> None:
    line = "\x1b[32mINFO\x1b[0m \x1b[1mserver\x1b[0m started on port 8080\n"
    path = _write(tmp_path / "server.log", (line * 100).encode())

    segments = _segments(path)

    assert segments and "server" in segments[0].content


def test_a_few_control_characters_are_still_text() -> None:
    page = "A page of ordinary prose, with a tab\there and a vertical tab\x0b there.\r\n" * 20
    text = "\f".join([page] * 5) + "\x07 one bell, \x08 one backspace."

    assert not looks_binary(text)


def test_nul_in_text_is_binary() -> None:
    assert looks_binary("plain words and then \x00 one NUL")


# -- chunking -----------------------------------------------------------------------------


def test_chunks_prefer_paragraph_breaks() -> None:
    text = "First paragraph. It has two sentences.\n\nSecond paragraph is here. Short."

    chunks = _chunks(text, 60)

    assert chunks[0] == "First paragraph. It has two sentences."


def test_chunks_prefer_sentence_breaks_over_word_breaks() -> None:
    text = "The first sentence ends here. The second one runs on and on for a while."

    chunks = _chunks(text, 50)

    assert chunks[0] == "The first sentence ends here."


@pytest.mark.parametrize(
    ("text", "first"),
    [
        (
            'Then he said "stop right there." And he left quietly.',
            'Then he said "stop right there."',
        ),
        (
            "It was (or so they said) over.) And then the rest followed.",
            "It was (or so they said) over.)",
        ),
    ],
)
def test_sentence_break_after_closing_quote_or_bracket(text: str, first: str) -> None:
    assert _chunks(text, 40)[0] == first


def test_cjk_text_breaks_after_full_stops() -> None:
    text = "今日は晴れです。明日は雨が降るでしょう。週末は分かりません。"

    chunks = _chunks(text, 24)

    assert all(chunk.endswith("。") for chunk in chunks)


def test_chunks_fall_back_to_word_breaks() -> None:
    text = " ".join(f"word{i}" for i in range(100))

    for chunk in _chunks(text, 40):
        assert chunk.split()[0].startswith("word") and chunk.split()[-1].startswith("word")
        assert all(word[4:].isdigit() for word in chunk.split())  # no word cut in two


def test_single_very_long_word_is_hard_cut() -> None:
    text = "x" * 2500

    assert list(chunk_spans(text, 1000)) == [(0, 1000), (1000, 2000), (2000, 2500)]


def test_long_word_between_short_ones_is_hard_cut_without_loss() -> None:
    text = "short words " + "y" * 95 + " more words after it"

    chunks = _chunks(text, 30)

    assert max(len(chunk) for chunk in chunks) <= 30
    assert "".join(chunks).count("y") == 95


@pytest.mark.parametrize("text", ["", " ", "\n\n\n", " \t\r\n \u00a0\u2029 " * 300])
def test_empty_or_whitespace_only_text_yields_no_chunks(text: str) -> None:
    assert list(chunk_spans(text, 50)) == []


def test_chunk_size_one() -> None:
    assert _chunks("ab c", 1) == ["a", "b", "c"]


@pytest.mark.parametrize("size", [0, -5])
def test_chunk_size_below_one_is_refused_not_an_endless_loop(size: int) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        next(chunk_spans("some text", size))


_PIECES = [
    "a", "bc", "déf", "日本語", "😀", "e\u0301", " ", "  ", "\t", "\n", "\n\n", "\r\n",
    "\r\n\r\n", "\u00a0", "\u3000", ". ", "! ", "?\n", '." ', "。", "x" * 37, "word ",
]  # fmt: skip


def test_chunk_spans_property_seeded() -> None:
    rng = random.Random(20240607)
    for _ in range(300):
        text = "".join(rng.choice(_PIECES) for _ in range(rng.randint(0, 150)))
        size = rng.choice([1, 2, 3, 7, 16, 40, 100, 1000])
        _chunks(text, size)  # checks the whole contract


# -- extract: offsets, sizes ----------------------------------------------------------------


def _assert_offsets(segments: list[Segment], text: str, size: int) -> None:
    spans = [(s.char_start, s.char_end) for s in segments]
    assert all(start is not None and end is not None for start, end in spans)
    for segment in segments:
        assert segment.char_start is not None and segment.char_end is not None
        assert segment.text == text[segment.char_start : segment.char_end]
    _assert_chunked(text, [(s, e) for s, e in spans if s is not None and e is not None], size)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "utf-32", "cp1252"])
def test_extract_segments_match_decoded_text_offsets(tmp_path: Path, encoding: str) -> None:
    paragraph = "Prices rose “sharply” in the café. Nobody expected it! Did you? "
    text = (paragraph * 6 + "\n\n") * 5
    path = _write(tmp_path / "notes.txt", text.encode(encoding))

    segments = _segments(path, text_chunk_chars=120)

    assert len(segments) > 5
    # utf-8-sig, utf-16 and utf-32 write a BOM: offsets count from the text after it.
    _assert_offsets(segments, text, 120)


def test_multibyte_text_keeps_character_offsets_not_byte_offsets(tmp_path: Path) -> None:
    text = "日本語の文章です。" * 40 + "\n\n" + "😀 emoji and ümlauts. " * 30
    path = _write(tmp_path / "mixed.md", text.encode())

    segments = _segments(path, text_chunk_chars=50)

    _assert_offsets(segments, text, 50)
    last_end = segments[-1].char_end
    assert last_end == len(text.rstrip()) < len(text.encode())


def test_extract_whitespace_only_file_has_no_content(tmp_path: Path) -> None:
    path = _write(tmp_path / "blank.txt", b" \n\t\r\n   \n")

    assert _segments(path) == []
    outcome = extract_file([PlainTextExtractor()], _source(path))
    assert (outcome.status, outcome.reason) == ("skipped", "no content")


def test_extract_empty_file_is_empty(tmp_path: Path) -> None:
    path = _write(tmp_path / "empty.txt", b"")

    outcome = extract_file([PlainTextExtractor()], _source(path))

    assert (outcome.status, outcome.reason) == ("skipped", "empty file")


def test_text_over_max_text_bytes_is_too_large(tmp_path: Path) -> None:
    path = _write(tmp_path / "big.txt", b"word " * 201)  # 1005 bytes

    skip = _skip(path, max_text_bytes=1000)

    assert skip.reason == "too large"
    # Just over must not print as equal to the limit ("1.0 KB ... over the 1.0 KB limit").
    assert "1.005 KB" in skip.detail and "1 KB limit" in skip.detail
    assert "split it" in skip.detail


def test_text_at_max_text_bytes_is_read(tmp_path: Path) -> None:
    path = _write(tmp_path / "fits.txt", b"word " * 200)  # exactly 1000 bytes

    assert len(_segments(path, max_text_bytes=1000)) >= 1


def test_text_that_grew_past_the_limit_since_listing_is_too_large(tmp_path: Path) -> None:
    path = _write(tmp_path / "growing.log", b"line\n" * 300)  # 1500 bytes now

    skip = _skip(path, size=500, max_text_bytes=1000)  # listed at 500 bytes

    assert skip.reason == "too large"


def test_default_text_limit_message_is_readable(tmp_path: Path) -> None:
    path = _write(tmp_path / "huge.txt", b"x")
    limit = ExtractSettings().max_text_bytes

    skip = _skip(path, size=limit + 1)

    assert skip.reason == "too large"
    assert "MB" in skip.detail
