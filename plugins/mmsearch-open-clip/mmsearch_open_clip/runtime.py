"""A loaded open_clip model: weights, the reference image transform, both towers.

Everything here imports torch and open_clip, so the encoder imports this module
only when it first embeds something. Weights are read with ``weights_only=True``
(or from safetensors); a file that needs unsafe pickle fails with a message,
never a silent fallback.
"""

from __future__ import annotations

import copy
import logging
import pickle
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import numpy.typing as npt
import open_clip
import torch
import torch.nn.functional as F
from open_clip.transform import PreprocessCfg, image_transform_v2, merge_preprocess_dict
from PIL import Image

from mmsearch_open_clip.choice import ModelChoice
from mmsearch_open_clip.configs import register_own_configs
from mmsearch_open_clip.hardware import cpu_features, thread_count, wants_bf16
from mmsearch_open_clip.text import TextTower
from mmsearch_open_clip.weights import pretrained_config, weights_file

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float32]
RANDOM_SEED = 20240607
"""Seed of ``ARCH:random`` weights: the same on every run, so a test library can be reopened."""
BF16_MIN_COSINE = 0.99


class UnsafeWeightsError(RuntimeError):
    """The weights file can only be read by unpickling arbitrary objects."""


def _create_random(choice: ModelChoice) -> Any:
    # A private RNG state, so loading a model does not disturb the caller's random numbers.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(RANDOM_SEED)
        return open_clip.create_model(
            choice.arch.name, pretrained=None, pretrained_image=False, pretrained_text=False
        )


def _create_from_file(choice: ModelChoice, path: str) -> Any:
    config = pretrained_config(choice) if choice.tag else {}
    try:
        return open_clip.create_model(
            choice.arch.name,
            pretrained=path,
            weights_only=True,
            require_pretrained=True,
            # What open_clip applies for a tag, applied here because we pass the file itself.
            force_preprocess_cfg=merge_preprocess_dict({}, config),
            force_quick_gelu=bool(config.get("quick_gelu", False)),
        )
    except pickle.UnpicklingError as exc:
        raise UnsafeWeightsError(
            f"{path} can only be loaded with unsafe pickle, which mmsearch refuses; convert it "
            "to safetensors (safetensors.torch.save_file(state_dict, 'weights.safetensors')) "
            f"where you trust it, then index with --model {choice.arch.name}:/path/to/it"
        ) from exc


def create_model(choice: ModelChoice) -> Any:
    """The open_clip model in eval mode, weights loaded safely (or seeded random ones).

    Typed ``Any``: open_clip has no type information, and its models' towers
    (``visual``, ``transformer``...) are reached as attributes.
    """
    register_own_configs()
    path = weights_file(choice)
    model = _create_random(choice) if path is None else _create_from_file(choice, path)
    model.eval()
    model.requires_grad_(False)
    return model


def probe_images(size: int, count: int = 4) -> list[Image.Image]:
    """Fixed, photo-like test pictures (smooth gradients, shapes, a little noise)."""
    rng = np.random.default_rng(7)
    ys, xs = np.mgrid[0:size, 0:size] / size
    pictures = []
    for i in range(count):
        base = np.stack([xs * (i + 1) % 1, ys, (xs + ys) / 2], axis=-1)
        disc = ((xs - 0.3 - 0.1 * i) ** 2 + (ys - 0.6) ** 2) < 0.05
        base[disc] = rng.random(3)
        noisy = base + rng.normal(0, 0.03, base.shape)
        pictures.append(Image.fromarray((np.clip(noisy, 0, 1) * 255).astype(np.uint8)))
    return pictures


class ImageTower:
    """The reference transform and the image tower, bf16 where it is fast and faithful.

    Preprocessing (mostly Pillow's antialiased resize, which releases the GIL) runs in
    ``threads`` threads before each forward pass, so it does not leave cores idle.
    """

    def __init__(self, model: Any, threads: int = 1) -> None:
        self.model = model
        self.preprocess: Callable[[Image.Image], torch.Tensor] = image_transform_v2(
            PreprocessCfg(**model.visual.preprocess_cfg), is_train=False
        )
        self._pool = ThreadPoolExecutor(max(1, threads), thread_name_prefix="open-clip-prep")
        self.dtype = torch.float32
        if wants_bf16():
            self.dtype = self._try_bf16()

    def tensors(self, images: Sequence[Image.Image]) -> torch.Tensor:
        """The batch exactly as open_clip's reference transform makes it."""
        if len(images) == 1:
            return self.preprocess(images[0]).unsqueeze(0)
        return torch.stack(list(self._pool.map(self.preprocess, images)))

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        """Unit vectors for a preprocessed batch."""
        with torch.inference_mode():
            out = self.model.encode_image(batch.to(self.dtype))
            return F.normalize(out.float(), dim=-1)

    def encode(self, images: Sequence[Image.Image]) -> FloatArray:
        """Unit vectors for PIL images."""
        return self.forward(self.tensors(images)).numpy().astype(np.float32)

    def _try_bf16(self) -> torch.dtype:
        size = int(min(np.atleast_1d(self.model.visual.preprocess_cfg["size"])))
        batch = self.tensors(probe_images(size))
        reference = self.forward(batch)
        fp32_visual = self.model.visual
        self.model.visual = copy.deepcopy(fp32_visual).to(torch.bfloat16)
        self.dtype = torch.bfloat16
        cosine = float((self.forward(batch) * reference).sum(dim=-1).min())
        if cosine >= BF16_MIN_COSINE:
            log.info("open_clip image tower runs in bf16 (cosine to fp32 %.4f)", cosine)
            return torch.bfloat16
        log.warning(
            "open_clip image tower stays fp32: bf16 changed vectors too much (cosine %.4f < %g)",
            cosine,
            BF16_MIN_COSINE,
        )
        self.model.visual = fp32_visual
        return torch.float32


class LoadedModel:
    """Both towers of one model, ready to embed."""

    def __init__(self, choice: ModelChoice) -> None:
        threads = thread_count(cpu_features())
        torch.set_num_threads(threads)
        self.choice = choice
        self.model = create_model(choice)
        self.images = ImageTower(self.model, threads)
        self.texts = TextTower(self.model, open_clip.get_tokenizer(choice.arch.name))

    def encode(self, modality: str, contents: Sequence[Any]) -> FloatArray:
        """Embed images or texts into unit rows."""
        if modality == "image":
            return self.images.encode([_rgb(image) for image in contents])
        return self.texts.encode([str(text) for text in contents])


def _rgb(image: Any) -> Image.Image:
    if not isinstance(image, Image.Image):
        raise TypeError(f"expected a PIL image, got {type(image).__name__}")
    return image if image.mode == "RGB" else image.convert("RGB")
