"""The palette that spans the colour space: each image or phrase is a distribution over it.

A pixel belongs softly to the prototypes near it (a Gaussian of its distance
in OKLab, with hue and chroma counted twice as much as lightness, so a shadow
on a red car stays red), so an in-between shade counts partly for both
neighbours and the space has no hard bin edges. Changing anything here changes every vector:
bump :data:`PALETTE_VERSION` with it.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from mmsearch_colour.lab import FloatArray, srgb_to_lab

PALETTE_VERSION = "palette-v1"
"""Identifies the prototypes and the kernel width; part of the space's identity."""

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

SIGMA = 7.0
"""Kernel width, in the weighted OKLab units below."""
CHROMA_WEIGHT = 2.0
"""How much more a difference in a or b counts than one in lightness."""
_SCALE = np.array([1.0, CHROMA_WEIGHT, CHROMA_WEIGHT])


class Palette:
    """The prototypes in OKLab, and the soft assignment of colours to them."""

    def __init__(self) -> None:
        rgb = np.array([colour for _, colour in PROTOTYPES], dtype=np.float64)
        self.centres: FloatArray = srgb_to_lab(rgb) * _SCALE
        self.names = tuple(name for name, _ in PROTOTYPES)

    @property
    def size(self) -> int:
        """Number of prototypes: the dimension of the space."""
        return len(self.names)

    def assign(self, lab: npt.ArrayLike) -> FloatArray:
        """``(n, size)`` memberships of ``(n, 3)`` OKLab colours; each row sums to 1."""
        points = np.asarray(lab, dtype=np.float64).reshape(-1, 3) * _SCALE
        distances = ((points[:, None, :] - self.centres[None, :, :]) ** 2).sum(axis=2)
        logits = -distances / (2 * SIGMA**2)
        logits -= logits.max(axis=1, keepdims=True)  # a far-off colour still gets a nearest bin
        weights = np.exp(logits)
        memberships: FloatArray = weights / weights.sum(axis=1, keepdims=True)
        return memberships

    def histogram(self, lab: npt.ArrayLike, weights: npt.ArrayLike | None = None) -> FloatArray:
        """The (weighted) mean membership of many colours: a distribution over the palette."""
        memberships = self.assign(lab)
        if weights is None:
            mean: FloatArray = memberships.mean(axis=0)
            return mean
        w = np.asarray(weights, dtype=np.float64).reshape(-1, 1)
        mixed: FloatArray = (memberships * w).sum(axis=0) / max(float(w.sum()), 1e-12)
        return mixed
