"""The Pillow image extractor on the odd images real photo folders hold.

Each test is named after the hard case it pins. Images are built on the fly,
small, so the whole file runs in a second or two.
"""

from __future__ import annotations

import io
import os
import struct
import warnings
import zlib
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from mmsearch_images import PillowImageExtractor, to_rgb
from mmsearch_text import PlainTextExtractor
from PIL import ExifTags, Image, ImageFile

from mmsearch import Extractor, ExtractSettings, SkipFile, Source
from mmsearch.index.extraction import Extracted, extract_file

RED = (220, 20, 20)
BLUE = (20, 20, 220)
WHITE = (255, 255, 255)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True)
def _restore_pillow_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    """The extractor may raise Pillow's process-wide bomb limit; undo it after each test."""
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", Image.MAX_IMAGE_PIXELS)


# -- helpers ------------------------------------------------------------------------------


def _source(path: Path | bytes, **settings: Any) -> Source:
    raw = os.fsencode(path)
    return Source(raw, os.fsdecode(raw), os.path.getsize(raw), ExtractSettings(**settings))


def _extract(path: Path | bytes, **settings: Any) -> Image.Image:
    """The one picture the extractor makes of a file, checked to be plain RGB."""
    segments = list(PillowImageExtractor().extract(_source(path, **settings)))
    assert len(segments) == 1
    segment = segments[0]
    assert (segment.kind, segment.modality) == ("image", "image")
    picture = segment.content
    assert isinstance(picture, Image.Image)
    assert picture.mode == "RGB"
    return picture


def _skip(path: Path | bytes, **settings: Any) -> SkipFile:
    with pytest.raises(SkipFile) as caught:
        list(PillowImageExtractor().extract(_source(path, **settings)))
    return caught.value


def _extract_file(path: Path | bytes, extractors: Sequence[Extractor] | None = None) -> Extracted:
    """The engine's path: choose an extractor by content, then extension, and run it."""
    chosen = [PlainTextExtractor(), PillowImageExtractor()] if extractors is None else extractors
    return extract_file(chosen, _source(path))


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _encoded(image: Image.Image, fmt: str, **save_args: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **save_args)
    return buffer.getvalue()


def _noise(size: tuple[int, int] = (64, 48), seed: int = 0) -> Image.Image:
    """Random pixels: they do not compress, so half the file is half the pixel data."""
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))


