"""The loaded models, shared by every offline encoder in the process.

Each ``Library.open`` registers a new encoder object, and a long-running process (a server,
a test session) opens many; the weights and the embedded class names are the same for all
of them, so they load once per process, on first use, under a lock.

Texts go through the ONNX copy of MiniLM when one was made (:mod:`mmsearch_offline.onnx_text`),
so a query imports neither torch nor sentence-transformers; else through sentence-transformers,
which then leaves the copy for the next process. The modules that import torch are imported
only here, in the function that needs them.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from mmsearch_offline.cache import VectorCache, cache_dir

if TYPE_CHECKING:
    from mmsearch_offline.image_model import ImageModel
    from mmsearch_offline.onnx_text import OnnxTextModel
    from mmsearch_offline.text_model import TextModel

FloatArray = npt.NDArray[np.float32]

_lock = threading.Lock()
_text: list[TextModel | OnnxTextModel] = []
_image: list[ImageModel] = []
_class_vectors: dict[str, FloatArray] = {}


def text_model() -> TextModel | OnnxTextModel:
    """all-MiniLM-L6-v2, loaded on the first call: the ONNX copy if there is one."""
    with _lock:
        if not _text:
            _text.append(_load_text())
        return _text[0]


def _load_text() -> TextModel | OnnxTextModel:
    from mmsearch.onnx_cache import enabled
    from mmsearch_offline.onnx_text import OnnxTextModel

    if enabled():
        copy = OnnxTextModel.load()
        if copy is not None:
            return copy
    from mmsearch_offline import threads
    from mmsearch_offline.onnx_export import export_text_model
    from mmsearch_offline.text_model import TextModel

    threads.apply()
    model = TextModel.load()
    export_text_model(model)
    return model


def image_model() -> ImageModel:
    """EfficientNet-Lite0, loaded on the first call."""
    from mmsearch_offline import threads
    from mmsearch_offline.image_model import ImageModel

    with _lock:
        if not _image:
            threads.apply()
            _image.append(ImageModel.load())
        return _image[0]


def class_name_vectors(checkpoint: str, prompt: str, dim: int, glosses: bool = False) -> FloatArray:
    """The embedded class-name prompts for this checkpoint: memory, else file cache, else
    computed (and cached) with the text model."""
    from mmsearch_offline.conse import class_vectors

    text = text_model()
    with _lock:
        if checkpoint not in _class_vectors:
            cache = VectorCache(cache_dir(), checkpoint)
            _class_vectors[checkpoint] = class_vectors(text.encode, prompt, dim, cache, glosses)
        return _class_vectors[checkpoint]
