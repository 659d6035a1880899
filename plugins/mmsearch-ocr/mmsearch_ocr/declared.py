"""The OCR models ``mmsearch models`` lists: RapidOCR's PP-OCR ONNX files, which ship inside
the rapidocr-onnxruntime package (pip carries them; verify checks its RECORD). Found
without importing the package, which loads OpenCV and onnxruntime."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from mmsearch.contracts import ModelSpec

PACKAGE = "rapidocr-onnxruntime"


def declared_models() -> list[ModelSpec]:
    """The detection, direction and recognition models, as one."""
    spec = importlib.util.find_spec("rapidocr_onnxruntime")
    folder = None
    if spec is not None and spec.submodule_search_locations:
        folder = Path(next(iter(spec.submodule_search_locations))) / "models"
    problem = None if folder and folder.is_dir() else f"not installed: pip install {PACKAGE}"
    return [
        ModelSpec(
            name="ocr/rapidocr-ppocr",
            description="RapidOCR PP-OCR detection, direction and recognition (ONNX)",
            licence="",
            folder=folder,
            package=PACKAGE,
            unavailable=problem,
            default=True,
            extra={"runtime": "onnxruntime"},
        )
    ]
