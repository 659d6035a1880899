"""The OCR annotator: printed words read in order, found by search, never at an image's cost.

The RapidOCR models ship in their wheel and load once for this module. Text is
drawn with Pillow's built-in scalable font, so the images are the same on every
machine.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
from mmsearch_images import PillowImageExtractor
from mmsearch_ocr import EngineConfig, OcrAnnotator, OcrLine
from mmsearch_ocr.decoding import SpacingDecoder
from mmsearch_ocr.layout import reading_text
from PIL import Image, ImageDraw, ImageFilter, ImageFont
from support import CountingEncoder, PluginObject

from mmsearch import ExtractSettings, Library, Segment, Source
from mmsearch.plugins import load_plugins

INVOICE = ["INVOICE 12345", "Total due: 980 EUR", "Paid by bank transfer"]


# -- helpers ------------------------------------------------------------------------------


def _printed(
    lines: Sequence[str], size: int = 36, canvas: tuple[int, int] | None = None
) -> Image.Image:
    """Black words on white, one line each."""
    font = ImageFont.load_default(size=size)
    step = round(size * 1.6)
    image = Image.new("RGB", canvas or (700, 48 + step * len(lines)), "white")
    draw = ImageDraw.Draw(image)
    for row, line in enumerate(lines):
        draw.text((24, 24 + row * step), line, fill="black", font=font)
    return image


def _photo(size: tuple[int, int], seed: int = 0, shapes: int = 0) -> Image.Image:
    """A text-free 'photo': smooth colour fields, blurred noise and a few blobs."""
    rng = np.random.default_rng(seed)
    width, height = size
    y, x = np.mgrid[0:height, 0:width] / max(size) * 640
    fields = np.stack(
        [120 + 80 * np.sin(x / 90), 140 + 60 * np.cos(y / 70), 110 + 50 * np.sin((x + y) / 120)],
        axis=-1,
    )
    noise = rng.integers(0, 256, (height // 8, width // 8, 3), dtype=np.uint8)
    smooth = np.asarray(Image.fromarray(noise).resize(size, Image.Resampling.BICUBIC))
    image = Image.fromarray(np.clip(fields * 0.7 + smooth * 0.3, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    for _ in range(shapes):
        cx, cy = int(rng.integers(50, width - 50)), int(rng.integers(50, height - 50))
        r = int(rng.integers(width // 30, width // 8))
        colour = (int(rng.integers(256)), int(rng.integers(256)), int(rng.integers(256)))
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=colour)
    return image.filter(ImageFilter.GaussianBlur(2))


def _source(path: Path | None = None, **options: Any) -> Source:
    raw = os.fsencode(path) if path else b"/nonexistent/image.png"
    size = os.path.getsize(raw) if path else 0
    return Source(raw, os.fsdecode(raw), size, ExtractSettings(options=options))


def _segment(image: Image.Image, text: str | None = None) -> Segment:
    return Segment(kind="image", modality="image", content=image, text=text)


def _words(text: str | None) -> list[str]:
    return (text or "").replace(":", " ").split()


@pytest.fixture(scope="module")
def annotator() -> OcrAnnotator:
    """One annotator for the module, so the models load once."""
    return OcrAnnotator()


# -- reading ------------------------------------------------------------------------------


def test_printed_lines_are_read_top_to_bottom_with_word_breaks(annotator: OcrAnnotator) -> None:
    text = annotator.annotate(_segment(_printed(INVOICE)), _source()).text
    assert text is not None
    # One line of text per printed line, in order, each word on its own: RapidOCR's own
    # decoder reads "INVOICE12345", which keyword search could never match.
    assert [_words(line) for line in text.splitlines()] == [_words(line) for line in INVOICE]


def test_words_beside_each_other_are_one_row_left_to_right(annotator: OcrAnnotator) -> None:
    image = Image.new("RGB", (900, 200), "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=36)
    # Far apart, so the detector sees two boxes; the right one sits 14 px higher, so
    # RapidOCR's own order (top first unless within 10 px) would put it first.
    draw.text((520, 52), "Amount 250", fill="black", font=font)
    draw.text((24, 66), "Garden chairs", fill="black", font=font)
    draw.text((24, 130), "Delivery Monday", fill="black", font=font)
    text = annotator.read(image)
    assert text.splitlines() == ["Garden chairs Amount 250", "Delivery Monday"]


def test_existing_segment_text_is_kept_before_the_words(annotator: OcrAnnotator) -> None:
    out = annotator.annotate(_segment(_printed(INVOICE[:1]), text="caption"), _source())
    assert out.text is not None
    assert out.text.splitlines()[0] == "caption"
    assert _words(out.text.splitlines()[1]) == ["INVOICE", "12345"]


def test_photo_without_text_gets_no_text(annotator: OcrAnnotator) -> None:
    segment = _segment(_photo((640, 480), shapes=6))
    assert annotator.annotate(segment, _source()) is segment


def test_large_images_are_read_at_the_working_size(
    annotator: OcrAnnotator, monkeypatch: pytest.MonkeyPatch
) -> None:
    shapes: list[tuple[int, ...]] = []

    def read(rgb: np.ndarray) -> list[OcrLine]:
        shapes.append(rgb.shape)
        return []

    monkeypatch.setattr(annotator.engine, "read", read)
    segment = _segment(_photo((3200, 2400), shapes=3))
    # ocr=full: a photo without words would not get past the quick look to be read.
    annotator.annotate(segment, _source(ocr="full"))
    annotator.annotate(segment, _source(ocr="full", ocr_max_side="1000"))
    assert shapes == [(1200, 1600, 3), (750, 1000, 3)]


def test_small_print_on_a_large_page_is_read(annotator: OcrAnnotator) -> None:
    # 20 px type on a 2400 px page is 13 px at the 1600 px working size.
    page = _printed(["Quarterly budget report", "Kitchen window 4711"], 20, (2400, 1600))
    text = annotator.annotate(_segment(page), _source()).text
    assert _words(text) == ["Quarterly", "budget", "report", "Kitchen", "window", "4711"]


# -- cheap cases and options --------------------------------------------------------------


@pytest.mark.parametrize(
    "image",
    [
        pytest.param(Image.new("RGB", (400, 12), "white"), id="a strip 12 px high"),
        pytest.param(Image.new("RGB", (3000, 2000), (250, 250, 250)), id="a blank page"),
        pytest.param(Image.new("RGB", (640, 480), (30, 90, 200)), id="one flat colour"),
    ],
)
def test_images_that_cannot_hold_words_never_load_the_models(image: Image.Image) -> None:
    fresh = OcrAnnotator()
    segment = _segment(image)
    assert fresh.annotate(segment, _source()) is segment
    assert fresh.engine.loads == 0


def test_ocr_off_option_leaves_segments_alone() -> None:
    fresh = OcrAnnotator()
    segment = _segment(_printed(INVOICE))
    assert fresh.annotate(segment, _source(ocr="off")) is segment
    assert fresh.engine.loads == 0


def test_bad_max_side_option_says_which_option_and_what_to_give() -> None:
    with pytest.raises(ValueError, match=r"ocr_max_side must be a whole number.*got 'big'"):
        OcrAnnotator().annotate(_segment(_printed(INVOICE)), _source(ocr_max_side="big"))


def test_registering_the_plugin_loads_no_model() -> None:
    script = (
        "import sys\n"
        "from mmsearch.plugins import load_plugins\n"
        "registry = load_plugins()\n"
        "ocr = [a for a in registry.annotators if a.name == 'ocr']\n"
        "assert len(ocr) == 1, registry.annotators\n"
        "assert ocr[0].engine.loads == 0\n"
        "loaded = sorted(m for m in ('rapidocr_onnxruntime', 'onnxruntime', 'cv2')"
        " if m in sys.modules)\n"
        "assert not loaded, loaded\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("MMSEARCH_")}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr


# -- resolution ---------------------------------------------------------------------------


def test_jpeg_shrunk_for_the_encoder_is_read_again_at_full_size(
    annotator: OcrAnnotator, tmp_path: Path
) -> None:
    path = tmp_path / "receipt.jpg"
    _printed(["Coffee 4.20", "Croissant 2.10"], 24, (2400, 1600)).save(path, quality=92)
    # An encoder of 112 px images: the extractor keeps twice that, a 1/4 draft decode.
    source = _source(path, image_min_side=112)
    [segment] = PillowImageExtractor().extract(source)
    assert max(segment.content.size) <= 800  # draft-decoded: the print is a few pixels high
    assert "Croissant" not in annotator.read(segment.content)
    assert _words(annotator.annotate(segment, source).text) == [
        "Coffee",
        "4.20",
        "Croissant",
        "2.10",
    ]


def test_threads_share_one_annotator(annotator: OcrAnnotator) -> None:
    images = [_printed([f"Platform {n} departure"]) for n in (3, 7, 12, 21)] * 2
    expected = [annotator.read(image) for image in images[:4]] * 2
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(annotator.read, images))
    assert results == expected
    assert expected[0].split() == ["Platform", "3", "departure"]


# -- decoding and layout, without the models ----------------------------------------------


def _probs(columns: Sequence[dict[str, float]], alphabet: list[str]) -> np.ndarray:
    """A recogniser output for one line: per column, probabilities of named labels."""
    out = np.zeros((len(columns), len(alphabet)), dtype=np.float32)
    for row, column in enumerate(columns):
        for label, p in column.items():
            out[row, alphabet.index(label)] = p
        out[row, 0] += 1.0 - out[row].sum()  # the rest is the blank
    return out


ALPHABET = ["blank", "A", "B", "C", "1", "2", " "]


def test_half_seen_space_breaks_the_words() -> None:
    decoder = SpacingDecoder(ALPHABET, space_min=0.01, word_min=0.5)
    line = _probs([{"A": 0.9}, {"B": 0.9}, {" ": 0.05}, {"1": 0.9}, {"2": 0.9}], ALPHABET)
    assert decoder.decode_line(line) == ("AB 12", pytest.approx(0.9))
    strict = SpacingDecoder(ALPHABET, space_min=0.1, word_min=0.5)
    assert strict.decode_line(line)[0] == "AB12"


def test_space_must_be_the_likeliest_character_of_the_blank_column() -> None:
    decoder = SpacingDecoder(ALPHABET, space_min=0.01, word_min=0.5)
    line = _probs([{"A": 0.9}, {" ": 0.05, "C": 0.1}, {"B": 0.9}], ALPHABET)
    assert decoder.decode_line(line)[0] == "AB"


def test_unsure_words_are_dropped_and_repeats_collapse() -> None:
    decoder = SpacingDecoder(ALPHABET, space_min=0.01, word_min=0.5)
    line = _probs(
        [{"A": 0.9}, {"A": 0.9}, {}, {"A": 0.9}, {" ": 0.9}, {"C": 0.3}, {" ": 0.9}, {"B": 0.8}],
        ALPHABET,
    )
    assert decoder.decode_line(line) == ("AA B", pytest.approx((0.9 + 0.8) / 2))
    assert decoder.decode_line(_probs([{"C": 0.2}], ALPHABET)) == ("", 0.0)


def _line(text: str, left: float, top: float, height: float = 30) -> OcrLine:
    return OcrLine(text, 0.9, left, top, left + 10 * len(text), top + height)


def test_reading_order_groups_boxes_by_shared_height() -> None:
    lines = [
        _line("right", 400, 104),
        _line("second", 20, 160),
        _line("left", 20, 100),
        _line("title", 20, 20, height=50),
    ]
    assert reading_text(lines) == "title\nleft right\nsecond"


# -- through the engine -------------------------------------------------------------------


class FusingEncoder(CountingEncoder):
    """The counting encoder, blending an image's words into its vector like the offline space."""

    encoder_id: ClassVar[str] = "fusing"
    text_fusion_weight: ClassVar[float] = 0.8


