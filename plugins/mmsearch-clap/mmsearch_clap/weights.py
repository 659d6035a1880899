"""Where a CLAP model is: a local folder, or the Hugging Face hub cache. Never a download.

A checkpoint is either a folder saved by ``ClapModel.save_pretrained`` and
``ClapProcessor.save_pretrained`` (``config.json``, the weights, the processor's files), or
a hub repository id (default ``laion/clap-htsat-unfused``) whose files are already in the
hub cache. No CLAP weights ship on PyPI, and an index run never fetches them: when they
are absent, :func:`missing_reason` says how to get them once.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_CHECKPOINT = "laion/clap-htsat-unfused"
DEFAULT_DIM = 512
"""The projection size of the LAION CLAP models, known without reading their config."""
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
PROCESSOR_FILES = ("preprocessor_config.json", "processor_config.json")


@dataclass(frozen=True, slots=True)
class Location:
    """Where one checkpoint's files are, if they are anywhere here."""

    checkpoint: str
    folder: Path | None
    """The folder holding config.json and the weights (a local one, or a hub snapshot)."""

    @property
    def is_local_folder(self) -> bool:
        """Whether the checkpoint names a folder rather than a hub repository."""
        return looks_like_path(self.checkpoint)


def looks_like_path(checkpoint: str) -> bool:
    """Whether ``checkpoint`` names a folder (absolute, relative, or an existing one)."""
    return checkpoint.startswith(("/", ".", "~")) or os.path.isdir(os.path.expanduser(checkpoint))


def locate(checkpoint: str) -> Location:
    """The folder of ``checkpoint``'s files, looked up without any network access."""
    if looks_like_path(checkpoint):
        folder = Path(checkpoint).expanduser()
        return Location(checkpoint, folder if _complete(folder) else None)
    return Location(checkpoint, _cached_snapshot(checkpoint))


def _complete(folder: Path) -> bool:
    return (
        (folder / "config.json").is_file()
        and any((folder / name).is_file() for name in WEIGHT_FILES)
        and any((folder / name).is_file() for name in PROCESSOR_FILES)
    )


def _cached_snapshot(repo: str) -> Path | None:
    """The hub cache's snapshot folder of ``repo`` when its config and weights are there."""
    from huggingface_hub import try_to_load_from_cache

    config = try_to_load_from_cache(repo, "config.json")
    if not isinstance(config, str):
        return None
    folder = Path(config).parent
    return folder if _complete(folder) else None


def projection_dim(location: Location) -> int:
    """The vector size the checkpoint's config names (the LAION size when unknown)."""
    if location.folder is None:
        return DEFAULT_DIM
    try:
        config = json.loads((location.folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return DEFAULT_DIM
    return int(config.get("projection_dim", DEFAULT_DIM))


def missing_reason(location: Location) -> str | None:
    """What is missing and what to do about it; None when the model can load."""
    if location.folder is not None:
        return None
    if location.is_local_folder:
        return (
            f"the CLAP folder {location.checkpoint} lacks config.json, the weights "
            f"({' or '.join(WEIGHT_FILES)}) or the processor's files.\n"
            "Save one with ClapModel.save_pretrained(FOLDER) and "
            "ClapProcessor.save_pretrained(FOLDER), then run "
            "`mmsearch index DIR --space clap=FOLDER`."
        )
    return (
        f"the CLAP weights {location.checkpoint} are not in the Hugging Face cache and no CLAP "
        "weights ship on PyPI; mmsearch never downloads them during a run.\n"
        f"On a machine with a network run `hf download {location.checkpoint}` once (or copy "
        "a saved model folder here and give it: `mmsearch index DIR --space clap=FOLDER`)."
    )
