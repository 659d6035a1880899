"""The OCR annotator: the words found in an image become the text of its segment."""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from PIL import Image

from mmsearch import Annotator, Segment, Source
from mmsearch.contracts import ModelSpec
from mmsearch_ocr.engine import EngineConfig, OcrEngine, OcrLine
from mmsearch_ocr.layout import reading_text
from mmsearch_ocr.screening import (
    document_like,
    fit,
    flat,
    full_resolution,
    quick_look,
    thumbnail,
    too_small,
)

log = logging.getLogger(__name__)

MIN_MAX_SIDE = 64
_OFF = frozenset({"off", "0", "false", "no"})


@dataclass(frozen=True, slots=True)
class RunOptions:
    """What ``mmsearch index --set`` can change for one run."""

    enabled: bool
    max_side: int
    full: bool = False
    """``ocr=full``: read every image in full, skipping the quick look for photos."""

    @classmethod
    def parse(cls, options: Mapping[str, Any], default_side: int) -> RunOptions:
        """Read ``ocr`` (on/off) and ``ocr_max_side`` from the run's plugin options."""
        mode = str(options.get("ocr", "on")).strip().lower()
        enabled = mode not in _OFF
        raw = options.get("ocr_max_side", default_side)
        try:
            max_side = int(raw)
        except (TypeError, ValueError):
            max_side = 0
        if max_side < MIN_MAX_SIDE:
            raise ValueError(
                f"ocr_max_side must be a whole number of pixels, at least {MIN_MAX_SIDE} "
                f"(got {raw!r}); fix it in --set ocr_max_side=..."
            )
        return cls(enabled, max_side, full=mode == "full")


def _has_word(line: OcrLine) -> bool:
    """Lines with fewer than two letters or digits are mostly texture read as a glyph."""
    return sum(ch.isalnum() for ch in line.text) >= 2


class OcrAnnotator(Annotator):
    """Adds the words printed in an image to the image segment's ``text``.

    Words are read at most ``max_side`` pixels on the image's longer side (the
    run option ``ocr_max_side`` overrides it), in reading order, one line of
    text per row; words whose confidence is under ``min_score`` are dropped.
    """

    name: ClassVar[str] = "ocr"
    kinds: ClassVar[frozenset[str]] = frozenset({"image", "frame"})  # photos, video moments

    def __init__(self, config: EngineConfig | None = None) -> None:
        self.config = config or EngineConfig()
        self.engine = OcrEngine(self.config)

    def models(self) -> list[ModelSpec]:
        """The PP-OCR models inside rapidocr-onnxruntime, for ``mmsearch models``."""
        from mmsearch_ocr.declared import declared_models

        return declared_models()

    def annotate(self, segment: Segment, source: Source) -> Segment:
        """The segment with the image's words appended to its text, or unchanged."""
        options = RunOptions.parse(source.settings.options, self.config.max_side)
        image = segment.content
        if not options.enabled or not isinstance(image, Image.Image):
            return segment
        started = time.perf_counter()
        words = self._words(image, source, options.max_side, options.full)
        log.debug(
            "OCR of %s: %d words in %.0f ms",
            source.display,
            len(words.split()),
            1e3 * (time.perf_counter() - started),
        )
        if not words:
            return segment
        text = f"{segment.text}\n{words}" if segment.text else words
        return dataclasses.replace(segment, text=text)

    def _words(self, image: Image.Image, source: Source, max_side: int, full: bool) -> str:
        """The image's words, after the cheap checks that rule out images without any.

        Documents (pages, screenshots, receipts: a large share of white paper) are read in
        full. Photos get a quick look first, the text detector alone at
        :data:`~mmsearch_ocr.screening.LOOK_SIDE` px (about 15 ms of CPU against 170 ms
        for a full reading of a 0.5 MP photo, measured), and are read in full only where
        it finds a line: most photos hold no words, and reading them dominated indexing
        (3.7 against 10 photos/s with OCR off, ``bench/cold_start.py``). What the look
        misses is small print in a photo (a sign across a street); ``--set ocr=full``
        reads every image in full. At 960 px the look flagged half of the textured photos
        without words and cost as much as reading them (``bench/ocr_bench.py look``).
        """
        if too_small(image) or flat(thumbnail(image)):
            return ""
        if not full and not document_like(image) and not self.engine.detects(quick_look(image)):
            return ""
        return self.read(full_resolution(image, source, max_side), max_side)

    def read(self, image: Image.Image, max_side: int | None = None) -> str:
        """The words in ``image``, in reading order ("" when there are none)."""
        picture = fit(image, max_side or self.config.max_side).convert("RGB")
        lines = self.engine.read(np.asarray(picture))
        return reading_text([line for line in lines if _has_word(line)])
