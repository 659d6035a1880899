"""The CLAP encoder: sounds and the words that describe them, in one space.

Sound windows (48 kHz mono float32, :data:`mmsearch_clap.sound.SAMPLE_RATE`) are embedded
with ``ClapModel.get_audio_features`` after ``ClapProcessor``'s own feature extraction,
texts with ``get_text_features``: the package's pipeline, unchanged, so the vectors equal
the reference (tests/test_clap.py checks a cosine of at least 0.9999). It embeds only the
sound segments of an index run (``indexes = {"audio"}``); the library's transcripts and
documents stay in its image/text space, and query texts are embedded here too.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from mmsearch import Encoder, Modality
from mmsearch_clap.weights import (
    DEFAULT_CHECKPOINT,
    locate,
    looks_like_path,
    missing_reason,
    projection_dim,
)

HUB_ID = re.compile(r"[\w.-]+/[\w.-]+")
SAMPLE_RATE = 48_000
"""The rate of the waveforms it takes: CLAP's feature extractor's."""


class ClapEncoder(Encoder):
    """LAION CLAP (or any ``ClapModel`` checkpoint) through transformers, loaded lazily."""

    encoder_id: ClassVar[str] = "clap"
    modalities: ClassVar[frozenset[Modality]] = frozenset({"audio", "text"})
    indexes: ClassVar[frozenset[Modality] | None] = frozenset({"audio"})
    description: ClassVar[str] = "CLAP (transformers): sounds found by words; --space clap"
    priority: ClassVar[int] = -100
    """Never a library's main encoder by default: it embeds sounds only."""
    batch_size = 8

    def __init__(self, checkpoint: str = DEFAULT_CHECKPOINT) -> None:
        self.checkpoint = checkpoint
        self._dim: int | None = None
        self._loaded: tuple[Any, Any, Any] | None = None
        self._lock = threading.Lock()

    @property
    def dim(self) -> int:
        """The checkpoint's projection size, read from its config on first use (not at
        registration: finding the hub cache imports huggingface_hub)."""
        if self._dim is None:
            self._dim = projection_dim(locate(self.checkpoint))
        return self._dim

    @dim.setter
    def dim(self, value: int) -> None:
        self._dim = value

    @property
    def loaded(self) -> bool:
        """Whether the model's weights are in memory (the kit's lazy-loading convention)."""
        return self._loaded is not None

    def configure(self, checkpoint: str) -> Encoder:
        """CLAP with other weights: a hub repository id or a saved model folder."""
        if checkpoint in ("", self.checkpoint):
            return self
        if not (looks_like_path(checkpoint) or HUB_ID.fullmatch(checkpoint)):
            raise ValueError(
                f"{checkpoint!r} is neither a saved CLAP model folder nor a Hugging Face "
                f"repository id such as {DEFAULT_CHECKPOINT}"
            )
        return ClapEncoder(checkpoint)

    def unavailable_reason(self) -> str | None:
        """Why the weights cannot load here (not downloaded, an incomplete folder), or None."""
        return missing_reason(locate(self.checkpoint))

    def encode_batch(self, modality: Modality, contents: Sequence[Any]) -> npt.NDArray[np.float32]:
        """Unit vectors of sound windows (48 kHz mono float32) or of texts."""
        import torch

        model, processor, device = self._model()
        with torch.inference_mode():
            if modality == "audio":
                waves = [np.asarray(c, dtype=np.float32) for c in contents]
                inputs = processor(audio=waves, sampling_rate=SAMPLE_RATE, return_tensors="pt")
                out = model.get_audio_features(**_to(inputs, device))
            elif modality == "text":
                inputs = processor(text=list(contents), padding=True, return_tensors="pt")
                out = model.get_text_features(**_to(inputs, device))
            else:
                raise ValueError(f"CLAP embeds sounds and texts, not {modality}")
        rows = getattr(out, "pooler_output", out)  # transformers 5 returns a model output
        return np.ascontiguousarray(rows.float().cpu().numpy(), dtype=np.float32)

    def _model(self) -> tuple[Any, Any, Any]:
        with self._lock:
            if self._loaded is None:
                self._loaded = self._load()
            return self._loaded

    def _load(self) -> tuple[Any, Any, Any]:
        from mmsearch import EncoderUnavailableError

        location = locate(self.checkpoint)
        reason = missing_reason(location)
        if reason is not None or location.folder is None:
            raise EncoderUnavailableError(f"CLAP cannot load: {reason}")
        from transformers import ClapModel, ClapProcessor

        from mmsearch.torch_device import encoder_device

        device = encoder_device()
        folder = str(location.folder)
        model: Any = ClapModel.from_pretrained(folder, local_files_only=True)
        model = model.eval().to(device)
        processor = ClapProcessor.from_pretrained(folder, local_files_only=True)
        return model, processor, device


def _to(inputs: Any, device: Any) -> dict[str, Any]:
    return {k: v.to(device) for k, v in inputs.items()}