def _close(actual: Any, expected: Sequence[int], tolerance: int = 40) -> bool:
    """Colour equality up to lossy-compression noise (``actual`` as getpixel gives it)."""
    return all(abs(a - e) <= tolerance for a, e in zip(actual, expected, strict=True))


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data)
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def _png_with_header(width: int, height: int) -> bytes:
    """A valid PNG header declaring any size, with almost no pixel data behind it."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    return (
        PNG_SIGNATURE
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + _png_chunk(b"IEND", b"")
    )


def _marked(size: tuple[int, int] = (80, 40)) -> Image.Image:
    """Blue, with a red block in the top-left corner to track rotations."""
    image = Image.new("RGB", size, BLUE)
    image.paste(RED, (0, 0, 20, 20))
    return image


# -- EXIF orientation ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("orientation", "size", "marker"),
    [
        (2, (80, 40), (70, 10)),  # mirrored: top-left -> top-right
        (3, (80, 40), (70, 30)),  # 180 degrees: top-left -> bottom-right
        (6, (40, 80), (30, 10)),  # 90 degrees clockwise: top-left -> top-right, transposed
        (8, (40, 80), (10, 70)),  # 90 degrees anticlockwise: top-left -> bottom-left
    ],
)
def test_exif_orientation_applied(
    tmp_path: Path, orientation: int, size: tuple[int, int], marker: tuple[int, int]
) -> None:
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = orientation
    path = tmp_path / "rotated.jpg"
    _marked().save(path, quality=95, exif=exif)

    picture = _extract(path)

    assert picture.size == size
    assert _close(picture.getpixel(marker), RED)
    # The stored top-left corner is only red when the rotation was ignored.
    opposite = (size[0] - 1 - marker[0], size[1] - 1 - marker[1])
    assert _close(picture.getpixel(opposite), BLUE)


def test_exif_orientation_1_leaves_image_alone(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 1
    path = tmp_path / "upright.jpg"
    _marked().save(path, quality=95, exif=exif)

    picture = _extract(path)

    assert picture.size == (80, 40)
    assert _close(picture.getpixel((10, 10)), RED)


# -- transparency -------------------------------------------------------------------------


def test_rgba_transparent_pixel_becomes_white_not_black(tmp_path: Path) -> None:
    image = Image.new("RGBA", (10, 10), (0, 0, 0, 0))
    image.putpixel((5, 5), (*RED, 255))
    image.putpixel((7, 7), (0, 0, 0, 128))
    image.save(tmp_path / "clear.png")

    picture = _extract(tmp_path / "clear.png")

    assert picture.getpixel((0, 0)) == WHITE
    assert picture.getpixel((5, 5)) == RED
    assert _close(picture.getpixel((7, 7)), (127, 127, 127), tolerance=2)  # half black on white


@pytest.mark.parametrize("fmt", ["PNG", "GIF"])
def test_palette_image_with_transparency_flattened_onto_white(tmp_path: Path, fmt: str) -> None:
    image = Image.new("P", (10, 10), 0)
    image.putpalette([0, 0, 0, *RED] + [0] * (256 - 2) * 3)
    image.putpixel((5, 5), 1)
    path = tmp_path / f"palette.{fmt.lower()}"
    image.save(path, fmt, transparency=0)
    with Image.open(path) as reopened:
        assert reopened.mode == "P"

    picture = _extract(path)

    assert picture.getpixel((0, 0)) == WHITE
    assert picture.getpixel((5, 5)) == RED


def test_la_mode_flattened_onto_white(tmp_path: Path) -> None:
    image = Image.new("LA", (10, 10), (0, 0))
    image.putpixel((5, 5), (100, 255))
    image.save(tmp_path / "grey-alpha.png")

    picture = _extract(tmp_path / "grey-alpha.png")

    assert picture.getpixel((0, 0)) == WHITE
    assert picture.getpixel((5, 5)) == (100, 100, 100)


@pytest.mark.parametrize(
    ("mode", "key", "kept"), [("L", 0, 200), ("RGB", (0, 0, 0), (200, 10, 10))]
)
def test_colour_key_transparency_flattened_onto_white(
    tmp_path: Path, mode: str, key: Any, kept: Any
) -> None:
    # PNG's tRNS chunk on greyscale and truecolour images: one colour means "clear".
    image = Image.new(mode, (10, 10), key)
    image.putpixel((5, 5), kept)
    image.save(tmp_path / "keyed.png", transparency=key)
    with Image.open(tmp_path / "keyed.png") as reopened:
        assert (reopened.mode, "transparency" in reopened.info) == (mode, True)

    picture = _extract(tmp_path / "keyed.png")

    assert picture.getpixel((0, 0)) == WHITE
    assert picture.getpixel((5, 5)) == (kept if mode == "RGB" else (kept, kept, kept))


# -- high bit depth -----------------------------------------------------------------------


def _gradient(top: float, dtype: type[np.generic]) -> np.ndarray[Any, Any]:
    return np.tile(np.linspace(0, top, 256).astype(dtype), (8, 1))


def _assert_sensible_grey_ramp(picture: Image.Image) -> None:
    """Black to white, in the same order as the source, with most levels kept."""
    pixels = np.asarray(picture)
    assert (pixels[..., 0] == pixels[..., 1]).all() and (pixels[..., 1] == pixels[..., 2]).all()
    row = pixels[0, :, 0].astype(int)
    assert (np.diff(row) >= 0).all()
    assert row[0] <= 1 and row[-1] >= 254
    assert len(set(row.tolist())) > 200


def test_16_bit_greyscale_png_becomes_sensible_8_bit(tmp_path: Path) -> None:
    Image.fromarray(_gradient(65535, np.uint16)).save(tmp_path / "deep.png")
    with Image.open(tmp_path / "deep.png") as reopened:
        assert reopened.mode == "I;16"

    _assert_sensible_grey_ramp(_extract(tmp_path / "deep.png"))


def test_16_bit_flat_grey_is_grey_not_black(tmp_path: Path) -> None:
    # Stretching by the image's own range would turn a flat image black.
    Image.fromarray(np.full((8, 8), 32768, np.uint16)).save(tmp_path / "flat.png")

    picture = _extract(tmp_path / "flat.png")

    assert _close(picture.getpixel((3, 3)), (128, 128, 128), tolerance=1)


def test_16_bit_dark_image_stays_dark(tmp_path: Path) -> None:
    Image.fromarray(_gradient(4096, np.uint16)).save(tmp_path / "dark.png")

    row = np.asarray(_extract(tmp_path / "dark.png"))[0, :, 0].astype(int)

    assert (np.diff(row) >= 0).all()
    assert row[-1] <= 17  # 4096 of 65535 is about 16 of 255, not stretched to white


def test_32_bit_i_mode_becomes_sensible_8_bit(tmp_path: Path) -> None:
    Image.fromarray(_gradient(65535, np.int32)).save(tmp_path / "deep.tif")
    with Image.open(tmp_path / "deep.tif") as reopened:
        assert reopened.mode == "I"

    _assert_sensible_grey_ramp(_extract(tmp_path / "deep.tif"))


def test_32_bit_float_f_mode_becomes_sensible_8_bit(tmp_path: Path) -> None:
    ramp = np.tile(np.linspace(0.0, 1.0, 256, dtype=np.float32), (8, 1))
    Image.fromarray(ramp).save(tmp_path / "float.tif")
    with Image.open(tmp_path / "float.tif") as reopened:
        assert reopened.mode == "F"

    _assert_sensible_grey_ramp(_extract(tmp_path / "float.tif"))


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        # 8-bit values stored as 32-bit ints keep their brightness.
        (np.array([[0, 100, 255]], np.int32), [0, 100, 255]),
        # A range no convention covers is stretched, order kept.
        (np.array([[-1000, 0, 1000]], np.int32), [0, 128, 255]),
        (np.array([[-2.0, 0.0, 2.0]], np.float32), [0, 128, 255]),
        # Floats beyond 8 bits but within 16 are read as 16-bit.
        (np.array([[0.0, 32768.0, 65535.0]], np.float32), [0, 128, 255]),
        # Not-a-number pixels must not poison the whole image.
        (np.array([[np.nan, 0.0, 1.0]], np.float32), [0, 0, 255]),
    ],
)
def test_high_depth_ranges_map_sensibly(values: np.ndarray[Any, Any], expected: list[int]) -> None:
    picture = to_rgb(Image.fromarray(values))

    assert picture.mode == "RGB"
    assert np.asarray(picture)[0, :, 0].tolist() == expected


# -- CMYK, animations ---------------------------------------------------------------------


def test_cmyk_jpeg_converted_to_rgb(tmp_path: Path) -> None:
    image = Image.new("CMYK", (64, 32), (0, 0, 0, 0))  # no ink: white
    image.paste((255, 0, 0, 0), (32, 0, 64, 32))  # full cyan
    image.save(tmp_path / "print.jpg", quality=95)
    with Image.open(tmp_path / "print.jpg") as reopened:
        assert reopened.mode == "CMYK"

    picture = _extract(tmp_path / "print.jpg")

    assert _close(picture.getpixel((8, 16)), WHITE)
    assert _close(picture.getpixel((56, 16)), (0, 255, 255))


@pytest.mark.parametrize(
    ("fmt", "save_args"),
    [("GIF", {}), ("PNG", {}), ("WEBP", {"lossless": True})],
)
def test_animated_image_first_frame_is_used(
    tmp_path: Path, fmt: str, save_args: dict[str, Any]
) -> None:
    frames = [Image.new("RGB", (32, 32), colour) for colour in (RED, BLUE, (20, 220, 20))]
    path = tmp_path / f"animated.{fmt.lower()}"
    frames[0].save(path, fmt, save_all=True, append_images=frames[1:], duration=100, **save_args)
    with Image.open(path) as reopened:
        assert getattr(reopened, "n_frames", 1) == 3

    picture = _extract(path)

    assert _close(picture.getpixel((16, 16)), RED, tolerance=10)


# -- damaged files ------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "GIF", "BMP", "TIFF", "WEBP"])
def test_truncated_image_is_corrupt_image(tmp_path: Path, fmt: str) -> None:
    data = _encoded(_noise(), fmt)
    path = _write(tmp_path / f"cut.{fmt.lower()}", data[: len(data) // 2])

    skip = _skip(path)

    assert skip.reason == "corrupt image"
    assert "re-copy" in skip.detail or "damaged" in skip.detail
    # Through the engine, it is a skip with that reason, never an extractor failure.
    outcome = _extract_file(path)
    assert (outcome.status, outcome.reason) == ("skipped", "corrupt image")


def test_bit_flipped_png_header_is_corrupt_image(tmp_path: Path) -> None:
    data = bytearray(_encoded(_noise(), "PNG"))
    data[18] ^= 0x01  # a bit of the IHDR width: the header checksum no longer matches
    path = _write(tmp_path / "flipped.png", bytes(data))

    assert _skip(path).reason == "corrupt image"
    assert _extract_file(path).reason == "corrupt image"


def test_bit_flipped_jpeg_marker_is_corrupt_image(tmp_path: Path) -> None:
    data = bytearray(_encoded(_noise(), "JPEG"))
    marker = data.index(b"\xff\xc4")  # the Huffman table becomes an unknown marker
    data[marker + 1] ^= 0x01
    path = _write(tmp_path / "flipped.jpg", bytes(data))

    assert _skip(path).reason == "corrupt image"
    assert _extract_file(path).reason == "corrupt image"


def test_bit_flipped_signature_reads_as_wrong_extension(tmp_path: Path) -> None:
    data = bytearray(_encoded(_noise(), "PNG"))
    data[1] ^= 0x01  # "PNG" no longer spells PNG: nothing recognises the content
    path = _write(tmp_path / "flipped.png", bytes(data))

    assert _extract_file(path).reason == "wrong extension"
    # Handed to the extractor anyway, it is a skip, not a crash.
    assert _skip(path).reason == "corrupt image"


# -- decompression bombs ------------------------------------------------------------------


def test_image_just_over_megapixel_cap_is_too_large(tmp_path: Path) -> None:
    Image.new("RGB", (708, 708), BLUE).save(tmp_path / "big.png")  # 501,264 pixels

    skip = _skip(tmp_path / "big.png", max_image_megapixels=0.5)

    assert skip.reason == "too large"
    assert "--max-image-megapixels" in skip.detail
    assert "708x708" in skip.detail
    # Just over must not print as equal to the cap ("0.5 MP, over the 0.5 MP cap").
    assert "0.501 MP" in skip.detail
    assert "0.5 MP cap" in skip.detail


def test_image_under_megapixel_cap_passes(tmp_path: Path) -> None:
    Image.new("RGB", (707, 707), BLUE).save(tmp_path / "fits.png")  # 499,849 pixels

    assert _extract(tmp_path / "fits.png", max_image_megapixels=0.5).size == (707, 707)


def test_size_checked_before_pixel_data_is_decoded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    Image.new("RGB", (708, 708), BLUE).save(tmp_path / "big.png")
    Image.new("RGB", (10, 10), BLUE).save(tmp_path / "small.png")

    def no_decoding(self: ImageFile.ImageFile) -> None:
        raise AssertionError("pixel data was decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)

    assert _skip(tmp_path / "big.png", max_image_megapixels=0.5).reason == "too large"
    # The patch does bite: an image under the cap gets as far as decoding.
    with pytest.raises(AssertionError, match="decoded"):
        _extract(tmp_path / "small.png", max_image_megapixels=0.5)


@pytest.mark.parametrize("cap", [0.5, 100.0])
def test_huge_dimension_png_header_refused_before_decoding(
    tmp_path: Path, cap: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 100000 x 100000 8-bit pixels would be 10 GB; the file is a few dozen bytes.
    path = _write(tmp_path / "bomb.png", _png_with_header(100_000, 100_000))

    def no_decoding(self: ImageFile.ImageFile) -> None:
        raise AssertionError("pixel data was decoded")

    # Refused from the header alone: decoding is never attempted (no wall-clock bound).
    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    outcome = extract_file([PillowImageExtractor()], _source(path, max_image_megapixels=cap))

    assert (outcome.status, outcome.reason) == ("skipped", "too large")
    assert outcome.detail is not None
    assert "--max-image-megapixels" in outcome.detail
    assert "10000" in outcome.detail  # the size it declares, in megapixels


def test_cap_above_pillows_own_limit_is_honoured(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 200 MP: past Pillow's built-in hard limit (about 179 MP), within a 300 MP cap.
    path = _write(tmp_path / "panorama.png", _png_with_header(20_000, 10_000))

    def stop(self: ImageFile.ImageFile) -> None:
        raise OSError("stopped before decoding 200 MP")

    monkeypatch.setattr(ImageFile.ImageFile, "load", stop)

    skip = _skip(path, max_image_megapixels=300)
    assert skip.reason == "corrupt image"  # got past both size checks, to decoding
    assert "stopped before decoding" in skip.detail
    assert _skip(path, max_image_megapixels=150).reason == "too large"


def test_cap_replaces_pillows_limit_without_warnings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Scale Pillow's limit down so small images play the part of big ones.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    Image.new("RGB", (90, 100), BLUE).save(tmp_path / "within.png")  # 9,000: under the cap
    Image.new("RGB", (120, 100), BLUE).save(tmp_path / "over.png")  # 12,000: over the cap

    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        assert _extract(tmp_path / "within.png", max_image_megapixels=0.01).size == (90, 100)
        assert _skip(tmp_path / "over.png", max_image_megapixels=0.01).reason == "too large"


def test_pillows_limit_is_never_lowered(tmp_path: Path) -> None:
    before = Image.MAX_IMAGE_PIXELS
    Image.new("RGB", (10, 10), BLUE).save(tmp_path / "small.png")

    _extract(tmp_path / "small.png", max_image_megapixels=0.5)

    after = Image.MAX_IMAGE_PIXELS
    assert after == before


# -- choosing the extractor by content ----------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "save_args"),
    [("WEBP", {}), ("WEBP", {"lossless": True}), ("BMP", {}), ("TIFF", {}), ("GIF", {})],
)
def test_formats_sniffed_by_content(fmt: str, save_args: dict[str, Any]) -> None:
    head = _encoded(_noise((8, 8)), fmt, **save_args)[:512]

    assert PillowImageExtractor().sniff(head)


@pytest.mark.parametrize(
    "head",
    [
        b"BMW owners' manual\n\nChapter 1\n",
        b"BM\0\0\0\0 almost a bitmap header, but not quite",
        b"RIFF\x24\x00\x00\x00WAVEfmt ",  # a WAV file: RIFF, but not WebP
        b"",
    ],
)
def test_lookalike_headers_not_sniffed_as_images(head: bytes) -> None:
    assert not PillowImageExtractor().sniff(head)


def test_text_starting_with_bm_is_read_as_text(tmp_path: Path) -> None:
    path = _write(tmp_path / "cars.txt", b"BMW owners' manual\n\nCheck the oil every month.\n")

    outcome = _extract_file(path)

    assert outcome.status == "done"
    assert outcome.extractor is not None and outcome.extractor.name == "plain-text"


def test_text_starting_with_bm_named_bmp_is_wrong_extension(tmp_path: Path) -> None:
    path = _write(tmp_path / "cars.bmp", b"BMW owners' manual\n")

    assert _extract_file(path).reason == "wrong extension"


@pytest.mark.parametrize(
    ("fmt", "name"), [("PNG", "photo.txt"), ("WEBP", "photo.jpg"), ("BMP", "photo")]
)
def test_image_with_misleading_extension_is_read_as_image(
    tmp_path: Path, fmt: str, name: str
) -> None:
    path = _write(tmp_path / name, _encoded(_marked(), fmt))

    outcome = _extract_file(path)

    assert outcome.status == "done"
    assert outcome.extractor is not None and outcome.extractor.name == "pillow-image"
    assert outcome.segments[0].content.size == (80, 40)


def test_text_file_named_jpg_is_wrong_extension(tmp_path: Path) -> None:
    path = _write(tmp_path / "notes.jpg", b"Shopping list: eggs, milk, bread.\n")

    outcome = _extract_file(path)

    assert (outcome.status, outcome.reason) == ("skipped", "wrong extension")
    assert outcome.detail is not None and ".jpg" in outcome.detail


# -- file names, output mode --------------------------------------------------------------


def test_non_utf8_file_name_works(tmp_path: Path) -> None:
    path = os.path.join(os.fsencode(tmp_path), b"caf\xe9.png")  # Latin-1 "café"
    try:
        with open(path, "wb") as handle:
            handle.write(_encoded(_marked(), "PNG"))
    except OSError:
        pytest.skip("this file system refuses names that are not UTF-8")

    assert _extract(path).size == (80, 40)
    outcome = _extract_file(path)
    assert outcome.status == "done"
    assert outcome.segments[0].content.mode == "RGB"


def _odd_image(mode: str) -> Image.Image:
    if mode.startswith("I;16"):
        return Image.fromarray(_gradient(65535, np.uint16)[:, :64])
    if mode == "I":
        return Image.fromarray(_gradient(65535, np.int32)[:, :64])
    if mode == "F":
        return Image.fromarray(_gradient(1.0, np.float32)[:, :64])
    return _noise((64, 8)).convert(mode)


@pytest.mark.parametrize(
    ("mode", "fmt"),
    [
        ("1", "PNG"),
        ("1", "TIFF"),
        ("L", "JPEG"),
        ("L", "PNG"),
        ("P", "PNG"),
        ("P", "GIF"),
        ("P", "BMP"),
        ("RGB", "JPEG"),
        ("RGB", "WEBP"),
        ("RGBA", "PNG"),
        ("RGBA", "WEBP"),
        ("RGBA", "TIFF"),
        ("LA", "PNG"),
        ("CMYK", "JPEG"),
        ("CMYK", "TIFF"),
        ("I;16", "PNG"),
        ("I;16", "TIFF"),
        ("I", "TIFF"),
        ("F", "TIFF"),
    ],
)
def test_output_is_always_rgb(tmp_path: Path, mode: str, fmt: str) -> None:
    image = _odd_image(mode)
    path = _write(tmp_path / f"odd.{fmt.lower()}", _encoded(image, fmt))

    picture = _extract(path)  # checks the mode is RGB

    assert picture.size == image.size


@pytest.mark.parametrize(
    "mode",
    [
        "1",
        "L",
        "LA",
        "La",
        "P",
        "PA",
        "RGB",
        "RGBA",
        "RGBa",
        "RGBX",
        "CMYK",
        "YCbCr",
        "LAB",
        "HSV",
        "I",
        "I;16",
        "I;16L",
        "I;16B",
        "F",
    ],
)
def test_to_rgb_handles_every_pillow_mode(mode: str) -> None:
    picture = to_rgb(Image.new(mode, (4, 3)))

    assert (picture.mode, picture.size) == ("RGB", (4, 3))


def test_concurrent_extraction_leaves_warning_filters_alone(tmp_path: Path) -> None:
    # The engine extracts in threads; quieting Pillow swaps process-wide warning filters,
    # and interleaved swaps would leave one thread's filter installed for good.
    paths = [_write(tmp_path / f"{i}.png", _encoded(_noise((16, 16), i), "PNG")) for i in range(8)]
    before = list(warnings.filters)

    def work(path: Path) -> tuple[str, tuple[int, int]]:
        picture = _extract(path)
        return picture.mode, picture.size

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(work, paths * 50))

    assert set(results) == {("RGB", (16, 16))}
    assert list(warnings.filters) == before
