"""A deterministic fake encoder: real vectors, no weights, the same on every machine.

Texts that share words are close (feature hashing), images of similar colours
and layout are close (a fixed projection of a 4x4 thumbnail), and recordings
with similar loudness and pitch are close (a projection of coarse spectrum
bands). It understands nothing, which is what a test of the engine, or of an
extractor, wants: results that depend only on the inputs.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from mmsearch.contracts import Encoder, Modality
from mmsearch.hookspecs import hookimpl

FloatArray = npt.NDArray[np.float32]

_WORD = re.compile(r"\w+")
_THUMB = 4
_BANDS = 16
_SEED = 5150


def _slot(token: str, dim: int) -> tuple[int, float]:
    value = int.from_bytes(hashlib.blake2b(token.encode(), digest_size=8).digest(), "little")
    return value % dim, 1.0 if value >> 63 else -1.0


class FakeEncoder(Encoder):
    """Embeds text, images and audio deterministically, and records every call.

    ``calls`` holds ``(modality, batch length)`` for each ``encode_batch`` call,
    so a test can check batching; ``loaded`` turns True on the first call, the
    kit's convention for showing that weights load lazily.
    """

    encoder_id: ClassVar[str] = "fake"
    modalities: ClassVar[frozenset[Modality]] = frozenset({"text", "image", "audio"})
    checkpoint = "fake-v1"
    priority: ClassVar[int] = -1000
    description: ClassVar[str] = "Deterministic fake encoder from mmsearch.testing (tests only)."

    def __init__(self, dim: int = 64, batch_size: int = 16) -> None:
        self.dim = dim
        self.batch_size = batch_size
        self.calls: list[tuple[Modality, int]] = []
        self._projections: dict[str, FloatArray] | None = None

    @property
    def loaded(self) -> bool:
        """Whether the "weights" (fixed random projections) have been built."""
        return self._projections is not None

    def configure(self, checkpoint: str) -> Encoder:
        """Only ``fake-v1`` exists."""
        if checkpoint in ("", self.checkpoint):
            return self
        raise ValueError(f"the fake encoder has one checkpoint, {self.checkpoint!r}")

    def encode_batch(self, modality: Modality, contents: Sequence[Any]) -> FloatArray:
        """Unit rows, one per input."""
        self.calls.append((modality, len(contents)))
        embed: Callable[[Any], FloatArray] = {
            "text": self._text,
            "image": self._image,
            "audio": self._audio,
        }[modality]
        rows = np.stack([embed(item) for item in contents]).astype(np.float32)
        norms = np.linalg.norm(rows, axis=1, keepdims=True)
        unit: FloatArray = (rows / np.maximum(norms, 1e-12)).astype(np.float32)
        return unit

    def _projection(self, name: str, features: int) -> FloatArray:
        if self._projections is None:
            self._projections = {}
        if name not in self._projections:
            seed = _SEED + sum(name.encode())
            rng = np.random.default_rng(seed)
            matrix = rng.standard_normal((features, self.dim)).astype(np.float32)
            self._projections[name] = matrix
        return self._projections[name]

    def _text(self, text: str) -> FloatArray:
        self._projection("text", 1)  # marks the encoder loaded like the other modalities
        row = np.zeros(self.dim, dtype=np.float32)
        for token in _WORD.findall(text.lower()):
            slot, sign = _slot(token, self.dim)
            row[slot] += sign
        if not row.any():
            row[0] = 1.0  # no words (or words that cancel out) still get a valid vector
        return row

    def _image(self, image: Any) -> FloatArray:
        thumb = image.convert("RGB").resize((_THUMB, _THUMB))
        pixels = np.asarray(thumb, dtype=np.float32).reshape(-1) / 255.0 - 0.5
        features = np.append(pixels, 1.0)
        return features @ self._projection("image", features.size)

    def _audio(self, waveform: Any) -> FloatArray:
        samples = np.asarray(waveform, dtype=np.float32).reshape(-1)
        spectrum = np.abs(np.fft.rfft(samples)) if samples.size else np.zeros(1, np.float32)
        bands = np.array([band.mean() if band.size else 0.0 for band in _split(spectrum)])
        features = np.append(np.log1p(bands), 1.0).astype(np.float32)
        return features @ self._projection("audio", features.size)


def _split(values: FloatArray) -> list[FloatArray]:
    return list(np.array_split(values, _BANDS))


@hookimpl
def register_encoders(register: Callable[[Encoder], None]) -> None:
    """Provide the fake encoder (``MMSEARCH_PLUGIN_MODULES=mmsearch.testing.fakes``)."""
    register(FakeEncoder())
