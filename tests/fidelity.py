"""Measuring how faithful the engine's image preprocessing is, with real photos.

Shared by tests/test_open_clip_fidelity.py and bench/preprocess_fidelity.py. The photos
are scikit-image's sample images (installed with it; none needs a download). Pixel
differences are measured on the model's input tensors with the normalisation undone,
so both metrics are in pixel units: the largest difference in 1/255 steps, and PSNR in
dB for a peak of 1 (over the whole tensor).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from mmsearch_images import PillowImageExtractor
from PIL import Image

# Bound here, so a test that removes the extractor's EXIF step leaves the reference whole.
from PIL.ImageOps import exif_transpose

from mmsearch import ExtractSettings, Source

PHOTOS = (
    "astronaut.png",
    "brick.png",
    "camera.png",
    "chelsea.png",
    "coffee.png",
    "coins.png",
    "horse.png",
    "hubble_deep_field.jpg",
    "ihc.png",
    "moon.png",
    "motorcycle_left.png",
    "page.png",
    "retina.jpg",
    "rocket.jpg",
)
ORIENTATION = 0x0112
Picture = Callable[[Path], Image.Image]
"""One way of decoding a file into the RGB picture an encoder is given."""


def skimage_photo(name: str) -> Image.Image:
    try:
        from skimage import data
    except ImportError:  # fail, never skip: a skipped fidelity test proves nothing
        pytest.fail("these tests need scikit-image (pip install scikit-image); add it to dev")
    with Image.open(Path(data.data_dir) / name) as image:
        return image.convert("RGB")


def mosaic() -> Image.Image:
    """A 12 MP picture of real photo detail (a fresh copy each call)."""
    return _mosaic((4000, 3000), 250).copy()


@functools.cache
def _mosaic(size: tuple[int, int], tile: int) -> Image.Image:
    """A 12 MP picture of real photo detail: 250 px crops of the sample photos, unscaled.

    Upscaling a small photo to 12 MP would leave the fine detail that draft decoding
    drops out of the test; these crops keep each photo's own pixels."""
    crops = []
    for name in PHOTOS:
        photo = skimage_photo(name)
        width, height = photo.size
        for x in range(0, width - tile + 1, tile):
            for y in range(0, height - tile + 1, tile):
                crops.append(photo.crop((x, y, x + tile, y + tile)))
    rng = np.random.default_rng(0)
    canvas = Image.new("RGB", size)
    columns = size[0] // tile
    for i in range(columns * (size[1] // tile)):
        crop = crops[int(rng.integers(len(crops)))]
        canvas.paste(crop, ((i % columns) * tile, (i // columns) * tile))
    return canvas


def with_alpha(photo: Image.Image) -> Image.Image:
    """The photo with a transparent border, an opaque middle and a half-transparent band."""
    width, height = photo.size
    alpha = np.zeros((height, width), np.uint8)
    alpha[height // 8 : -height // 8, width // 6 : -width // 6] = 255
    alpha[height * 2 // 5 : height * 3 // 5, :] = 128
    rgba = photo.convert("RGBA")
    rgba.putalpha(Image.fromarray(alpha))
    return rgba


def write_paths(folder: Path) -> dict[str, Path]:
    """One file per decoding path the engine takes, named after the path."""
    big = mosaic()
    rotated = Image.Exif()
    rotated[ORIENTATION] = 6  # the camera was turned: rotate 90 degrees clockwise to show
    files: dict[str, tuple[Image.Image, str, dict[str, Any]]] = {
        "png": (skimage_photo("astronaut.png"), "png", {}),
        "png, box-reduced": (skimage_photo("retina.jpg"), "png", {}),
        "baseline jpeg": (skimage_photo("coffee.png"), "jpg", {"quality": 90}),
        "progressive jpeg, drafted": (
            skimage_photo("retina.jpg"),
            "jpg",
            {"quality": 90, "progressive": True},
        ),
        "12 MP jpeg, drafted": (big, "jpg", {"quality": 90}),
        "exif-rotated jpeg, drafted": (
            big.crop((0, 0, 1600, 1200)),
            "jpg",
            {"quality": 90, "exif": rotated.tobytes()},
        ),
        "cmyk jpeg": (skimage_photo("chelsea.png").convert("CMYK"), "jpg", {"quality": 90}),
        "alpha png": (with_alpha(skimage_photo("astronaut.png")), "png", {}),
    }
    paths = {}
    for kind, (image, extension, options) in files.items():
        path = folder / f"{kind.replace(' ', '_').replace(',', '')}.{extension}"
        image.save(path, **options)
        paths[kind] = path
    return paths


def reference_picture(path: Path) -> Image.Image:
    """The full-size picture a careful caller of open_clip would give its preprocess.

    Every pixel decoded, the EXIF orientation applied, converted to RGB; transparency
    composited onto white by plain arithmetic here. The engine flattens onto white by
    design; open_clip's own ``convert("RGB")`` would show the colours hidden under
    transparent pixels instead."""
    with Image.open(path) as opened:
        # Bound at import: a test that removes the extractor's EXIF step (by patching
        # PIL.ImageOps) leaves this reference whole.
        image = exif_transpose(opened)
        if "A" not in image.mode:
            return image.convert("RGB")
        rgba = np.asarray(image.convert("RGBA")).astype(np.float64)
        alpha = rgba[..., 3:] / 255.0
        flat = rgba[..., :3] * alpha + 255.0 * (1.0 - alpha)
        return Image.fromarray(np.rint(flat).astype(np.uint8))


def engine_picture(path: Path, side: int | None) -> Image.Image:
    """The picture the Pillow extractor hands an encoder whose images are ``side`` px."""
    options = {} if side is None else {"image_min_side": side}
    source = Source(
        os.fsencode(path), str(path), path.stat().st_size, ExtractSettings(options=options)
    )
    [segment] = PillowImageExtractor().extract(source)
    picture = segment.content
    assert isinstance(picture, Image.Image) and picture.mode == "RGB"
    return picture


def difference(
    ours: torch.Tensor, reference: torch.Tensor, std: torch.Tensor
) -> tuple[float, float]:
    """(largest difference in 1/255 steps, PSNR in dB) of two normalised input tensors."""
    pixels = (ours - reference) * std.view(-1, 1, 1)
    mse = float(pixels.double().pow(2).mean())
    psnr = float("inf") if mse == 0 else 10 * float(np.log10(1.0 / mse))
    return float(pixels.abs().max()) * 255, psnr


def features_and_classes(
    net: torch.nn.Module, batch: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """A timm classifier's pooled features (the embedding its logits are made from, as
    float32) and its top-1 classes, the batch run in the network's own dtype and device."""
    weight = next(net.parameters())
    with torch.inference_mode():
        features: torch.Tensor = net.forward_head(  # type: ignore[operator]
            net.forward_features(batch.to(weight.device, weight.dtype)),  # type: ignore[operator]
            pre_logits=True,
        )
        classes: torch.Tensor = net.get_classifier()(features).argmax(dim=1)  # type: ignore[operator]
        return features.float().cpu(), classes.cpu()
