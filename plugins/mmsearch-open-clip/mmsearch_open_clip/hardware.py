"""What this machine's CPU can do, and the thread and precision settings that follow.

Environment overrides, for machines where the defaults measure badly:

- ``MMSEARCH_TORCH_THREADS``: torch's intra-op threads (default: one per physical core).
  On an idle 2-core machine two threads ran the ViT-B-32 image tower 1.8 times as fast
  as one (35 against 19 images/s), but when other programs kept a core busy, two
  threads fell below one (about 12 against 19): torch's OpenMP threads wait for each other.
  Set it to 1 where indexing shares a small machine with other work;
- ``MMSEARCH_OPEN_CLIP_PRECISION``: ``auto`` (on the CPU, a bf16 image tower on CPUs with
  native bf16 matrix instructions, AMX-BF16 or AVX512-BF16, else fp32; on a CUDA device,
  fp16 for both towers), ``fp32``, ``bf16`` or ``fp16``. On the CPU only the image tower
  changes type; on a CUDA device both towers do (the device itself is ``MMSEARCH_DEVICE``,
  see :mod:`mmsearch.torch_device`).

Native bf16 is what makes it pay: on a 2-core AMD EPYC with AVX512-BF16 (no AMX) the
ViT-B-32 image tower ran about 2.2 times faster in bf16 than in fp32; CPUs without
those instructions emulate bf16, which is not expected to pay (not measured here).
Either way the loaded model checks bf16 against fp32 before using it (see
``runtime.ImageTower``).
"""

from __future__ import annotations

import os
from typing import Any

PRECISIONS = ("auto", "fp32", "bf16", "fp16")
CPU_BATCH_SIZE = 64
"""The engine commits 64 files at a time, and two torch threads keep busier on a batch of 64
than on two of 32 (measured on ViT-B-32). A CUDA device takes ``device.GPU_BATCH_SIZE``."""


def cpu_features() -> dict[str, Any]:
    """torch's view of the CPU (cores, AMX, AVX-512 BF16); empty when torch cannot tell."""
    import torch

    probe = getattr(torch._C._cpu, "_get_cpu_capability", None)
    try:
        found = probe() if probe is not None else {}
    except RuntimeError:
        found = {}
    return found if isinstance(found, dict) else {}


def has_native_bf16(features: dict[str, Any] | None = None) -> bool:
    """True on CPUs with bf16 matrix instructions: AMX-BF16 (Intel Sapphire Rapids and
    later) or AVX512-BF16 (Intel Cooper Lake, AMD Zen 4 and later)."""
    features = cpu_features() if features is None else features
    return bool(features.get("amx_bf16") or features.get("avx512_bf16"))


def thread_count(features: dict[str, Any] | None = None) -> int:
    """Threads for torch: ``MMSEARCH_TORCH_THREADS``, else the physical core count."""
    raw = os.environ.get("MMSEARCH_TORCH_THREADS", "").strip()
    if raw:
        try:
            return max(1, int(raw))
        except ValueError:
            raise ValueError(
                f"MMSEARCH_TORCH_THREADS={raw!r} is not a whole number; set it to e.g. 2"
            ) from None
    features = cpu_features() if features is None else features
    cores = features.get("num_physical_cores") or os.cpu_count() or 1
    return max(1, int(cores))


def precision_setting() -> str:
    """``MMSEARCH_OPEN_CLIP_PRECISION``, checked."""
    value = os.environ.get("MMSEARCH_OPEN_CLIP_PRECISION", "auto").strip().lower() or "auto"
    if value not in PRECISIONS:
        raise ValueError(
            f"MMSEARCH_OPEN_CLIP_PRECISION={value!r} is not one of {', '.join(PRECISIONS)}"
        )
    return value


def half_precision(on_cuda: bool, features: dict[str, Any] | None = None) -> str | None:
    """The half type to try (``"bf16"`` or ``"fp16"``), or None for fp32; whatever is tried
    is still checked against fp32 when the model loads."""
    setting = precision_setting()
    if setting == "fp32":
        return None
    if setting != "auto":
        return setting
    if on_cuda:
        return "fp16"
    return "bf16" if has_native_bf16(features) else None


def wants_bf16(features: dict[str, Any] | None = None) -> bool:
    """Whether to try a bf16 image tower on the CPU."""
    return half_precision(False, features) == "bf16"
