"""mmsearch plugin: photos and other images, decoded with Pillow.

Every odd image a real photo folder holds becomes a plain RGB picture: EXIF
rotation applied, transparency flattened onto white, palette, 16-bit and CMYK
converted, the first frame of an animation. Truncated or damaged files and
decompression bombs are skipped with a reason.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from typing import ClassVar

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from mmsearch import Extractor, MediaType, Segment, SkipFile, Source, hookimpl

# A truncated file must fail loudly, not decode into grey: Pillow's default already
# does that, and we keep it so even if a host application changed it.
ImageFile.LOAD_TRUNCATED_IMAGES = False


def _flatten(image: Image.Image) -> Image.Image:
    """Composite an image with alpha onto white, so transparent pixels do not turn black."""
    rgba = image.convert("RGBA")
    background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    return Image.alpha_composite(background, rgba).convert("RGB")


def _high_depth_to_l(image: Image.Image) -> Image.Image:
    """16-bit and float greyscale scaled to 8 bits by their actual range."""
    array = np.asarray(image, dtype=np.float64)
    low, high = float(array.min()), float(array.max())
    scaled = (array - low) / (high - low) * 255.0 if high > low else np.zeros_like(array)
    return Image.fromarray(scaled.astype(np.uint8), mode="L")


def to_rgb(image: Image.Image) -> Image.Image:
    """A plain 8-bit RGB version of any Pillow image."""
    if image.mode == "RGB":
        return image
    if image.mode == "P" and "transparency" in image.info:
        return _flatten(image)
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        return _flatten(image)
    if image.mode.startswith("I") or image.mode == "F":
        return _high_depth_to_l(image).convert("RGB")
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
_EXTRA_SNIFFERS: tuple[Callable[[bytes], bool], ...] = (_is_webp, _is_bmp)


class PillowImageExtractor(Extractor):
    """One segment per image: the whole picture, as RGB."""

    name: ClassVar[str] = "pillow-image"
    media_type: ClassVar[MediaType] = "image"
    extensions: ClassVar[frozenset[str]] = frozenset(
        {"jpg", "jpeg", "jpe", "png", "gif", "bmp", "tif", "tiff", "webp"}
    )
    signatures: ClassVar[tuple[bytes, ...]] = _SIGNATURES

    def sniff(self, head: bytes) -> bool:
        """JPEG, PNG, GIF, TIFF by magic bytes; WebP and BMP by their header layout."""
        return super().sniff(head) or any(check(head) for check in _EXTRA_SNIFFERS)

    def extract(self, source: Source) -> Iterator[Segment]:
        """Decode the image, checking its size against the megapixel cap before decoding."""
        with open(source.path, "rb") as handle, warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = self._open(handle, source)
            self._check_size(image, source)
            try:
                image.seek(0)
                image.load()
                picture = to_rgb(ImageOps.exif_transpose(image))
            except (OSError, SyntaxError, ValueError, EOFError) as exc:
                raise SkipFile(
                    "corrupt image",
                    f"the image data is truncated or damaged ({exc}); re-copy or re-export it",
                ) from exc
        yield Segment(kind="image", modality="image", content=picture)

    @staticmethod
    def _open(handle: object, source: Source) -> Image.Image:
        try:
            return Image.open(handle)  # type: ignore[arg-type]
        except Image.DecompressionBombError as exc:
            raise SkipFile(
                "too large",
                f"Pillow refuses it as a possible decompression bomb ({exc}); "
                "if it is a genuine image, downscale it before indexing",
            ) from exc
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
        megapixels = width * height / 1e6
        cap = source.settings.max_image_megapixels
        if megapixels > cap:
            raise SkipFile(
                "too large",
                f"{width}x{height} is {megapixels:.1f} MP, over the {cap:g} MP cap that guards "
                "against decompression bombs; raise it with --max-image-megapixels if it is genuine",
            )


@hookimpl
def register_extractors(register: Callable[[Extractor], None]) -> None:
    """Provide the Pillow image extractor."""
    register(PillowImageExtractor())
