"""Which device torch encoders run on, and whether half precision keeps their vectors.

``MMSEARCH_DEVICE`` chooses: ``auto`` (the default: the first CUDA GPU when torch sees one,
else the CPU), ``cpu``, ``cuda`` or ``cuda:N``. Asking for CUDA where torch sees none is an
error that names the variable, never a silent CPU run. The choice is made once per process
and said in one log line (logger ``mmsearch.device``; ``mmsearch -v`` shows it), not once
per batch. The default PyPI torch wheel is a CUDA build that also runs where there is no
GPU, so the same install serves both kinds of machine.

On a CUDA device an encoder tries half precision once, when its weights load: the half copy
must keep a cosine of at least ``HALF_MIN_COSINE`` to the fp32 vectors of fixed probe
inputs (:func:`probe_images`, :data:`PROBE_TEXTS`), or the model stays fp32 with one
warning. Inputs go to the device, vectors come back to the CPU as float32.

Every torch encoder (open-clip, and mmsearch-offline's MiniLM and EfficientNet-Lite0) uses
this module, so the rule and its log line are the same for all of them. It is public API for
torch-based plugins, and the one core module that needs torch (and pillow for the probe
images): nothing else in the core imports it, so the core itself still runs without torch.
"""

from __future__ import annotations

import copy
import logging
import os
import re
import threading
from collections.abc import Callable
from typing import TypeVar

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

log = logging.getLogger("mmsearch.device")

ENV = "MMSEARCH_DEVICE"
HALF_MIN_COSINE = 0.999
"""The lowest cosine to fp32, over the probe inputs, at which a half-precision copy is used."""
GPU_BATCH_SIZE = 256
"""Inputs per forward pass on a CUDA device: enough work per call to keep the GPU busy."""
DTYPE_NAMES = {torch.float32: "fp32", torch.float16: "fp16", torch.bfloat16: "bf16"}
PROBE_TEXTS = ("a photo of a cat sleeping on a sofa", "", "invoice 12345!", "word " * 100)
"""Texts the loaded text models are checked on: a caption, nothing, digits, past any limit."""

_SETTING = re.compile(r"auto|cpu|cuda(:\d+)?")
_lock = threading.Lock()
_chosen: dict[str, torch.device] = {}
M = TypeVar("M", bound=torch.nn.Module)


class DeviceError(RuntimeError):
    """``MMSEARCH_DEVICE`` asks for something this machine does not have."""


def device_setting() -> str:
    """``MMSEARCH_DEVICE``, checked; ``auto`` when unset."""
    value = os.environ.get(ENV, "").strip().lower() or "auto"
    if not _SETTING.fullmatch(value):
        raise DeviceError(
            f"{ENV}={value!r} is not one of auto, cpu, cuda, cuda:N (N a GPU number, "
            f"e.g. cuda:0); unset {ENV} to let mmsearch choose"
        )
    return value


def cuda_device_count() -> int:
    """How many CUDA devices torch can use here (0 without a GPU or with a CPU-only torch)."""
    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def resolve_device(setting: str, cuda_count: int) -> str:
    """The torch device name for a checked setting, given how many CUDA devices there are."""
    if setting == "cpu" or (setting == "auto" and cuda_count == 0):
        return "cpu"
    if setting == "auto":
        return "cuda:0"
    index = int(setting.partition(":")[2] or 0)
    if cuda_count == 0:
        raise DeviceError(
            f"{ENV}={setting} asks for a CUDA GPU, but torch sees none here "
            f"(torch.cuda.is_available() is False); set {ENV}=cpu, or unset it to use a GPU "
            "only where there is one"
        )
    if index >= cuda_count:
        raise DeviceError(
            f"{ENV}={setting} asks for GPU {index}, but torch sees {cuda_count} "
            f"(cuda:0 to cuda:{cuda_count - 1}); set {ENV} to one of them"
        )
    return f"cuda:{index}"


def encoder_device() -> torch.device:
    """The device encoders run on, chosen once per process (and per setting) with one log line."""
    setting = device_setting()
    with _lock:
        if setting not in _chosen:
            chosen = torch.device(resolve_device(setting, cuda_device_count()))
            _chosen[setting] = chosen
            _say(setting, chosen)
        return _chosen[setting]


def _say(setting: str, device: torch.device) -> None:
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
        log.info("mmsearch encoders run on %s (%s; %s=%s)", device, name, ENV, setting)
    elif setting == "cpu":
        log.info("mmsearch encoders run on the CPU (%s=cpu)", ENV)
    else:
        log.info("mmsearch encoders run on the CPU: torch sees no CUDA device (%s=auto)", ENV)


def batch_size(cpu: int) -> int:
    """``cpu`` on the CPU, :data:`GPU_BATCH_SIZE` on a CUDA device.

    A bad ``MMSEARCH_DEVICE`` gives ``cpu`` here: the error is raised when the model loads,
    where the engine reports it, not from reading a capability attribute.
    """
    try:
        on_cuda = encoder_device().type == "cuda"
    except DeviceError:
        return cpu
    return max(cpu, GPU_BATCH_SIZE) if on_cuda else cpu


def default_half(device: torch.device) -> torch.dtype:
    """The type to try on ``device``: fp16 on a CUDA device; fp32 (no change) on the CPU."""
    return torch.float16 if device.type == "cuda" else torch.float32


def half_copy(
    what: str,
    module: M,
    dtype: torch.dtype,
    run: Callable[[M], torch.Tensor],
    reference: torch.Tensor,
    min_cosine: float = HALF_MIN_COSINE,
    cast: Callable[[M], M] | None = None,
    logger: logging.Logger = log,
) -> M | None:
    """A copy of ``module`` in ``dtype`` when ``run`` on it keeps ``min_cosine`` to the fp32
    ``reference`` rows; else None, and ``module`` is left as it was. One log line either way.

    ``cast`` makes the copy when only part of the module changes type (default: all of it).
    """
    name = DTYPE_NAMES.get(dtype, str(dtype))
    try:
        candidate = cast(module) if cast is not None else copy.deepcopy(module).to(dtype)
        rows = run(candidate)
    except RuntimeError as exc:  # an operation without a half kernel on this device
        logger.warning("%s stays fp32: it does not run in %s here (%s)", what, name, exc)
        return None
    cosine = float(F.cosine_similarity(rows.float(), reference.float(), dim=-1).min())
    if cosine >= min_cosine:  # False for NaN too (an fp16 overflow)
        logger.info("%s runs in %s (cosine to fp32 %.4f)", what, name, cosine)
        return candidate
    logger.warning(
        "%s stays fp32: %s changed vectors too much (cosine %.4f < %g)",
        what,
        name,
        cosine,
        min_cosine,
    )
    return None


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


__all__ = [
    "DTYPE_NAMES",
    "ENV",
    "GPU_BATCH_SIZE",
    "HALF_MIN_COSINE",
    "PROBE_TEXTS",
    "DeviceError",
    "batch_size",
    "cuda_device_count",
    "default_half",
    "device_setting",
    "encoder_device",
    "half_copy",
    "probe_images",
    "resolve_device",
]
