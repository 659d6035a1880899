"""mmsearch plugin: camera RAW photos, through rawpy (LibRaw, bundled in its wheel).

CR2, CR3, NEF, NRW, ARW, SRF, SR2, DNG, RAF, ORF, RW2, PEF and SRW files, recognised
by content (``mmsearch_images.camera_raw``). The fast path is the JPEG preview the
camera embedded, when its shorter side is at least ``raw_preview_min_side`` pixels
(default 512; ``--set raw_preview_min_side=N``, 0 to always decode the sensor data);
otherwise the sensor data is demosaiced at half size (camera white balance, 8 bits).
The camera's orientation is applied either way. The picture is an ``image`` segment,
like a photo's: the library's image encoder embeds it and OCR reads it, and a RAW
with its camera JPEG beside it (``IMG_1.CR2`` + ``IMG_1.JPG``) collapses into one
hit with the other listed as a copy, wherever the encoder can tell duplicates.
"""

from __future__ import annotations

from collections.abc import Callable

from mmsearch import Extractor, hookimpl
from mmsearch_raw.extractor import RawExtractor

__all__ = ["RawExtractor", "register_extractors"]


@hookimpl
def register_extractors(register: Callable[[Extractor], None]) -> None:
    """Register the RAW extractor (cheap: rawpy is imported on the first RAW file)."""
    register(RawExtractor())
