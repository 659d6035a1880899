"""Colour words for a photo: what ImageNet classes cannot say ("red", "grey", "navy").

ConSE places a photo at the mix of its classes' texts, and no class text says which colours
the photo holds, so "a red brick wall" and "a grey brick wall" find the same photos. Here a
photo's pixels become a distribution over a palette of named colours (soft assignment in
OKLab), and the photo's vector gains the distribution's mix of the embedded colour words,
at ``identity.COLOUR_WEIGHT`` against the ConSE vector (measured: bench/offline_colour_words.py).

The palette is the colour plugin's (``mmsearch_colour.palette``), duplicated because a
plugin must not import another plugin; ``tests/test_offline.py`` keeps the two tables and
kernel settings equal. Changing anything here changes every photo vector: bump
``identity.COLOURS_VERSION`` with it (it is part of the offline space's checkpoint).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from mmsearch_offline.identity import COLOUR_WEIGHT, COLOURS_VERSION

__all__ = ["COLOURS_VERSION", "COLOUR_WEIGHT", "ColourWords", "colour_words", "histogram"]

FloatArray = npt.NDArray[np.float32]


PROTOTYPES: tuple[tuple[str, tuple[int, int, int]], ...] = (
    ("black", (18, 18, 18)),
    ("charcoal", (70, 70, 72)),
    ("grey", (128, 128, 128)),
    ("silver", (192, 192, 192)),
    ("white", (246, 246, 246)),
    ("red", (215, 35, 35)),
    ("maroon", (115, 20, 25)),
    ("pink", (242, 150, 180)),
    ("magenta", (205, 45, 165)),
    ("purple", (115, 45, 155)),
    ("lavender", (185, 165, 220)),
    ("navy", (22, 32, 100)),
    ("blue", (35, 85, 215)),
    ("sky", (125, 180, 238)),
    ("cyan", (45, 200, 210)),
    ("teal", (20, 115, 118)),
    ("forest", (25, 85, 40)),
    ("green", (50, 165, 65)),
    ("lime", (160, 220, 90)),
    ("olive", (120, 118, 40)),
    ("yellow", (245, 220, 45)),
    ("gold", (200, 155, 35)),
    ("orange", (240, 135, 30)),
    ("brown", (115, 70, 35)),
    ("tan", (205, 175, 135)),
    ("cream", (242, 234, 205)),
)
"""The colour plugin's palette: (name, sRGB) per prototype."""

SIGMA = 7.0
CHROMA_WEIGHT = 2.0
"""The colour plugin's kernel width and its weight of hue and chroma over lightness."""

WORDS: dict[str, str] = {
    "charcoal": "dark grey",
    "sky": "light blue",
    "navy": "navy blue",
    "forest": "dark green",
    "lime": "light green",
    "tan": "beige",
}
"""How a person says a prototype whose palette name means something else in plain text
("sky", "forest"); the others are said by their name."""

THUMB_PIXELS = 4096
"""Pixels the histogram is taken over (a 64x64 view holds a photo's colours)."""

_LINEAR_TO_LMS = np.array(
    [
        [0.4122214708, 0.5363325363, 0.0514459929],
        [0.2119034982, 0.6806995451, 0.1073969566],
        [0.0883024619, 0.2817188376, 0.6299787005],
    ]
)
_LMS_TO_LAB = np.array(
    [
        [0.2104542553, 0.7936177850, -0.0040720468],
        [1.9779984951, -2.4285922050, 0.4505937099],
        [0.0259040371, 0.7827717662, -0.8086757660],
    ]
)
_SCALE = np.array([1.0, CHROMA_WEIGHT, CHROMA_WEIGHT])


def srgb_to_lab(rgb: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """``(..., 3)`` sRGB in 0..255 to OKLab x100, as the colour plugin converts."""
    values = np.asarray(rgb, dtype=np.float64) / 255.0
    linear = np.where(values <= 0.04045, values / 12.92, ((values + 0.055) / 1.055) ** 2.4)
    lab: npt.NDArray[np.float64] = 100.0 * (np.cbrt(linear @ _LINEAR_TO_LMS.T) @ _LMS_TO_LAB.T)
    return lab


def colour_words() -> list[str]:
    """One plain word (or two) per prototype, in palette order."""
    return [WORDS.get(name, name) for name, _ in PROTOTYPES]


def histogram(image: Any) -> npt.NDArray[np.float64]:
    """A PIL image's distribution over the palette (soft memberships averaged over pixels)."""
    from PIL import Image

    rgb = image.convert("RGB")
    width, height = rgb.size
    if width * height > THUMB_PIXELS:
        scale = (THUMB_PIXELS / (width * height)) ** 0.5
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        rgb = rgb.resize(size, Image.Resampling.BOX)
    points = srgb_to_lab(np.asarray(rgb).reshape(-1, 3)) * _SCALE
    centres = srgb_to_lab(np.array([c for _, c in PROTOTYPES], dtype=np.float64)) * _SCALE
    logits = -((points[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2) / (2 * SIGMA**2)
    logits -= logits.max(axis=1, keepdims=True)  # a far-off colour still gets a nearest bin
    weights = np.exp(logits)
    memberships = weights / weights.sum(axis=1, keepdims=True)
    mean: npt.NDArray[np.float64] = memberships.mean(axis=0)
    return mean


class ColourWords:
    """Adds the embedded colour words of a photo's palette distribution to its vector."""

    def __init__(self, embed: Callable[[Sequence[str]], FloatArray], weight: float) -> None:
        words = np.asarray(embed(colour_words()), dtype=np.float64)
        self.word_vectors = words / np.linalg.norm(words, axis=1, keepdims=True)
        self.weight = weight

    def vectors(self, images: Sequence[Any]) -> FloatArray:
        """One unit row per image: its palette distribution's mix of colour words."""
        mixed = np.stack([histogram(image) for image in images]) @ self.word_vectors
        unit: FloatArray = (
            mixed / np.linalg.norm(mixed, axis=1, keepdims=True).clip(1e-12)
        ).astype(np.float32)
        return unit

    def add(self, vectors: FloatArray, images: Sequence[Any]) -> FloatArray:
        """``vectors`` (unit ConSE rows) with the images' colour words mixed in, unit again."""
        mixed = vectors + self.weight * self.vectors(images)
        out: FloatArray = (mixed / np.linalg.norm(mixed, axis=1, keepdims=True)).astype(np.float32)
        return out
