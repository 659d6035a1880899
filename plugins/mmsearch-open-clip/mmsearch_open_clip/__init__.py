"""mmsearch plugin: open_clip models put photos and text into one contrastive space.

The default model is ViT-B-32 trained on LAION-2B (``ViT-B-32:laion2b_s34b_b79k``);
``mmsearch index --model ARCH:TAG`` or ``--model ARCH:/path/to/weights.safetensors``
picks another (see :mod:`mmsearch_open_clip.choice`). Nothing heavy happens at
import or registration: torch, open_clip and the weights load on first use.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from mmsearch import Encoder, hookimpl
from mmsearch_open_clip.choice import DEFAULT_CHECKPOINT, RANDOM, ModelChoice, parse_choice
from mmsearch_open_clip.configs import TINY_ARCH
from mmsearch_open_clip.encoder import OpenClipEncoder

__all__ = [
    "DEFAULT_CHECKPOINT",
    "RANDOM",
    "TINY_ARCH",
    "ModelChoice",
    "OpenClipEncoder",
    "parse_choice",
    "register_encoders",
]

log = logging.getLogger(__name__)


@hookimpl
def register_encoders(register: Callable[[Encoder], None]) -> None:
    """Provide the open-clip encoder with the default model (its weights load later)."""
    register(OpenClipEncoder(DEFAULT_CHECKPOINT))
