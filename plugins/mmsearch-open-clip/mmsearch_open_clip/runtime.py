"""A loaded open_clip model: weights, the reference image transform, both towers.

Everything here imports torch and open_clip, so the encoder imports this module
only when it first embeds something. Weights are read with ``weights_only=True``
(or from safetensors); a file that needs unsafe pickle fails with a message,
never a silent fallback. The model runs on the device :mod:`mmsearch.torch_device`
chooses (``MMSEARCH_DEVICE``), in half precision where that keeps the vectors.
"""

from __future__ import annotations

import contextlib
import copy
import ctypes
import logging
import pickle
import threading
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

from mmsearch.torch_device import (
    GPU_BATCH_SIZE,
    HALF_MIN_COSINE,
    encoder_device,
    half_copy,
    probe_images,
)
from mmsearch_open_clip.choice import ModelChoice
from mmsearch_open_clip.configs import register_own_configs
from mmsearch_open_clip.hardware import (
    CPU_BATCH_SIZE,
    cpu_features,
    half_precision,
    thread_count,
)
from mmsearch_open_clip.text import TextTower
from mmsearch_open_clip.weights import pretrained_config, weights_file

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float32]
RANDOM_SEED = 20240607
"""Seed of ``ARCH:random`` weights: the same on every run, so a test library can be reopened."""
BF16_MIN_COSINE = 0.99
_HALF_TYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


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


def half_to_try(device: torch.device) -> torch.dtype:
    """The type ``MMSEARCH_OPEN_CLIP_PRECISION`` asks to try on ``device`` (fp32: none)."""
    name = half_precision(device.type == "cuda")
    return _HALF_TYPES[name] if name else torch.float32


def min_cosine(dtype: torch.dtype) -> float:
    """How close to fp32 a tower in ``dtype`` must stay (bf16 has fewer digits than fp16)."""
    return BF16_MIN_COSINE if dtype == torch.bfloat16 else HALF_MIN_COSINE


def half_clone(module: torch.nn.Module, dtype: torch.dtype) -> torch.nn.Module:
    """A copy of ``module`` whose floating-point weights are ``dtype``, made tensor by
    tensor: ``deepcopy(module).to(dtype)`` first copies every weight in fp32 (350 MB more
    at the peak for ViT-B-32's image tower, measured)."""
    memo: dict[int, Any] = {}
    for tensor in [*module.parameters(), *module.buffers()]:
        if not tensor.is_floating_point():
            continue
        half = tensor.detach().to(dtype)
        if isinstance(tensor, torch.nn.Parameter):
            half = torch.nn.Parameter(half, requires_grad=tensor.requires_grad)
        memo[id(tensor)] = half
    return copy.deepcopy(module, memo)


def release_freed_memory() -> None:
    """Hand memory freed by dropped weights back to the system (glibc keeps it otherwise,
    and the process's resident size would not go down)."""
    with contextlib.suppress(OSError, AttributeError):  # not glibc: nothing to do
        ctypes.CDLL("libc.so.6").malloc_trim(0)


