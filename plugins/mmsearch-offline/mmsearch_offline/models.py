"""The loaded models, shared by every offline encoder in the process.

Each ``Library.open`` registers a new encoder object, and a long-running process (a server,
a test session) opens many; the weights and the embedded class names are the same for all
of them, so they load once per process, on first use, under a lock.
"""

from __future__ import annotations

import threading

import numpy as np
import numpy.typing as npt

from mmsearch_offline import threads
from mmsearch_offline.cache import VectorCache, cache_dir
from mmsearch_offline.conse import class_vectors
from mmsearch_offline.image_model import ImageModel
from mmsearch_offline.text_model import TextModel

FloatArray = npt.NDArray[np.float32]

_lock = threading.Lock()
_text: list[TextModel] = []
_image: list[ImageModel] = []
_class_vectors: dict[str, FloatArray] = {}


def text_model() -> TextModel:
    """all-MiniLM-L6-v2, loaded on the first call."""
    with _lock:
        if not _text:
            threads.apply()
            _text.append(TextModel.load())
        return _text[0]


def image_model() -> ImageModel:
    """EfficientNet-Lite0, loaded on the first call."""
    with _lock:
        if not _image:
            threads.apply()
            _image.append(ImageModel.load())
        return _image[0]


def class_name_vectors(checkpoint: str, prompt: str, dim: int) -> FloatArray:
    """The embedded class-name prompts for this checkpoint: memory, else file cache, else
    computed (and cached) with the text model."""
    text = text_model()
    with _lock:
        if checkpoint not in _class_vectors:
            cache = VectorCache(cache_dir(), checkpoint)
            _class_vectors[checkpoint] = class_vectors(text.encode, prompt, dim, cache)
        return _class_vectors[checkpoint]
