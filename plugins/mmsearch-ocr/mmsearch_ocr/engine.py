"""RapidOCR's text detector and recogniser, loaded on first use and shared by threads.

The ONNX weights ship inside the ``rapidocr-onnxruntime`` wheel, so nothing is
downloaded. Each extraction thread gets its own RapidOCR (about 25 MB more per
thread): RapidOCR keeps per-call state on the instance, so one instance must not
serve two threads at once, and separate instances need no lock. ONNX Runtime
runs one intra-op thread per call: with four extraction threads on two cores,
two intra-op threads spent twice the CPU per image (360 against about 175 ms)
for half the rate (``bench/ocr_bench.py threads``).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from mmsearch_ocr.decoding import SpacingDecoder

log = logging.getLogger(__name__)

_NO_LIMIT = 1 << 15


@dataclass(frozen=True, slots=True)
class OcrLine:
    """One detected line of text, with its bounding box in the image's pixels."""

    text: str
    score: float
    left: float
    top: float
    right: float
    bottom: float

    @property
    def height(self) -> float:
        """Height of the line's box."""
        return self.bottom - self.top


@dataclass(frozen=True, slots=True)
class EngineConfig:
    """How the engine is built: thresholds, threads, and optional model files."""

    min_score: float = 0.5
    """Words (and lines) whose mean character probability is lower are dropped."""
    space_min: float = 0.01
    """Share of probability at which a blank column whose likeliest character is a space
    is read as a word break."""
    max_side: int = 1600
    """Images are read at most this many pixels on their longer side."""
    threads: int = 1
    """ONNX Runtime intra-op threads per call."""
    use_angle_classifier: bool = False
    """RapidOCR's 0/180 degree line classifier: off, as it turned some upright lines."""
    spacing_decoder: bool = True
    """Decode with :class:`SpacingDecoder` rather than RapidOCR's own greedy decoder."""
    det_model_path: str | None = None
    rec_model_path: str | None = None

    def rapidocr_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``RapidOCR(...)``."""
        kwargs: dict[str, Any] = {
            "text_score": self.min_score,
            # The annotator scales images itself (run option ocr_max_side); RapidOCR must
            # not shrink them again.
            "max_side_len": _NO_LIMIT,
            "intra_op_num_threads": self.threads,
            "inter_op_num_threads": 1,
            # "max" keeps an image at its own size (up to 2000 px); "min" would enlarge
            # every small image to 736 px on its short side, at several times the cost.
            "det_limit_type": "max",
        }
        if self.det_model_path:
            kwargs["det_model_path"] = self.det_model_path
        if self.rec_model_path:
            kwargs["rec_model_path"] = self.rec_model_path
        return kwargs


class OcrEngine:
    """Detect and recognise text lines in RGB images; thread-safe, loads on first use."""

    def __init__(self, config: EngineConfig | None = None) -> None:
        self.config = config or EngineConfig()
        self._local = threading.local()
        self._lock = threading.Lock()
        self._failure: Exception | None = None
        self.loads = 0
        """How many threads have loaded the models so far."""

    def read(self, rgb: npt.NDArray[np.uint8]) -> list[OcrLine]:
        """The confident text lines of an ``(h, w, 3)`` RGB image, in detection order."""
        ocr = self._thread_ocr()
        result, _timings = ocr(_bgr(rgb), use_cls=self.config.use_angle_classifier)
        return [_line(entry) for entry in result or () if entry[1]]

    def detects(self, rgb: npt.NDArray[np.uint8]) -> bool:
        """Whether the text detector alone finds any line in an ``(h, w, 3)`` RGB image."""
        ocr = self._thread_ocr()
        boxes, _timings = ocr(_bgr(rgb), use_det=True, use_cls=False, use_rec=False)
        return bool(boxes is not None and len(boxes))

    def _thread_ocr(self) -> Any:
        """This thread's RapidOCR, built on first use.

        Builds happen one at a time and a failure is remembered, so a broken install
        costs one attempt and one clear message per image, not a load per image.
        """
        ocr = getattr(self._local, "ocr", None)
        if ocr is not None:
            return ocr
        with self._lock:
            if self._failure is None:
                try:
                    ocr = _build(self.config)
                except Exception as exc:
                    self._failure = exc
                else:
                    self.loads += 1
        if self._failure is not None:
            raise RuntimeError(
                f"the OCR models could not be loaded ({type(self._failure).__name__}: "
                f"{self._failure}); reinstall them with pip install --force-reinstall "
                "'rapidocr-onnxruntime>=1.4,<1.5', or index without OCR: --set ocr=off"
            ) from self._failure
        self._local.ocr = ocr
        return ocr


def _build(config: EngineConfig) -> Any:
    from rapidocr_onnxruntime import RapidOCR

    ocr = RapidOCR(**config.rapidocr_kwargs())
    if config.spacing_decoder:
        _install_decoder(ocr, config)
    return ocr


def _install_decoder(ocr: Any, config: EngineConfig) -> None:
    """Swap in the spacing decoder, or keep RapidOCR's if its internals have moved."""
    recogniser: Any = getattr(ocr, "text_rec", None)
    characters = getattr(getattr(recogniser, "postprocess_op", None), "character", None)
    if not isinstance(characters, list) or " " not in characters:
        log.warning(
            "rapidocr-onnxruntime's recogniser is not laid out as expected; words may run "
            "together. Install rapidocr-onnxruntime 1.4.x for word breaks."
        )
        return
    recogniser.postprocess_op = SpacingDecoder(
        characters, space_min=config.space_min, word_min=config.min_score
    )


def _bgr(rgb: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    # RapidOCR takes arrays in OpenCV's channel order, and OpenCV wants them contiguous.
    return np.ascontiguousarray(rgb[:, :, ::-1])


def _line(entry: Any) -> OcrLine:
    """An OcrLine from RapidOCR's ``[box, text, score]``, the box as four corner points."""
    points = np.asarray(entry[0], dtype=np.float32)
    left, top = points.min(axis=0).tolist()
    right, bottom = points.max(axis=0).tolist()
    return OcrLine(str(entry[1]), float(entry[2]), left, top, right, bottom)
