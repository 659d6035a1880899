"""sRGB to OKLab, where straight-line distances match perceived colour differences.

OKLab (Björn Ottosson, 2020) keeps hues straight where CIELAB bends them
(CIELAB's light blues drift towards purple), which matters when "light blue"
must land on sky blue. Values are scaled by 100: L in 0..100, a and b about
-40..40.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

_LINEAR_TO_LMS = np.array(
    [
        [0.4122214708, 0.5363325363, 0.0514459929],
        [0.2119034982, 0.6806995451, 0.1073969566],
        [0.0883024619, 0.2817188376, 0.6299787005],
    ]
)
_LMS_TO_LAB = np.array(
    [
        [0.2104542553, 0.7936177850, -0.0040720468],
        [1.9779984951, -2.4285922050, 0.4505937099],
        [0.0259040371, 0.7827717662, -0.8086757660],
    ]
)


def srgb_to_lab(rgb: npt.ArrayLike) -> FloatArray:
    """Convert ``(..., 3)`` sRGB values in 0..255 to ``(..., 3)`` OKLab values (x100)."""
    values = np.asarray(rgb, dtype=np.float64) / 255.0
    linear = np.where(values <= 0.04045, values / 12.92, ((values + 0.055) / 1.055) ** 2.4)
    lms = np.cbrt(linear @ _LINEAR_TO_LMS.T)
    lab: FloatArray = 100.0 * (lms @ _LMS_TO_LAB.T)
    return lab
