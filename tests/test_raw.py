"""Camera RAW photos (mmsearch-raw): preview or demosaic, orientation, sniffing, siblings.

The RAW files are DNGs written by tests/rawfiles.py from the sample photos.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from mmsearch_images import PillowImageExtractor
from mmsearch_images.camera_raw import is_camera_raw
from mmsearch_raw import RawExtractor
from PIL import Image

from mmsearch import Extractor, ExtractSettings, Library, SearchOptions, Source
from mmsearch.index.extraction import choose_extractor, extract_file
from mmsearch.testing import ExtractorConformance
from tests.rawfiles import write_dng
from tests.support import CountingEncoder, make_registry
from tests.videos import photo

CAT = "IMG_2041.jpg"  # 451 x 300


def _source(path: Path, **options: object) -> Source:
    return Source(
        os.fsencode(path), str(path), path.stat().st_size, ExtractSettings(options=options)
    )


def _picture(path: Path, **options: object) -> Image.Image:
    (segment,) = RawExtractor().extract(_source(path, **options))
    assert segment.kind == "image" and segment.modality == "image"
    picture = segment.content
    assert isinstance(picture, Image.Image) and picture.mode == "RGB"
    return picture


def _like(a: Image.Image, b: Image.Image) -> float:
    """Correlation of two pictures' grey values at one small size (1: the same picture)."""
    x, y = (np.asarray(p.convert("L").resize((64, 48)), dtype=np.float64).ravel() for p in (a, b))
    return float(np.corrcoef(x, y)[0, 1])


def test_a_large_enough_preview_is_used_as_it_is(tmp_path: Path) -> None:
    dng = write_dng(tmp_path / "IMG_1.DNG", photo(CAT), preview_side=440)
    picture = _picture(dng, raw_preview_min_side=200)
    assert picture.size == (440, 293)  # the preview's size, not the sensor's
    assert _like(picture, photo(CAT)) > 0.95


def test_a_small_preview_falls_back_to_a_half_size_decode(tmp_path: Path) -> None:
    dng = write_dng(tmp_path / "IMG_2.DNG", photo(CAT), preview_side=160)
    picture = _picture(dng)  # 160 px is under the default 512
    assert picture.size == (225, 150)  # half the 450 x 300 sensor
    assert _like(picture, photo(CAT)) > 0.9


def test_a_raw_without_a_preview_is_demosaiced(tmp_path: Path) -> None:
    dng = write_dng(tmp_path / "IMG_3.DNG", photo(CAT))
    picture = _picture(dng)
    assert picture.size == (225, 150)
    # Colours come back close to the picture's (the synthetic camera sees linear sRGB).
    mean = np.asarray(picture, dtype=np.float64).mean(axis=(0, 1))
    source = np.asarray(photo(CAT), dtype=np.float64).mean(axis=(0, 1))
    assert np.all(np.argsort(mean) == np.argsort(source)), (mean, source)


@pytest.mark.parametrize("min_side", [200, 0], ids=["preview", "demosaic"])
def test_the_cameras_orientation_is_applied_on_both_paths(tmp_path: Path, min_side: int) -> None:
    dng = write_dng(tmp_path / "IMG_4.DNG", photo(CAT), preview_side=440, orientation=6)
    picture = _picture(dng, raw_preview_min_side=min_side)
    assert picture.height > picture.width, "orientation 6: shown in portrait"
    upright = photo(CAT).transpose(Image.Transpose.ROTATE_270)
    assert _like(picture, upright) > 0.9


def test_a_raw_is_not_taken_for_a_tiff_and_a_tiff_not_for_a_raw(tmp_path: Path) -> None:
    dng = write_dng(tmp_path / "IMG_5.dng", photo(CAT), preview_side=200)
    tiff = tmp_path / "scan.tif"
    photo(CAT).save(tiff)
    extractors: list[Extractor] = [PillowImageExtractor(), RawExtractor()]
    for path, expected in ((dng, "libraw-raw"), (tiff, PillowImageExtractor.name)):
        head = path.read_bytes()[:512]
        assert choose_extractor(extractors, head, os.fsencode(path)).name == expected
    assert is_camera_raw(dng.read_bytes()[:512]) and not is_camera_raw(tiff.read_bytes()[:512])


@pytest.mark.parametrize(
    "head",
    [
        b"IIRO\x08\x00\x00\x00",  # Olympus ORF
        b"IIU\x00\x08\x00\x00\x00",  # Panasonic RW2
        b"FUJIFILMCCD-RAW 0201",  # Fujifilm RAF
        b"\x00\x00\x00\x18ftypcrx \x00\x00\x00\x01crx isom",  # Canon CR3
        b"II*\x00\x10\x00\x00\x00CR\x02\x00",  # Canon CR2
    ],
)
def test_raw_formats_with_their_own_signatures_are_recognised(head: bytes) -> None:
    assert RawExtractor().sniff(head + bytes(64))


