"""The colour space: photos and colour phrases as distributions over one palette.

A vector is the square root of a distribution over the palette's prototypes
(the Hellinger embedding), so it has unit length by construction, and the
cosine of two vectors is the Bhattacharyya overlap of their colour
distributions: 1 for the same colours in the same proportions, near 0 for
colours that share nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from mmsearch import Encoder, Modality
from mmsearch_colour.lab import FloatArray, srgb_to_lab
from mmsearch_colour.palette import PALETTE_VERSION, PROTOTYPES, Palette
from mmsearch_colour.words import mention_arrays, mentions

_THUMB_PIXELS = 4096
"""Pixels the colour histogram is taken over; a 64x64 view of the image holds its palette."""


def thumbnail(image: Any) -> Any:
    """An RGB copy of ``image`` with at most about :data:`_THUMB_PIXELS` pixels (box filter)."""
    from PIL import Image

    rgb = image.convert("RGB")
    width, height = rgb.size
    if width * height <= _THUMB_PIXELS:
        return rgb
    scale = (_THUMB_PIXELS / (width * height)) ** 0.5
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return rgb.resize(size, Image.Resampling.BOX)


class ColourEncoder(Encoder):
    """Dominant-colour search: "mostly blue", "dark red", "orange sunset", or an example photo."""

    encoder_id: ClassVar[str] = "colour"
    modalities: ClassVar[frozenset[Modality]] = frozenset({"image", "text"})
    # Lower than the hash encoder's -100: a specialised space must never be a
    # new library's default, not even on a machine with no real model.
    priority: ClassVar[int] = -200
    description: ClassVar[str] = (
        "Dominant colours of photos; query with colour words (mostly blue, dark red, #ff8800)."
    )

    def __init__(self) -> None:
        self.dim = len(PROTOTYPES)
        self.checkpoint = PALETTE_VERSION
        self.batch_size = 64
        # Its preprocessing looks at a 64x64 view, so extractors may decode that small.
        self.image_min_side = 64
        self._palette: Palette | None = None

    @property
    def loaded(self) -> bool:
        """Whether the palette (this encoder's "weights") has been built."""
        return self._palette is not None

    @property
    def palette(self) -> Palette:
        """The palette, built on first use."""
        if self._palette is None:
            self._palette = Palette()
        return self._palette

    def configure(self, checkpoint: str) -> Encoder:
        """Only the current palette exists; any other name is refused."""
        if checkpoint in ("", self.checkpoint):
            return self
        raise ValueError(
            f"the colour encoder has one palette, {PALETTE_VERSION!r} (got {checkpoint!r})"
        )

    def encode_batch(self, modality: Modality, contents: Sequence[Any]) -> npt.NDArray[np.float32]:
        """Embed PIL images or colour phrases into unit vectors."""
        embed = self._image if modality == "image" else self._text
        rows = np.stack([np.sqrt(embed(item)) for item in contents])
        rows /= np.linalg.norm(rows, axis=1, keepdims=True)
        return rows.astype(np.float32)

    def distribution(self, modality: Modality, content: Any) -> FloatArray:
        """The palette distribution of one image or phrase (sums to 1), for explanations."""
        return self._image(content) if modality == "image" else self._text(content)

    def _image(self, image: Any) -> FloatArray:
        pixels = np.asarray(thumbnail(image), dtype=np.float64).reshape(-1, 3)
        return self.palette.histogram(srgb_to_lab(pixels))

    def _text(self, text: str) -> FloatArray:
        found = mentions(text)
        if not found:
            # No colour named: no preference, equally far from every photo's palette.
            return np.full(self.dim, 1.0 / self.dim)
        labs, weights = mention_arrays(found)
        return self.palette.histogram(labs, weights)
