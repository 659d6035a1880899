"""The text tower: tokens trimmed to their real length where that is exact, and a query cache.

CLIP pads every text to 77 tokens, but its text transformer is causal and pools
the end-of-text token (the largest id, found by argmax): no position up to that
token can see the padding after it, so running only the real tokens gives the
same vector for a fraction of the work. That holds for open_clip's ``CLIP`` class
with a causal mask and argmax pooling; other text towers (bidirectional ones,
Hugging Face towers) run at full length. Even for a ``CLIP`` the claim is checked
numerically on the loaded weights before trimming is used (in fp32, before any change of
type: on a CUDA device the tower then tries half precision, checked against fp32 too).
"""

from __future__ import annotations

import copy
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
import torch.nn.functional as F
from open_clip.model import CLIP
from open_clip.transformer import text_global_pool

from mmsearch.torch_device import HALF_MIN_COSINE, PROBE_TEXTS, half_copy

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float32]
TRIM_TOLERANCE = 1e-5
CACHE_SIZE = 256


def _real_length(tokens: torch.Tensor) -> int:
    """Positions up to the last end-of-text token (the argmax of each row), plus one."""
    return int(tokens.argmax(dim=-1).max().item()) + 1


def trimmed_forward(model: Any, tokens: torch.Tensor) -> torch.Tensor:
    """``CLIP.encode_text`` on ``tokens`` cut to their real length (unnormalised)."""
    return forward_tokens(model, tokens[:, : _real_length(tokens)])


def forward_tokens(model: Any, tokens: torch.Tensor) -> torch.Tensor:
    """``CLIP.encode_text`` at the tokens' own length (unnormalised); the graph the ONNX copy
    is exported from, so it takes the length from the shape, not from the values."""
    length = tokens.shape[1]
    cast = model.transformer.get_cast_dtype()
    x = model.token_embedding(tokens).to(cast)
    x = x + model.positional_embedding[:length].to(cast)
    mask = model.attn_mask[:length, :length]
    x = model.transformer(x, attn_mask=mask)
    x = model.ln_final(x)
    x = text_global_pool(x, tokens, model.text_pool_type)
    projection = model.text_projection
    if isinstance(projection, torch.nn.Linear):
        x = projection(x)
    elif projection is not None:
        x = x @ projection
    out: torch.Tensor = x
    return out


def cast_text_tower(model: Any, dtype: torch.dtype) -> Any:
    """``model`` with every parameter and buffer but the image tower's in ``dtype`` (in place)."""
    visual = model.visual
    model.visual = torch.nn.Identity()  # out of reach of .to() while the rest converts
    try:
        model.to(dtype)
    finally:
        model.visual = visual
    return model


def _text_copy(model: Any, dtype: torch.dtype) -> Any:
    """A copy of ``model`` whose text tower is in ``dtype``; it shares the image tower."""
    return cast_text_tower(copy.deepcopy(model, {id(model.visual): model.visual}), dtype)


def can_trim(model: Any) -> bool:
    """Whether the model's text tower is the causal, argmax-pooled kind trimming is exact for."""
    return (
        isinstance(model, CLIP)
        and getattr(model, "attn_mask", None) is not None
        and getattr(model, "text_pool_type", None) == "argmax"
    )


class TextTower:
    """Embeds texts on ``device`` (where ``model`` already is); trims padding where proven
    exact; tries ``half`` precision (fp32: none), kept only at ``min_cosine`` to fp32;
    remembers recent texts."""

    def __init__(
        self,
        model: Any,
        tokenizer: Callable[..., Any],
        device: torch.device | None = None,
        half: torch.dtype = torch.float32,
        min_cosine: float = HALF_MIN_COSINE,
    ) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.device = torch.device("cpu") if device is None else device
        self._cache: OrderedDict[str, FloatArray] = OrderedDict()
        self._lock = threading.Lock()
        self.trims = can_trim(model) and self._trimming_is_exact()
        self.dtype = torch.float32
        if half != torch.float32:
            self._try_half(half, min_cosine)

    def _tokens(self, texts: Sequence[str]) -> torch.Tensor:
        tokens = self.tokenizer(list(texts))
        assert isinstance(tokens, torch.Tensor)
        return tokens.to(self.device)

    def _full(self, tokens: torch.Tensor, model: Any = None) -> torch.Tensor:
        model = self.model if model is None else model
        with torch.inference_mode():
            out: torch.Tensor = model.encode_text(tokens)
            return F.normalize(out.float(), dim=-1)

    def _trimmed(self, tokens: torch.Tensor, model: Any = None) -> torch.Tensor:
        model = self.model if model is None else model
        assert isinstance(model, CLIP)
        with torch.inference_mode():
            return F.normalize(trimmed_forward(model, tokens).float(), dim=-1)

    def _vectors(self, tokens: torch.Tensor, model: Any = None) -> torch.Tensor:
        """Unit rows, float32 on the CPU, by the path this tower uses."""
        vectors = self._trimmed(tokens, model) if self.trims else self._full(tokens, model)
        return vectors.cpu()

    def _try_half(self, dtype: torch.dtype, min_cosine: float) -> None:
        tokens = self._tokens(PROBE_TEXTS)
        passed = half_copy(
            "open_clip text tower",
            self.model,
            dtype,
            lambda candidate: self._vectors(tokens, candidate),
            self._vectors(tokens),
            min_cosine,
            cast=lambda model: _text_copy(model, dtype),
            logger=log,
        )
        if passed is not None:
            # The copy only proved it: the shared model converts in place, the same way, so
            # both towers stay one model in memory.
            cast_text_tower(self.model, dtype)
            self.dtype = dtype

    def _trimming_is_exact(self) -> bool:
        tokens = self._tokens(PROBE_TEXTS)
        try:
            gap = float((self._full(tokens) - self._trimmed(tokens)).abs().max())
        except (RuntimeError, ValueError, IndexError) as exc:
            log.info("open_clip text trimming is off: the trimmed pass failed (%s)", exc)
            return False
        if gap > TRIM_TOLERANCE:
            log.info("open_clip text trimming is off: it changes vectors by %.2g", gap)
            return False
        return True

    def encode(self, texts: Sequence[str]) -> FloatArray:
        """Unit vectors for ``texts``, one row each."""
        with self._lock:
            missing = [t for t in dict.fromkeys(texts) if t not in self._cache]
            fresh = dict(zip(missing, self._embed(missing), strict=True)) if missing else {}
            rows = [fresh[t] if t in fresh else self._cache[t] for t in texts]
            self._remember(dict(zip(texts, rows, strict=True)))
        return np.stack(rows).astype(np.float32)

    def _embed(self, texts: list[str]) -> FloatArray:
        return self._vectors(self._tokens(texts)).numpy().astype(np.float32)

    def _remember(self, rows: dict[str, FloatArray]) -> None:
        for text, row in rows.items():
            row.setflags(write=False)
            self._cache[text] = row
            self._cache.move_to_end(text)
        while len(self._cache) > CACHE_SIZE:
            self._cache.popitem(last=False)