@pytest.fixture
def ocr_library(db_path: Path, annotator: OcrAnnotator) -> Iterator[Library]:
    plugin = PluginObject([PillowImageExtractor()], [FusingEncoder()], [annotator])
    with Library.open(db_path, registry=load_plugins(plugin, discover=False)) as lib:
        yield lib


def _fts(lib: Library, query: str) -> list[int]:
    with lib.catalog.engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT rowid FROM segments_fts WHERE segments_fts MATCH ?", (query,)
        )
        return [row[0] for row in rows]


def test_image_is_found_by_the_words_printed_in_it(ocr_library: Library, tmp_path: Path) -> None:
    root = tmp_path / "media"
    root.mkdir()
    _printed(INVOICE).save(root / "scan.png")
    _printed(["Garden party", "Saturday at noon"]).save(root / "poster.png")
    _photo((640, 480), shapes=6).save(root / "holiday.jpg")
    report = ocr_library.index(root)
    assert (report.indexed, report.skipped, report.failed) == (3, [], []), report.to_json()
    [hit] = ocr_library.query("invoice 12345", k=1)
    assert hit.path.endswith("scan.png")
    assert _words(hit.text) == [w for line in INVOICE for w in _words(line)]
    assert _fts(ocr_library, "invoice") == [hit.segment_id]
    assert _fts(ocr_library, "saturday") != _fts(ocr_library, "invoice")
    assert len(_fts(ocr_library, "saturday")) == 1
    photo = ocr_library.query("holiday", k=3)
    assert next(h for h in photo if h.path.endswith("holiday.jpg")).text is None


