"""The text tower as an ONNX copy, so a query embeds its words without torch or open_clip.

Loading side only (numpy, onnxruntime, :mod:`mmsearch_open_clip.bpe`); the copy is made
by :mod:`mmsearch_open_clip.onnx_export` when the torch model is loaded anyway, and the
rules (checked against torch, cached by key, fallback) are :mod:`mmsearch.onnx_cache`'s.
Only text towers that trim exactly (open_clip's causal ``CLIP`` with argmax pooling, see
:mod:`mmsearch_open_clip.text`) with open_clip's default tokenizer get a copy. The graph
takes one row of tokens cut to its real length, with their positions and the causal mask
(see :mod:`mmsearch_open_clip.onnx_export` for why).
"""

from __future__ import annotations

import importlib.metadata
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from mmsearch.onnx_cache import discard, model_path, open_session
from mmsearch_open_clip import bpe
from mmsearch_open_clip.choice import ModelChoice
from mmsearch_open_clip.configs import config_file

FloatArray = npt.NDArray[np.float32]
FORMAT = "2"
"""Bumped when the exported graph changes (inputs, outputs, what it computes)."""
CACHE_NAME = "open-clip"
INPUTS = ("tokens", "positions", "mask")
_CAUSAL = np.triu(np.full((bpe.CONTEXT_LENGTH, bpe.CONTEXT_LENGTH), -np.inf, np.float32), 1)
CACHE_SIZE = 256


def _open_clip_version() -> str:
    try:
        return importlib.metadata.version("open_clip_torch")
    except importlib.metadata.PackageNotFoundError:
        return "?"


def copy_path(choice: ModelChoice) -> Path | None:
    """Where this model's ONNX text tower is (or would be) kept; None when it cannot have one
    (another tokenizer than open_clip's default, or open_clip's vocabulary missing)."""
    config = config_file(choice.arch.name)
    if config is None or not bpe.supports(bpe.arch_config(config)) or bpe.vocabulary_file() is None:
        return None
    key = f"{FORMAT}|{choice.checkpoint}|open_clip {_open_clip_version()}"
    return model_path(CACHE_NAME, key)


def graph_inputs(row: npt.NDArray[np.int64]) -> dict[str, npt.NDArray[np.generic]]:
    """The graph's inputs for one row of 77 tokens: the row up to its end token (the argmax),
    their positions, and the causal mask at that length."""
    length = int(row.argmax()) + 1
    return {
        "tokens": np.ascontiguousarray(row[None, :length]),
        "positions": np.arange(length, dtype=np.int64),
        "mask": np.ascontiguousarray(_CAUSAL[:length, :length]),
    }


class OnnxTextTower:
    """Embeds texts with the ONNX copy; the same unit vectors as the torch tower (checked to
    a cosine of 0.9999 when the copy was made), and a cache of recent texts."""

    def __init__(self, session: Any, tokenizer: bpe.ClipTokenizer, dim: int) -> None:
        self.session = session
        self.tokenizer = tokenizer
        self.dim = dim
        self._cache: OrderedDict[str, FloatArray] = OrderedDict()
        self._lock = threading.Lock()

    @classmethod
    def load(cls, choice: ModelChoice) -> OnnxTextTower | None:
        """The cached copy for ``choice``, or None when there is none that loads."""
        path = copy_path(choice)
        tokenizer = bpe.tokenizer()
        if path is None or tokenizer is None:
            return None
        session = open_session(path)
        if session is None:
            return None
        outputs = session.get_outputs()
        if not outputs or outputs[0].shape[-1] != choice.arch.embed_dim:
            discard(path)  # not this model's: made again from torch
            return None
        return cls(session, tokenizer, choice.arch.embed_dim)

    def vectors(self, tokens: npt.NDArray[np.int64]) -> FloatArray:
        """Unit rows for ``(n, 77)`` token rows, one graph run per row at its real length."""
        outs = [self.session.run(None, graph_inputs(row))[0] for row in tokens]
        rows = np.concatenate(outs).astype(np.float32) if outs else np.empty((0, self.dim))
        unit: FloatArray = rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)
        return unit

    def encode(self, texts: Sequence[str]) -> FloatArray:
        """Unit vectors for ``texts``, one row each."""
        with self._lock:
            missing = [t for t in dict.fromkeys(texts) if t not in self._cache]
            if missing:
                fresh = self.vectors(self.tokenizer(missing))
                for text, row in zip(missing, fresh, strict=True):
                    row.setflags(write=False)
                    self._cache[text] = row
            rows = [self._cache[t] for t in texts]
            for text in texts:
                self._cache.move_to_end(text)
            while len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)
        return np.stack(rows).astype(np.float32) if rows else np.empty((0, self.dim), np.float32)
