"""Synthetic camera RAW files for the RAW tests and bench/raw.py: DNGs written with tifffile.

A DNG holds a Bayer mosaic (RGGB, 12 bits) made from an RGB picture, its camera
colour matrix set so that LibRaw's colours come back close to the picture's, and,
as cameras do, an optional embedded JPEG preview in the first IFD with the sensor
data in a sub-IFD. ``orientation`` is the TIFF/EXIF orientation LibRaw turns into
its flip.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import numpy.typing as npt
import tifffile
from PIL import Image

# XYZ -> linear sRGB: the "camera" sees linear sRGB, so its colours convert back.
_XYZ_TO_SRGB = (3.2406, -1.5372, -0.4986, -0.9689, 1.8758, 0.0415, 0.0557, -0.2040, 1.0570)
_WHITE = 4095


def _rational(values: tuple[float, ...]) -> list[int]:
    out: list[int] = []
    for value in values:
        out += [round(value * 10000), 10000]
    return out


def mosaic(rgb: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint16]:
    """The RGGB Bayer mosaic a sensor would record of ``rgb`` (linear light, 12 bits)."""
    linear = (rgb.astype(np.float32) / 255.0) ** 2.2 * _WHITE
    cfa = np.empty(rgb.shape[:2], np.uint16)
    cfa[0::2, 0::2] = linear[0::2, 0::2, 0]
    cfa[0::2, 1::2] = linear[0::2, 1::2, 1]
    cfa[1::2, 0::2] = linear[1::2, 0::2, 1]
    cfa[1::2, 1::2] = linear[1::2, 1::2, 2]
    return cfa


def write_dng(
    path: Path,
    picture: Image.Image,
    *,
    preview_side: int | None = None,
    orientation: int = 1,
) -> Path:
    """A DNG of ``picture``; with ``preview_side``, a JPEG preview that long on its long side."""
    rgb = np.asarray(picture.convert("RGB"))
    rgb = rgb[: rgb.shape[0] // 2 * 2, : rgb.shape[1] // 2 * 2]
    camera = [
        (271, "s", 0, "mmsearch", True),
        (272, "s", 0, "Synthetic DNG", True),
        (274, "H", 1, orientation, True),
        (50706, "B", 4, (1, 4, 0, 0), True),  # DNGVersion
        (50707, "B", 4, (1, 1, 0, 0), True),  # DNGBackwardVersion
        (50708, "s", 0, "mmsearch Synthetic DNG", True),  # UniqueCameraModel
        (50721, "2i", 9, _rational(_XYZ_TO_SRGB), True),  # ColorMatrix1
        (50778, "H", 1, 21, True),  # CalibrationIlluminant1: D65
        (50728, "2I", 3, _rational((1.0, 1.0, 1.0)), True),  # AsShotNeutral
    ]
    sensor = [
        (33421, "H", 2, (2, 2), True),  # CFARepeatPatternDim
        (33422, "B", 4, (0, 1, 1, 2), True),  # CFAPattern: RGGB
        (50714, "H", 1, 0, True),  # BlackLevel
        (50717, "H", 1, _WHITE, True),  # WhiteLevel
    ]
    with tifffile.TiffWriter(path) as tif:
        if preview_side is None:
            tif.write(mosaic(rgb), photometric=32803, subfiletype=0, extratags=camera + sensor)
            return path
        small = Image.fromarray(rgb)
        small.thumbnail((preview_side, preview_side))
        jpeg = io.BytesIO()
        small.save(jpeg, "JPEG", quality=90)
        # The JPEG goes in as it is (one strip), as a camera writes its preview.
        tif.write(
            iter([jpeg.getvalue()]),
            shape=(small.height, small.width, 3),
            dtype=np.uint8,
            photometric="ycbcr",
            compression=7,
            rowsperstrip=small.height,
            subsampling=(2, 2),
            subfiletype=1,
            subifds=1,
            extratags=camera,
        )
        tif.write(mosaic(rgb), photometric=32803, subfiletype=0, extratags=sensor)
    return path
