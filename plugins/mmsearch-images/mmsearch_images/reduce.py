"""Decoding no more pixels than the encoder looks at.

The engine tells extractors the shortest side its encoder scales images to
(``options["image_min_side"]``, 224 for ViT-B-32). A camera JPEG is then decoded in
draft mode: libjpeg's DCT scaling by 1/2, 1/4 or 1/8, several times faster than a
full decode. Other large pictures (PNG, TIFF, HEIC...) are box-filtered down by a
whole factor right after decoding, in the extraction thread, so a batch of 12 MP
phone photos does not wait in memory at full size and the encoder's resize has less
to do. Either way the shortest side stays at least ``image_min_side``, and the
open_clip tests check that embeddings keep cosine >= 0.99 to the full-size path.
"""

from __future__ import annotations

from PIL import Image

from mmsearch import Source

_DRAFT_FORMATS = frozenset({"JPEG", "MPO"})


def draft_side(source: Source) -> int | None:
    """The shortest side the encoder needs, or None to keep every pixel."""
    value = source.settings.options.get("image_min_side")
    if value is None or isinstance(value, bool):
        return None
    try:
        side = int(value)  # --set image_min_side=... arrives as text
    except (TypeError, ValueError):
        return None
    return side if side > 0 else None


def draft(image: Image.Image, source: Source) -> None:
    """Before loading: let libjpeg decode at the smallest scale that keeps the needed side."""
    side = draft_side(source)
    if side is not None and image.format in _DRAFT_FORMATS:
        # draft() picks the largest of 1/2, 1/4, 1/8 that keeps both sides >= these.
        image.draft(None, (side, side))


def shrink(picture: Image.Image, source: Source) -> Image.Image:
    """After decoding: box-filter down by the largest whole factor that keeps the side."""
    side = draft_side(source)
    if side is None:
        return picture
    factor = min(picture.size) // side
    return picture.reduce(factor) if factor >= 2 else picture
