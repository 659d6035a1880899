"""Decoding no more pixels than the encoder's own resize needs to stay faithful.

The engine tells extractors the shortest side its encoder scales images to
(``options["image_min_side"]``, 224 for ViT-B-32). A camera JPEG is then decoded in
draft mode: libjpeg's DCT scaling by 1/2, 1/4 or 1/8, faster than a full decode.
Other large pictures (PNG, TIFF, HEIC...) are box-filtered down by a whole factor
right after decoding, in the extraction thread, so a batch of 12 MP phone photos does
not wait in memory at full size and the encoder's resize has less to do.

Either way the shortest side stays at least ``KEEP_FACTOR`` times ``image_min_side``,
so the encoder's antialiased resize still makes the last step. Reducing right down to
the side (factor 1) moved a trained model's features (EfficientNet-Lite0, the offline
plugin's, on real photos) to cosine 0.9885 from the full-size path; at factor 2 the lowest
was 0.9995, and ViT-B-32's input tensors stay within 70/255 and PSNR 39 dB of open_clip's
reference transform of the full picture (docs/models-open-clip.md, measured by
``bench/preprocess_fidelity.py``, checked by tests/test_open_clip_fidelity.py).
"""

from __future__ import annotations

from PIL import Image

from mmsearch import Source

_DRAFT_FORMATS = frozenset({"JPEG", "MPO"})
KEEP_FACTOR = 2
"""Decoded pictures keep at least this many times the encoder's side (see above)."""


def draft_side(source: Source) -> int | None:
    """The shortest side the encoder scales to, or None to keep every pixel."""
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
        keep = KEEP_FACTOR * side
        image.draft(None, (keep, keep))


def shrink(picture: Image.Image, source: Source) -> Image.Image:
    """After decoding: box-filter down by the largest whole factor that keeps the margin."""
    side = draft_side(source)
    if side is None:
        return picture
    factor = min(picture.size) // (KEEP_FACTOR * side)
    return picture.reduce(factor) if factor >= 2 else picture