def test_models_that_fail_to_load_cost_the_words_not_the_images(
    db_path: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    broken = tmp_path / "det.onnx"
    broken.write_bytes(b"this is not an ONNX model")
    annotator = OcrAnnotator(EngineConfig(det_model_path=str(broken)))
    root = tmp_path / "media"
    root.mkdir()
    for name in ("a.png", "b.png"):
        _printed(INVOICE).save(root / name)
    plugin = PluginObject([PillowImageExtractor()], [CountingEncoder()], [annotator])
    caplog.set_level(logging.WARNING)
    with Library.open(db_path, registry=load_plugins(plugin, discover=False)) as lib:
        report = lib.index(root)
        assert (report.indexed, report.skipped, report.failed) == (2, [], []), report.to_json()
        assert all(hit.text is None for hit in lib.query("invoice", k=2))
    failures = [r.getMessage() for r in caplog.records if "annotator ocr failed" in r.getMessage()]
    assert len(failures) == 2
    for message in failures:
        assert "OCR models could not be loaded (InvalidProtobuf" in message
        assert "--set ocr=off" in message
    assert annotator.engine.loads == 0


# -- the quick look: photos are read in full only where the detector sees a line ---------


def _counting_reads(annotator: OcrAnnotator, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    reads: list[int] = []
    real = annotator.engine.read

    def read(rgb: np.ndarray) -> list[OcrLine]:
        reads.append(rgb.shape[1])
        return real(rgb)

    monkeypatch.setattr(annotator.engine, "read", read)
    return reads


def test_a_photo_without_words_gets_only_the_quick_look(
    annotator: OcrAnnotator, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads = _counting_reads(annotator, monkeypatch)
    segment = _segment(_photo((816, 612), seed=3, shapes=6))
    assert annotator.annotate(segment, _source()) is segment
    assert reads == []  # no full reading
    annotator.annotate(segment, _source(ocr="full"))
    assert reads == [816]  # ocr=full reads every image


def test_a_sign_in_a_photo_passes_the_quick_look_and_is_read(
    annotator: OcrAnnotator, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads = _counting_reads(annotator, monkeypatch)
    photo = _photo((1600, 1200), seed=5, shapes=4)
    draw = ImageDraw.Draw(photo)
    draw.rectangle((300, 400, 1300, 560), fill="white")
    draw.text((330, 420), "HARBOUR ROAD", fill="black", font=ImageFont.load_default(size=110))
    out = annotator.annotate(_segment(photo), _source())
    assert reads, "the quick look found no line on a sign"
    assert "HARBOUR" in (out.text or "").upper()


def test_a_page_is_read_in_full_without_the_quick_look(
    annotator: OcrAnnotator, monkeypatch: pytest.MonkeyPatch
) -> None:
    looks: list[bool] = []
    monkeypatch.setattr(annotator.engine, "detects", lambda rgb: looks.append(True) or False)
    page = _printed(["Quarterly budget report", "Kitchen window 4711"], 20, (2400, 1600))
    out = annotator.annotate(_segment(page), _source())
    assert looks == []  # white paper: read in full, small print and all
    assert "4711" in (out.text or "")
