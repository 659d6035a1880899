"""mmsearch plugin: photos and other images, decoded with Pillow.

Every odd image a real photo folder holds becomes a plain RGB picture: EXIF
rotation applied, transparency flattened onto white, palette, 16-bit and CMYK
converted, the first frame of an animation. HEIC/HEIF photos are read when
pillow-heif is installed (see :mod:`mmsearch_images.heif`). Truncated or damaged
files and decompression bombs are skipped with a reason.

Option read (``ExtractSettings.options``): ``image_min_side``, the shortest side the
encoder looks at, which the engine fills in from the encoder; large pictures are then
decoded or kept only twice that large (see :mod:`mmsearch_images.reduce`).
"""

from __future__ import annotations

import math
import re
import threading
import warnings
from collections.abc import Callable, Iterator
from typing import BinaryIO, ClassVar

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from mmsearch import Extractor, MediaType, Segment, SkipFile, Source, hookimpl
from mmsearch_images.camera_raw import is_camera_raw
from mmsearch_images.heif import EXTENSIONS as HEIF_EXTENSIONS
from mmsearch_images.heif import ensure_heif_opener, is_heif
from mmsearch_images.reduce import draft, draft_side, shrink

__all__ = ["PillowImageExtractor", "draft_side", "register_extractors", "to_rgb"]

# A truncated file must fail loudly, not decode into grey: Pillow's default already
# does that, and we keep it so even if a host application changed it.
ImageFile.LOAD_TRUNCATED_IMAGES = False

# Pillow's bomb guard (Image.MAX_IMAGE_PIXELS, and the warnings filters we use to
# quiet it) is process-wide state, and the engine extracts files in threads: every
# change to it happens under this lock, which only ever covers header parsing.
_PILLOW_LOCK = threading.Lock()

_FLAG = "--max-image-megapixels"

# The white point of high-depth greyscale whose range the mode does not fix (black is
# 0): the first of these that holds every value, so 8-bit data stored as 32-bit ints,
# or 0..1 floats, keep their brightness instead of being stretched or blackened.
_NOMINAL_WHITE: dict[str, tuple[float, ...]] = {
    "I": (255.0, 65535.0),
    "F": (1.0, 255.0, 65535.0),
}


def _flatten(image: Image.Image) -> Image.Image:
    """Composite an image with alpha onto white, so transparent pixels do not turn black."""
    if image.mode == "La":
        # Pillow has no direct La -> RGBA conversion; un-premultiply first.
        image = image.convert("LA")
    rgba = image.convert("RGBA")
    background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    return Image.alpha_composite(background, rgba).convert("RGB")


def _value_range(mode: str, values: npt.NDArray[np.float32]) -> tuple[float, float]:
    """The values that become black and white: the format's own range where it has one."""
    if mode.startswith("I;16"):
        return 0.0, 65535.0
    low, high = float(values.min()), float(values.max())
    if low >= 0.0:
        for white in _NOMINAL_WHITE.get(mode, ()):
            if high <= white:
                return 0.0, white
    return low, high


def _high_depth_to_l(image: Image.Image) -> Image.Image:
    """16-bit, 32-bit and float greyscale as 8 bits, with intensities in the same order."""
    # One float32 copy worked on in place: a 100 MP scan must not cost gigabytes.
    values = np.asarray(image).astype(np.float32)
    np.nan_to_num(values, copy=False, nan=0.0, posinf=0.0, neginf=0.0)
    low, high = _value_range(image.mode, values)
    values -= low
    values *= 255.0 / (high - low) if high > low else 0.0
    np.clip(values, 0.0, 255.0, out=values)
    np.rint(values, out=values)
    return Image.fromarray(values.astype(np.uint8))


def to_rgb(image: Image.Image) -> Image.Image:
    """A plain 8-bit RGB version of any Pillow image."""
    if image.mode.startswith("I") or image.mode == "F":
        return _high_depth_to_l(image).convert("RGB")
    # Alpha bands, palettes with alpha, and colour-key transparency ("transparency" in
    # info, which PNG uses for L, RGB and P images) all flatten onto white.
    if image.has_transparency_data:
        return _flatten(image)
    if image.mode == "RGB":
        return image
    return image.convert("RGB")


def _is_webp(head: bytes) -> bool:
    return head[:4] == b"RIFF" and head[8:12] == b"WEBP"


def _is_bmp(head: bytes) -> bool:
    # "BM" alone is too common a text prefix; the reserved header bytes are zero.
    return head[:2] == b"BM" and head[6:10] == b"\0\0\0\0"


_SIGNATURES: tuple[bytes, ...] = (
    b"\xff\xd8\xff",
    b"\x89PNG\r\n\x1a\n",
    b"GIF87a",
    b"GIF89a",
    b"II*\x00",
    b"MM\x00*",
)
_EXTRA_SNIFFERS: tuple[Callable[[bytes], bool], ...] = (_is_webp, _is_bmp, is_heif)