def test_a_truncated_raw_is_skipped_as_corrupt(tmp_path: Path) -> None:
    whole = write_dng(tmp_path / "whole.dng", photo(CAT))
    cut = tmp_path / "cut.dng"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 3])
    outcome = extract_file([RawExtractor()], _source(cut, raw_preview_min_side=0))
    assert (outcome.status, outcome.reason) == ("skipped", "corrupt raw"), outcome.detail


def test_a_raw_over_the_megapixel_cap_is_skipped_with_how_to_raise_it(tmp_path: Path) -> None:
    dng = write_dng(tmp_path / "big.dng", photo(CAT))
    source = Source(
        os.fsencode(dng), str(dng), dng.stat().st_size, ExtractSettings(max_image_megapixels=0.1)
    )
    outcome = extract_file([RawExtractor()], source)
    assert (outcome.status, outcome.reason) == ("skipped", "too large")
    assert "--max-image-megapixels" in (outcome.detail or "")


def test_a_raw_and_its_jpeg_sibling_are_one_hit_with_a_copy(tmp_path: Path) -> None:
    folder = tmp_path / "card"
    folder.mkdir()
    picture = photo(CAT)
    write_dng(folder / "IMG_1.CR2.dng", picture, preview_side=451)
    picture.save(folder / "IMG_1.JPG", quality=92)
    photo("IMG_2044.jpg").save(folder / "IMG_9.JPG")
    registry = make_registry(CountingEncoder())
    with Library.open(tmp_path / "catalog.db", registry=registry) as lib:
        # Previews of a few hundred pixels count here; cameras embed 1-2 MP or full size.
        report = lib.index(folder, settings=ExtractSettings(options={"raw_preview_min_side": 200}))
        assert report.indexed == 3 and not report.skipped
        example = tmp_path / "query.png"
        picture.save(example)
        hits = lib.search(examples=[example]).hits
    names = {Path(hits[0].path).name, *(Path(c).name for c in hits[0].copies)}
    assert names == {"IMG_1.CR2.dng", "IMG_1.JPG"}


def test_a_raw_and_the_jpeg_of_its_name_are_one_hit_even_when_their_pictures_differ(
    tmp_path: Path,
) -> None:
    """A camera's JPEG is processed (its own white balance, crop, sharpening), so its vector
    may be far from the RAW's: the name pairs them. Here the JPEG is even another picture.
    The same name in another folder, or under another stem, stays a hit of its own."""
    folder = tmp_path / "card"
    (folder / "other").mkdir(parents=True)
    cat, street = photo(CAT), photo("IMG_2044.jpg")
    write_dng(folder / "IMG_1.DNG", cat, preview_side=451)
    street.save(folder / "IMG_1.JPG", quality=92)
    cat.save(folder / "other" / "IMG_1.JPG", quality=92)  # a camera's counter, another day
    cat.save(folder / "IMG_2.png")
    registry = make_registry(CountingEncoder())
    with Library.open(tmp_path / "catalog.db", registry=registry) as lib:
        report = lib.index(folder, settings=ExtractSettings(options={"raw_preview_min_side": 200}))
        assert report.indexed == 4 and not report.skipped
        example = tmp_path / "query.png"
        street.save(example)
        by_street = lib.search(examples=[example]).hits
        loose = lib.search(examples=[example], options=SearchOptions(keep_weak=True)).hits
    assert Path(by_street[0].path).name == "IMG_1.JPG"
    assert Path(by_street[0].path).parent == folder
    assert [Path(c).relative_to(folder) for c in by_street[0].copies] == [Path("IMG_1.DNG")]
    shown = {Path(h.path).relative_to(folder) for h in loose}
    assert Path("IMG_1.DNG") not in shown  # folded, not shown twice
    # Near-identical pictures fold by their vectors (the cat in other/ and IMG_2.png may fold
    # into each other that way); nothing folds into the pair by its name but the RAW.
    assert all(Path(c).name != "IMG_1.JPG" or Path(c).parent != folder for h in loose
               for c in h.copies)  # fmt: skip


@pytest.fixture(scope="module")
def raw_samples(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    folder = tmp_path_factory.mktemp("raw")
    return [
        write_dng(folder / "a.dng", photo(CAT), preview_side=451),
        write_dng(folder / "b.dng", photo("IMG_2044.jpg")),
    ]


class TestRawExtractorConformance(ExtractorConformance):
    @pytest.fixture
    def extractor(self) -> Extractor:
        return RawExtractor()

    @pytest.fixture
    def extractor_samples(self, raw_samples: list[Path]) -> list[Path]:
        return raw_samples
