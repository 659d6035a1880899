"""The open-clip encoder: images and text in one contrastive space."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import numpy.typing as npt

from mmsearch import Encoder, Modality
from mmsearch.contracts import ModelSpec
from mmsearch_open_clip.choice import DEFAULT_CHECKPOINT, ModelChoice, parse_choice
from mmsearch_open_clip.hardware import CPU_BATCH_SIZE
from mmsearch_open_clip.weights import unavailable_reason

if TYPE_CHECKING:
    from mmsearch_open_clip.onnx_text import OnnxTextTower
    from mmsearch_open_clip.runtime import LoadedModel


class OpenClipEncoder(Encoder):
    """An open_clip model; the weights load on the first ``encode_batch`` call.

    ``checkpoint`` is ``ARCH:TAG``, ``ARCH:/path@sha256:<digest>`` or ``ARCH:random``
    (see :mod:`mmsearch_open_clip.choice`). Construction reads only the model's
    JSON config, so registering the plugin imports neither torch nor open_clip.
    """

    encoder_id: ClassVar[str] = "open-clip"
    modalities: ClassVar[frozenset[Modality]] = frozenset({"image", "text"})
    priority: ClassVar[int] = 50
    description: ClassVar[str] = "open_clip: photos and text in one space (choose with --model)"
    # 2: large pictures are decoded at twice image_min_side at least, no longer right down
    # to it (mmsearch_images.reduce); their vectors changed, so they are a new space.
    preprocessing_version: ClassVar[str] = "2"
    # CLIP embeddings of a resized or recompressed copy stay above 0.985; different
    # photos, bursts included, rarely pass 0.95.
    near_duplicate_similarity: ClassVar[float | None] = 0.985

    def __init__(self, checkpoint: str = DEFAULT_CHECKPOINT) -> None:
        self.choice: ModelChoice = parse_choice(checkpoint)
        self.checkpoint = self.choice.checkpoint
        self.dim = self.choice.arch.embed_dim
        self.image_min_side: int | None = self.choice.arch.image_size
        """The shortest image side the model looks at: decoders need not produce more."""
        self._batch_size: int | None = None
        self._loaded: LoadedModel | None = None
        self._load_error: str | None = None
        self._lock = threading.Lock()
        self._onnx: OnnxTextTower | None = None
        self._onnx_tried = False
        self._text_checked = False  # whether the first image batch decided on the text tower

    def configure(self, checkpoint: str) -> OpenClipEncoder:
        """The same encoder with other weights (``--model``); loads nothing."""
        if checkpoint in ("", self.checkpoint):
            return self
        return OpenClipEncoder(checkpoint)

    def unavailable_reason(self) -> str | None:
        """Why the weights cannot be had here (not cached, not downloadable), or None."""
        return unavailable_reason(self.choice)

    def models(self) -> list[ModelSpec]:
        """Its model and any pulled or imported ones, for ``mmsearch models``."""
        from mmsearch_open_clip.models import declared_models

        return declared_models(self.choice)

    @property
    def batch_size(self) -> int:
        """Inputs per forward pass: 64 on the CPU, 256 on a CUDA device (``MMSEARCH_DEVICE``).

        Known before the weights load (it imports torch to ask for a GPU, but loads nothing).
        """
        if self._batch_size is not None:
            return self._batch_size
        if self._loaded is not None:
            return self._loaded.batch_size
        from mmsearch.torch_device import batch_size

        return batch_size(CPU_BATCH_SIZE)

    @batch_size.setter
    def batch_size(self, value: int) -> None:
        self._batch_size = value

    @property
    def loaded(self) -> bool:
        """Whether the weights are in memory."""
        return self._loaded is not None

    def model(self) -> LoadedModel:
        """The loaded model, loading it on first use.

        A failed load is remembered: the engine retries a failing batch in halves, and
        each retry must not read (or download) hundreds of megabytes again.
        """
        with self._lock:
            if self._load_error is not None:
                raise RuntimeError(self._load_error)
            if self._loaded is None:
                from mmsearch_open_clip.runtime import LoadedModel

                try:
                    self._loaded = LoadedModel(self.choice)
                except Exception as exc:
                    self._load_error = f"loading {self.choice.label} failed: {exc}"
                    raise
                self._export_text_tower(self._loaded)
            return self._loaded

    def _export_text_tower(self, loaded: LoadedModel) -> None:
        """Leave an ONNX copy of the text tower for later processes (once per model)."""
        from mmsearch_open_clip.onnx_export import export_text_tower

        if loaded.texts is not None:
            export_text_tower(loaded.texts, self.choice, self.dim)

    def _images_model(self) -> LoadedModel:
        """The loaded model for images. On the first image batch on the CPU, when the ONNX
        copy of the text tower loads, texts go to it and the torch text tower is freed:
        an index run then holds one tower's weights in torch, not both (about 250 MB less
        for ViT-B-32, and less at the peak, when the image tower's bf16 copy is made)."""
        loaded = self.model()
        with self._lock:
            if loaded.texts is None or loaded.device.type != "cpu" or self._text_checked:
                return loaded
            self._text_checked = True
            if self._onnx is None:
                from mmsearch_open_clip.onnx_text import OnnxTextTower

                self._onnx_tried = True
                self._onnx = OnnxTextTower.load(self.choice)
            if self._onnx is not None:
                loaded.drop_text_tower()
            return loaded

    def text_tower(self) -> OnnxTextTower | None:
        """The ONNX copy of the text tower, when one was made and the torch model is not in
        memory: a query then embeds its words without importing torch or open_clip."""
        with self._lock:
            if self._loaded is not None and self._loaded.texts is not None:
                return None  # torch is in memory anyway: its own text tower answers
            if not self._onnx_tried:
                self._onnx_tried = True
                from mmsearch_open_clip.onnx_text import OnnxTextTower

                self._onnx = OnnxTextTower.load(self.choice)
            return self._onnx

    def encode_batch(self, modality: Modality, contents: Sequence[Any]) -> npt.NDArray[np.float32]:
        """Embed PIL images or strings into unit rows of ``dim`` floats."""
        if modality not in self.modalities:
            raise ValueError(f"open-clip cannot embed {modality}")
        if modality == "text" and (tower := self.text_tower()) is not None:
            return tower.encode([str(text) for text in contents])
        if modality == "image":
            return self._images_model().encode(modality, contents)
        return self.model().encode(modality, contents)
