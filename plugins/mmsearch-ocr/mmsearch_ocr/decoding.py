"""Greedy CTC decoding that keeps word breaks and drops unsure words.

RapidOCR's recogniser (PP-OCRv4, trained mostly on Chinese) often gives the
space between two Latin words only a minority of the probability, so plain
greedy decoding glues them: "INVOICE12345", one token that keyword search can
never match to "invoice". Here a column whose winner is the CTC blank becomes a
space when the space is the likeliest character there and gets at least
``space_min`` of the probability. On the benchmark corpus (bench/ocr_bench.py)
this lifts word recall of 11 pt pages from 16% to 100% and of text cards from 83%
to 98%, with precision no lower. Each word's
confidence is the mean probability of its characters; unsure words are dropped
rather than indexed as noise.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

BLANK = 0
"""CTC blank: index 0 of RapidOCR's character list."""


class SpacingDecoder:
    """Turns recogniser output ``(batch, columns, characters)`` into ``(text, confidence)``.

    Callable like RapidOCR's own ``CTCLabelDecode``, which it replaces.
    """

    def __init__(self, characters: Sequence[str], *, space_min: float, word_min: float) -> None:
        self.characters = list(characters)
        self.space = self.characters.index(" ")
        self.space_min = space_min
        self.word_min = word_min

    def __call__(
        self, preds: npt.NDArray[np.float32], return_word_box: bool = False, **_: Any
    ) -> list[tuple[str, float]]:
        """Decode each line of a batch; word boxes are not supported (nor asked for)."""
        if return_word_box:
            raise ValueError("SpacingDecoder does not compute word boxes")
        return [self.decode_line(line) for line in preds]

    def decode_line(self, probs: npt.NDArray[np.float32]) -> tuple[str, float]:
        """The confident words of one line, and their mean character probability."""
        best = probs.argmax(axis=1)
        chosen = probs.max(axis=1)
        runner_up = probs[:, BLANK + 1 :].argmax(axis=1) + BLANK + 1
        weak_space = (
            (best == BLANK) & (runner_up == self.space) & (probs[:, self.space] >= self.space_min)
        )
        best = np.where(weak_space, self.space, best)
        kept = np.ones(len(best), dtype=bool)
        kept[1:] = best[1:] != best[:-1]  # CTC: a repeated label is one character
        kept &= best != BLANK
        words = self._words(best[kept].tolist(), chosen[kept].tolist())
        confident = [(word, score) for word, score in words if score >= self.word_min]
        if not confident:
            return "", 0.0
        text = " ".join(word for word, _ in confident)
        return text, float(np.mean([score for _, score in confident]))

    def _words(self, labels: list[int], probs: list[float]) -> list[tuple[str, float]]:
        """Split decoded labels at spaces into words with their mean probability."""
        words: list[tuple[str, float]] = []
        chars: list[str] = []
        scores: list[float] = []
        for label, prob in [*zip(labels, probs, strict=True), (self.space, 1.0)]:
            if label == self.space:
                if chars:
                    words.append(("".join(chars), sum(scores) / len(scores)))
                chars, scores = [], []
            else:
                chars.append(self.characters[label])
                scores.append(prob)
        return words