def _allow_pixels(pixels: int) -> None:
    """Raise Pillow's bomb limit to at least ``pixels``; never lower it.

    Our cap, checked from the header before decoding, is the one the user sets.
    Pillow's own fixed limit (about 89 MP, an error at twice that, checked again
    while decoding some formats) would otherwise refuse images the user allowed.
    Call with ``_PILLOW_LOCK`` held.
    """
    current = Image.MAX_IMAGE_PIXELS
    if current is not None and current < pixels:
        Image.MAX_IMAGE_PIXELS = pixels


def _megapixels(pixels: float, cap: float) -> str:
    """Megapixels with enough decimals that a size just over the cap does not print as equal."""
    for decimals in range(1, 7):
        text = f"{pixels / 1e6:.{decimals}f}"
        if float(text) > cap:
            return text
    return f"{pixels / 1e6}"


def _bomb_size(exc: Image.DecompressionBombError, cap: float) -> str:
    """The size Pillow's bomb error names, in the words of our own message."""
    found = re.search(r"\((\d+) pixels\)", str(exc))
    if found is None:
        return "its header declares a huge size"
    return f"it is {_megapixels(int(found[1]), cap)} MP"


def _too_large(what: str, cap: float) -> SkipFile:
    return SkipFile(
        "too large",
        f"{what}, over the {cap:g} MP cap that guards against decompression bombs; "
        f"raise it with {_FLAG} if it is genuine",
    )


class PillowImageExtractor(Extractor):
    """One segment per image: the whole picture, as RGB."""

    name: ClassVar[str] = "pillow-image"
    media_type: ClassVar[MediaType] = "image"
    extensions: ClassVar[frozenset[str]] = frozenset(
        {"jpg", "jpeg", "jpe", "png", "gif", "bmp", "tif", "tiff", "webp"} | HEIF_EXTENSIONS
    )
    signatures: ClassVar[tuple[bytes, ...]] = _SIGNATURES

    def sniff(self, head: bytes) -> bool:
        """JPEG, PNG, GIF, TIFF by magic bytes; WebP, BMP and HEIF by their header layout.

        A camera RAW in a TIFF container is not claimed: it is mmsearch-raw's.
        """
        if super().sniff(head):
            return not is_camera_raw(head)
        return any(check(head) for check in _EXTRA_SNIFFERS)

    def extract(self, source: Source) -> Iterator[Segment]:
        """Decode the image, checking its size against the megapixel cap before decoding."""
        with source.open() as handle:
            if is_heif(handle.read(32)):
                ensure_heif_opener()
            handle.seek(0)
            image = self._open(handle, source)
            self._check_size(image, source)
            try:
                image.seek(0)
                draft(image, source)
                image.load()
                picture = shrink(to_rgb(ImageOps.exif_transpose(image)), source)
            except Image.DecompressionBombError as exc:
                # Some formats check sizes again while decoding (GIF frames, TIFF tiles).
                cap = source.settings.max_image_megapixels
                raise _too_large(_bomb_size(exc, cap), cap) from exc
            except (OSError, SyntaxError, ValueError, EOFError) as exc:
                raise SkipFile(
                    "corrupt image",
                    f"the image data is truncated or damaged ({exc}); re-copy or re-export it",
                ) from exc
        yield Segment(kind="image", modality="image", content=picture)

    @staticmethod
    def _open(handle: BinaryIO, source: Source) -> Image.Image:
        """Read the header only; Pillow's bomb check is left no lower than our cap."""
        cap = source.settings.max_image_megapixels
        with _PILLOW_LOCK, warnings.catch_warnings():
            _allow_pixels(math.ceil(cap * 1e6))
            # Pillow warns from its own limit up to twice it; our cap decides instead.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            try:
                return Image.open(handle)
            except Image.DecompressionBombError as exc:
                # Pillow's limit is at least our cap here, so this is over the cap too.
                raise _too_large(_bomb_size(exc, cap), cap) from exc
            except UnidentifiedImageError as exc:
                raise SkipFile(
                    "corrupt image",
                    "Pillow does not recognise its image data; it may be damaged or misnamed",
                ) from exc
            except (OSError, SyntaxError, ValueError) as exc:
                raise SkipFile(
                    "corrupt image",
                    f"Pillow cannot read its header ({exc}); it may be damaged or misnamed",
                ) from exc

    @staticmethod
    def _check_size(image: Image.Image, source: Source) -> None:
        width, height = image.size
        cap = source.settings.max_image_megapixels
        if width * height > cap * 1e6:
            size = _megapixels(width * height, cap)
            raise _too_large(f"{width}x{height} is {size} MP", cap)


@hookimpl
def register_extractors(register: Callable[[Extractor], None]) -> None:
    """Provide the Pillow image extractor."""
    register(PillowImageExtractor())
