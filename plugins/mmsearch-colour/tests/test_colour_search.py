"""Dominant-colour search end to end: photos indexed into the colour space, queried by words.

The library holds exactly the image extractor and the colour encoder, built
with the mmsearch test kit's ``mmsearch_make_library`` fixture, as a third-party
plugin's tests would.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
from mmsearch_colour import ColourEncoder
from mmsearch_images import PillowImageExtractor
from PIL import Image

from mmsearch import Library
from mmsearch.testing import FakeEncoder, Plugin

Colour = tuple[int, int, int]
PHOTOS: dict[str, tuple[tuple[Colour, float], ...]] = {
    "blue-sky.jpg": (((40, 100, 215), 0.85), ((245, 245, 245), 0.15)),
    "navy-night.jpg": (((20, 28, 80), 0.7), ((12, 12, 12), 0.3)),
    "red-car.jpg": (((215, 30, 30), 0.6), ((128, 128, 128), 0.4)),
    "wine.jpg": (((105, 18, 30), 0.9), ((30, 20, 20), 0.1)),
    "meadow.png": (((55, 160, 60), 0.8), ((140, 200, 240), 0.2)),
    "sunset.jpg": (((245, 140, 30), 0.45), ((235, 110, 110), 0.25), ((30, 30, 95), 0.3)),
    "snow.png": (((246, 246, 250), 0.9), ((170, 175, 180), 0.1)),
    "blue-and-red.png": (((40, 100, 215), 0.5), ((215, 30, 30), 0.5)),
}


def photo(bands: tuple[tuple[Colour, float], ...], seed: int) -> Image.Image:
    """Horizontal bands of colour with camera-like noise."""
    pixels = np.zeros((120, 160, 3))
    y = 0
    for colour, share in bands:
        height = round(120 * share)
        pixels[y : y + height] = colour
        y += height
    pixels[y:] = bands[-1][0]
    pixels += np.random.default_rng(seed).normal(0.0, 12.0, pixels.shape)
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    folder = tmp_path / "photos"
    folder.mkdir()
    for seed, (name, bands) in enumerate(PHOTOS.items()):
        photo(bands, seed).save(folder / name, quality=90)
    return folder


@pytest.fixture
def colour_library(photos: Path, mmsearch_make_library: Callable[..., Library]) -> Library:
    plugin = Plugin(extractors=[PillowImageExtractor()], encoders=[ColourEncoder()])
    library = mmsearch_make_library(plugin)
    report = library.index(photos)
    assert report.indexed == len(PHOTOS) and not report.failed and not report.skipped
    assert report.space == "colour (26-d)"
    return library


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("mostly blue", "blue-sky.jpg"),
        ("red", "red-car.jpg"),
        ("dark red", "wine.jpg"),
        ("dark blue night", "navy-night.jpg"),
        ("green", "meadow.png"),
        ("orange sunset", "sunset.jpg"),
        ("white snow", "snow.png"),
        ("red and blue", "blue-and-red.png"),
    ],
)
def test_colour_words_find_the_photo(colour_library: Library, query: str, expected: str) -> None:
    hits = colour_library.query(query, k=3)
    assert Path(hits[0].path).name == expected, [(Path(h.path).name, h.score) for h in hits]


def test_query_by_example_finds_photos_of_the_same_colours(
    colour_library: Library, tmp_path: Path
) -> None:
    example = tmp_path / "example.png"
    photo((((50, 110, 220), 0.9), ((250, 250, 250), 0.1)), seed=99).save(example)
    hits = colour_library.query(example=example, k=2)
    assert Path(hits[0].path).name == "blue-sky.jpg"


class LastResort(FakeEncoder):
    """Stands in for mmsearch's hash encoder, the fallback of last resort (priority -100)."""

    encoder_id: ClassVar[str] = "last-resort"
    priority: ClassVar[int] = -100


def test_the_colour_space_is_never_a_new_librarys_default(
    mmsearch_make_library: Callable[..., Library],
) -> None:
    library = mmsearch_make_library(Plugin(encoders=[ColourEncoder(), LastResort()]))
    assert library.choose_encoder().encoder_id == "last-resort"


def test_the_palette_is_built_on_first_use_only() -> None:
    encoder = ColourEncoder()
    assert not encoder.loaded
    encoder.encode_batch("text", ["blue"])
    assert encoder.loaded
