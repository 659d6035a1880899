"""mmsearch plugin: words inside images, found by OCR and indexed as the image's text.

Uses RapidOCR (PP-OCRv4 detection and recognition as ONNX models that ship in
the ``rapidocr-onnxruntime`` wheel, so it works offline). The words of an image
are appended to its segment's ``text``: keyword search finds the image by
them, and encoders with a ``text_fusion_weight`` blend them into its vector.
The models load on the first image, not when the plugin is registered.

Run options (``mmsearch index --set KEY=VALUE``):

- ``ocr=off`` skips OCR for the run; ``ocr=full`` reads every image in full (by
  default a photo gets a quick look by the text detector at 320 px first and is read
  only where it finds a line; pages, screenshots and receipts are always read in full);
- ``ocr_max_side=N`` reads images at most N pixels on their longer side
  (default 1600: smaller is faster and misses smaller print).
"""

from __future__ import annotations

from collections.abc import Callable

from mmsearch import Annotator, hookimpl
from mmsearch_ocr.annotator import OcrAnnotator, RunOptions
from mmsearch_ocr.engine import EngineConfig, OcrEngine, OcrLine

__all__ = ["EngineConfig", "OcrAnnotator", "OcrEngine", "OcrLine", "RunOptions"]


@hookimpl
def register_annotators(register: Callable[[Annotator], None]) -> None:
    """Provide the OCR annotator."""
    register(OcrAnnotator())
