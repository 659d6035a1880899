"""Getting an image ready for OCR cheaply, and passing over images that cannot hold words.

Cheap checks first: an image a few pixels across, or one without contrast (a
blank scan, a flat colour), cannot show a readable word, and costs nothing to
rule out. Large images are scaled down to the OCR working size. An image the
extractor decoded at a reduced size for its encoder (JPEG draft mode) is
decoded again from the file, at the size OCR needs.
"""

from __future__ import annotations

import logging

import numpy as np
import numpy.typing as npt
from mmsearch_images import to_rgb
from PIL import Image, ImageOps

from mmsearch import Source

log = logging.getLogger(__name__)

MIN_SIDE = 16
"""Below this many pixels on its short side an image cannot show a readable line."""
MIN_CONTRAST = 16
"""Grey levels between the darkest and lightest pixel of a thumbnail; text has more.
A 256 px thumbnail keeps 20 or more for a lone 14 px word on a 12 MP page (a 128 px
one kept 12), and text that fades below this is too small to read at the working size."""
_THUMB = 256
LOOK_SIDE = 320
"""The longer side photos are looked at by the detector alone before a full reading. On the
OCR bench corpus it found a line in every card and 12 MP sign photo and in none of 25
textured photos without words; pages, receipts and screenshots it missed at this size are
caught by :func:`document_like` instead (480 px cost twice as much and missed pages too)."""
DOCUMENT_SHARE = 0.2
"""Share of a thumbnail's pixels that are white paper above which an image is read in full:
pages and screenshots are 0.9 and more, receipts in photos 0.26 to 0.28, the textured photos
without words under 0.05, two real sample photos 0.30 and 0.32 (read in full: the price of
not missing a receipt)."""


def too_small(image: Image.Image) -> bool:
    """True when the image is too small to hold a readable word."""
    return min(image.size) < MIN_SIDE


def thumbnail(image: Image.Image) -> npt.NDArray[np.uint8]:
    """A small grey version of the image for the cheap checks."""
    return np.asarray(fit(image, _THUMB, Image.Resampling.BOX).convert("L"))


def flat(grey: npt.NDArray[np.uint8]) -> bool:
    """True when a thumbnail shows no contrast at all: a blank page, a flat colour."""
    # Extremes, not percentiles: one short word on a large page is a tiny share of pixels.
    return int(grey.max()) - int(grey.min()) < MIN_CONTRAST


def document_like(image: Image.Image) -> bool:
    """True when much of the image is white paper (a page, a screenshot, a receipt)."""
    small = np.asarray(fit(image, _THUMB, Image.Resampling.BOX).convert("RGB"), dtype=np.int16)
    low, high = small.min(axis=2), small.max(axis=2)
    paper = (low > 190) & (high - low < 30)  # light and without colour
    return float(paper.mean()) >= DOCUMENT_SHARE


def quick_look(image: Image.Image) -> npt.NDArray[np.uint8]:
    """The RGB pixels the detector looks at for a photo (longer side :data:`LOOK_SIDE`)."""
    return np.asarray(fit(image, LOOK_SIDE).convert("RGB"))


def fit(
    image: Image.Image,
    max_side: int,
    resample: Image.Resampling = Image.Resampling.BILINEAR,
) -> Image.Image:
    """The image scaled down so that its longer side is at most ``max_side``."""
    width, height = image.size
    scale = max_side / max(width, height)
    if scale >= 1:
        return image
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return image.resize(size, resample, reducing_gap=2.0)


def full_resolution(image: Image.Image, source: Source, max_side: int) -> Image.Image:
    """The segment's image, or the file decoded again when the segment was shrunk for its
    encoder and OCR would read more from the file."""
    if max(image.size) >= max_side:
        return image
    try:
        with source.open() as handle, Image.open(handle) as original:
            if max(original.size) <= max(image.size) * 1.1:
                return image  # the segment holds (about) every pixel the file has
            return _decode_for(original, max_side)
    except Exception as exc:  # the extractor's image stands; OCR reads what it has
        log.debug("OCR could not re-read %s at full size: %s", source.display, exc)
        return image


def _decode_for(original: Image.Image, max_side: int) -> Image.Image:
    """Decode (in JPEG draft mode where possible) to about ``max_side``, upright, RGB."""
    scale = max_side / max(original.size)
    if scale < 1:
        original.draft(None, (round(original.width * scale), round(original.height * scale)))
    original.seek(0)
    original.load()
    return fit(to_rgb(ImageOps.exif_transpose(original)), max_side)
