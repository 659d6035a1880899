"""mmsearch plugin: a deterministic encoder with no weights, for tests and offline smoke runs.

It does not understand meaning. Text becomes a signed feature-hashed bag of
words (so a query finds texts sharing its words); an image becomes a fixed
random projection of its 8x8 thumbnail (so near-identical pictures are
close). Its vectors are the same on every machine and every run, which is
what tests need, and it has the lowest priority, so any real encoder wins.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from functools import cached_property
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from mmsearch import Encoder, Modality, hookimpl

_WORD = re.compile(r"\w+")
_THUMB = 8


def _token_slot(token: str, dim: int) -> tuple[int, float]:
    digest = hashlib.blake2b(token.encode("utf-8"), digest_size=8).digest()
    value = int.from_bytes(digest, "little")
    return value % dim, 1.0 if (value >> 63) & 1 else -1.0


class HashEncoder(Encoder):
    """Feature hashing for text, a random projection of a thumbnail for images."""

    encoder_id: ClassVar[str] = "hash"
    modalities: ClassVar[frozenset[Modality]] = frozenset({"text", "image"})
    dim = 256
    batch_size = 64
    checkpoint = "blake2b-v1"
    priority: ClassVar[int] = -100
    # Its image vector is a projection of the 8x8 thumbnail: copies land together.
    near_duplicate_similarity: ClassVar[float | None] = 0.985

    @cached_property
    def _projection(self) -> npt.NDArray[np.float32]:
        # Built on first use, like real weights would be loaded.
        rng = np.random.default_rng(20261128)
        features = _THUMB * _THUMB * 3 + 1
        return rng.standard_normal((features, self.dim)).astype(np.float32)

    def encode_batch(self, modality: Modality, contents: Sequence[Any]) -> npt.NDArray[np.float32]:
        """Embed texts or PIL images into unit vectors."""
        embed = self._text if modality == "text" else self._image
        rows = np.stack([embed(item) for item in contents]).astype(np.float32)
        norms = np.linalg.norm(rows, axis=1, keepdims=True)
        unit: npt.NDArray[np.float32] = (rows / np.maximum(norms, 1e-12)).astype(np.float32)
        return unit

    def _text(self, text: str) -> npt.NDArray[np.float32]:
        row = np.zeros(self.dim, dtype=np.float32)
        tokens = _WORD.findall(text.lower())
        for token in tokens:
            slot, sign = _token_slot(token, self.dim)
            row[slot] += sign
        if not tokens:
            row[0] = 1.0  # no words at all still gets a valid vector
        return row

    def _image(self, image: Any) -> npt.NDArray[np.float32]:
        thumb = image.convert("RGB").resize((_THUMB, _THUMB))
        pixels = np.asarray(thumb, dtype=np.float32).reshape(-1) / 255.0 - 0.5
        features = np.append(pixels, 1.0)
        return features @ self._projection


@hookimpl
def register_encoders(register: Callable[[Encoder], None]) -> None:
    """Provide the hash encoder."""
    register(HashEncoder())
