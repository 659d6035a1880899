"""The RAW extractor: the embedded preview when it is large enough, else a half-size decode."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from mmsearch_images.camera_raw import is_camera_raw
from PIL import Image, ImageOps, UnidentifiedImageError

from mmsearch import Extractor, MediaType, Segment, SkipFile, Source

if TYPE_CHECKING:
    import rawpy

EXTENSIONS = frozenset(
    {"cr2", "cr3", "nef", "nrw", "arw", "srf", "sr2", "dng", "raf", "orf", "rw2", "pef", "srw"}
)
PREVIEW_MIN_SIDE = 512
# LibRaw's flip codes and the Pillow transpose that shows the picture upright.
_FLIPS = {
    3: Image.Transpose.ROTATE_180,
    5: Image.Transpose.ROTATE_90,
    6: Image.Transpose.ROTATE_270,
}


class RawExtractor(Extractor):
    """Camera RAW photos as one upright RGB picture each."""

    name: ClassVar[str] = "libraw-raw"
    media_type: ClassVar[MediaType] = "image"
    extensions: ClassVar[frozenset[str]] = EXTENSIONS

    def sniff(self, head: bytes) -> bool:
        """Whether the head is a camera RAW's (not a plain TIFF's)."""
        return is_camera_raw(head)

    def extract(self, source: Source) -> list[Segment]:
        """The photo; SkipFile when LibRaw cannot read it or it is over the megapixel cap."""
        import rawpy

        min_side = _preview_min_side(source.settings.options)
        try:
            with source.open() as handle, rawpy.imread(handle) as raw:
                _check_size(raw, source)
                picture = _preview(raw, min_side) if min_side else None
                if picture is None:
                    picture = _demosaic(raw)
        except rawpy.LibRawFileUnsupportedError as exc:
            raise SkipFile(
                "unsupported raw",
                f"LibRaw does not read this RAW format ({exc}); convert it to DNG "
                "(Adobe DNG Converter) or export a JPEG to index it",
            ) from exc
        except (rawpy.LibRawError, rawpy.LibRawFatalError) as exc:
            raise SkipFile(
                "corrupt raw",
                f"the RAW file cannot be decoded ({type(exc).__name__}: {exc}); it may be "
                "truncated or damaged: check that it opens in your photo software",
            ) from exc
        return [Segment("image", "image", picture)]


def _preview_min_side(options: dict[str, Any]) -> int:
    raw = options.get("raw_preview_min_side", PREVIEW_MIN_SIDE)
    try:
        value = int(raw)
    except (TypeError, ValueError):
        value = -1
    if value < 0:
        raise SkipFile(
            "bad raw setting",
            f"--set raw_preview_min_side={raw} is not valid: give a whole number of pixels "
            "(0 always decodes the sensor data)",
            once=True,
        )
    return value


def _check_size(raw: rawpy.RawPy, source: Source) -> None:
    megapixels = raw.sizes.width * raw.sizes.height / 1e6
    cap = source.settings.max_image_megapixels
    if megapixels > cap:
        raise SkipFile(
            "too large",
            f"the photo is {megapixels:.0f} megapixels, over the {cap:g} MP cap; "
            "raise it with --max-image-megapixels to index it",
        )


def _preview(raw: rawpy.RawPy, min_side: int) -> Image.Image | None:
    """The embedded preview, upright, if it is at least ``min_side`` on its shorter side."""
    import rawpy

    try:
        thumb = raw.extract_thumb()
    except (rawpy.LibRawNoThumbnailError, rawpy.LibRawUnsupportedThumbnailError):
        return None
    image: Image.Image
    if thumb.format == rawpy.ThumbFormat.JPEG:
        try:
            image = Image.open(io.BytesIO(bytes(thumb.data)))
            image.load()
        except (OSError, UnidentifiedImageError):
            return None  # a damaged preview: the sensor data may still be fine
        own_orientation = image.getexif().get(0x0112, 1) not in (0, 1)
        image = ImageOps.exif_transpose(image) if own_orientation else image
        flip = None if own_orientation else raw.sizes.flip
    else:
        image = Image.fromarray(np.ascontiguousarray(thumb.data))
        flip = raw.sizes.flip
    if min(image.size) < min_side:
        return None
    image = image.convert("RGB")
    return image.transpose(_FLIPS[flip]) if flip in _FLIPS else image


def _demosaic(raw: rawpy.RawPy) -> Image.Image:
    """The sensor data demosaiced at half size (LibRaw applies the orientation)."""
    rgb = raw.postprocess(half_size=True, use_camera_wb=True, output_bps=8)
    return Image.fromarray(rgb).convert("RGB")
