"""open_clip model architectures, read from their JSON configs without importing open_clip.

Importing open_clip pulls in torch and torchvision (seconds), and registration,
``configure`` and ``unavailable_reason`` must stay instant. The facts they need
(vector size, input size) are in the same JSON files open_clip reads, so they are
read here directly. This plugin adds one architecture of its own, ``mmsearch-tiny``:
a few-layer model for tests and benchmarks, never for real search.
"""

from __future__ import annotations

import importlib.util
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

OWN_CONFIGS = Path(__file__).parent / "model_configs"
TINY_ARCH = "mmsearch-tiny"


@dataclass(frozen=True, slots=True)
class ArchInfo:
    """What the engine needs to know about an architecture before loading it."""

    name: str
    embed_dim: int
    image_size: int
    """The shortest side the reference transform resizes an image to."""


def _open_clip_configs() -> Path | None:
    spec = importlib.util.find_spec("open_clip")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "model_configs"


@cache
def _config_files() -> dict[str, Path]:
    folders = [f for f in (_open_clip_configs(), OWN_CONFIGS) if f is not None and f.is_dir()]
    return {path.stem: path for folder in folders for path in sorted(folder.glob("*.json"))}


def known_arches() -> list[str]:
    """Every architecture name open_clip and this plugin define."""
    return sorted(_config_files())


def _shortest(size: Any) -> int:
    return min(size) if isinstance(size, list | tuple) else int(size)


def config_file(name: str) -> Path | None:
    """The JSON config that defines the architecture, or None."""
    return _config_files().get(name.replace("/", "-"))


@cache
def arch_info(name: str) -> ArchInfo | None:
    """The architecture's vector size and input size, or None if no config defines it."""
    path = config_file(name)
    if path is None:
        return None
    config = json.loads(path.read_text(encoding="utf-8"))
    vision = config.get("vision_cfg", {})
    return ArchInfo(
        name=path.stem,
        embed_dim=int(config["embed_dim"]),
        image_size=_shortest(vision.get("image_size", 224)),
    )


def register_own_configs() -> None:
    """Make this plugin's architectures known to open_clip (imports it: call when loading)."""
    import open_clip

    if TINY_ARCH not in open_clip.list_models():
        open_clip.add_model_config(OWN_CONFIGS)
