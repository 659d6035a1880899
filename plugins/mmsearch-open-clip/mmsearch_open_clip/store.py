"""Weights fetched by ``mmsearch models pull`` or ``import``: one folder per model.

The folder is ``models_home()/open-clip__ARCH_TAG`` (``model_folder`` of mmsearch.contracts);
it holds the safetensors file open_clip loads and the manifest of its sha256. The plugin
looks here before the Hugging Face cache.
"""

from __future__ import annotations

from pathlib import Path

from mmsearch.contracts import model_folder
from mmsearch_open_clip.choice import ModelChoice

PREFIX = "open-clip/"
WEIGHTS = "open_clip_model.safetensors"


def model_name(choice: ModelChoice) -> str:
    """What ``mmsearch models`` calls these weights: ``open-clip/ARCH:TAG``."""
    return f"{PREFIX}{choice.arch.name}:{choice.tag}"


def stored_folder(choice: ModelChoice) -> Path:
    """Where pull and import put these weights."""
    return model_folder(model_name(choice))


def stored_weights(choice: ModelChoice) -> str | None:
    """The pulled or imported weights file of a pretrained tag, if it is here."""
    if choice.tag is None or choice.random:
        return None
    path = stored_folder(choice) / WEIGHTS
    return str(path) if path.is_file() else None