class ImageTower:
    """The reference transform and the image tower, in half precision where it is fast and
    faithful, on ``device`` (where ``model`` already is).

    Preprocessing (mostly Pillow's antialiased resize, which releases the GIL) runs in
    ``threads`` threads before each forward pass, so it does not leave cores idle. ``half``
    is the type to try (fp32: none); None tries what ``MMSEARCH_OPEN_CLIP_PRECISION`` asks
    for on ``device``.
    """

    def __init__(
        self,
        model: Any,
        threads: int = 1,
        device: torch.device | None = None,
        half: torch.dtype | None = None,
    ) -> None:
        self.model = model
        self.device = torch.device("cpu") if device is None else device
        self.preprocess: Callable[[Image.Image], torch.Tensor] = image_transform_v2(
            PreprocessCfg(**model.visual.preprocess_cfg), is_train=False
        )
        self._pool = ThreadPoolExecutor(max(1, threads), thread_name_prefix="open-clip-prep")
        self.dtype = torch.float32
        half = half_to_try(self.device) if half is None else half
        if half != torch.float32:
            self._try_half(half)

    def tensors(self, images: Sequence[Image.Image]) -> torch.Tensor:
        """The batch exactly as open_clip's reference transform makes it."""
        if len(images) == 1:
            return self.preprocess(images[0]).unsqueeze(0)
        return torch.stack(list(self._pool.map(self.preprocess, images)))

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        """Unit vectors, float32 on the CPU, for a preprocessed batch."""
        with torch.inference_mode():
            out = self.model.encode_image(batch.to(self.device, self.dtype))
            return F.normalize(out.float(), dim=-1).cpu()

    def encode(self, images: Sequence[Image.Image]) -> FloatArray:
        """Unit vectors for PIL images."""
        return self.forward(self.tensors(images)).numpy().astype(np.float32)

    def _try_half(self, dtype: torch.dtype) -> None:
        size = int(min(np.atleast_1d(self.model.visual.preprocess_cfg["size"])))
        batch = self.tensors(probe_images(size))
        reference = self.forward(batch)
        fp32_visual = self.model.visual

        def run(visual: Any) -> torch.Tensor:
            self.model.visual, self.dtype = visual, dtype
            return self.forward(batch)

        kept = half_copy(
            "open_clip image tower",
            fp32_visual,
            dtype,
            run,
            reference,
            min_cosine(dtype),
            cast=lambda visual: half_clone(visual, dtype),
            logger=log,
        )
        if kept is None:
            self.model.visual, self.dtype = fp32_visual, torch.float32
        del fp32_visual
        release_freed_memory()


class LoadedModel:
    """Both towers of one model, ready to embed, on ``device`` (default: ``MMSEARCH_DEVICE``).

    On the CPU only the image tower may change type (the text tower's share of the work is
    small there); on a CUDA device both try half precision.
    """

    def __init__(self, choice: ModelChoice, device: torch.device | None = None) -> None:
        threads = thread_count(cpu_features())
        torch.set_num_threads(threads)
        self.choice = choice
        self.device = encoder_device() if device is None else device
        on_cuda = self.device.type == "cuda"
        self.batch_size = GPU_BATCH_SIZE if on_cuda else CPU_BATCH_SIZE
        self.model = create_model(choice).to(self.device)
        self._threads = threads
        self._images: ImageTower | None = None
        self._images_lock = threading.Lock()
        self._texts_lock = threading.Lock()
        tokenizer = open_clip.get_tokenizer(choice.arch.name)
        text_half = half_to_try(self.device) if on_cuda else torch.float32
        self.texts: TextTower | None = TextTower(
            self.model, tokenizer, self.device, text_half, min_cosine(text_half)
        )

    @property
    def images(self) -> ImageTower:
        """The image tower, set up (transform, half-precision check) on first use: a process
        that only embeds texts never runs the image probes."""
        with self._images_lock:
            if self._images is None:
                self._images = ImageTower(self.model, self._threads, self.device)
            return self._images

    def encode(self, modality: str, contents: Sequence[Any]) -> FloatArray:
        """Embed images or texts into unit rows."""
        if modality == "image":
            return self.images.encode([_rgb(image) for image in contents])
        with self._texts_lock:  # not freed under a running batch
            if self.texts is None:
                raise RuntimeError("the torch text tower was freed: texts go to the ONNX copy")
            return self.texts.encode([str(text) for text in contents])

    def drop_text_tower(self) -> None:
        """Free the torch text tower (250 MB of fp32 weights for ViT-B-32) when the ONNX
        copy embeds texts instead; before the image tower is set up, so its half-precision
        copy is made without the text weights still in memory."""
        with self._texts_lock:
            for name in _TEXT_PARTS:
                part = getattr(self.model, name, None)
                if isinstance(part, torch.nn.Module):
                    setattr(self.model, name, torch.nn.Identity())
                elif isinstance(part, torch.nn.Parameter):
                    setattr(self.model, name, None)
            self.texts = None
        release_freed_memory()


_TEXT_PARTS = ("transformer", "token_embedding", "ln_final", "positional_embedding",
               "text_projection")  # fmt: skip
"""The text side of open_clip's ``CLIP`` (the only layout with an ONNX copy)."""


def _rgb(image: Any) -> Image.Image:
    if not isinstance(image, Image.Image):
        raise TypeError(f"expected a PIL image, got {type(image).__name__}")
    return image if image.mode == "RGB" else image.convert("RGB")
