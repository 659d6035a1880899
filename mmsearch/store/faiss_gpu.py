"""FAISS on GPUs when there are any: copies for search, k-means for building; else the CPU.

With faiss-cpu, or the faiss-gpu wheel on a machine without a GPU, every helper
here answers "none" and the caller keeps its CPU index; a failure to copy
(an odd driver, too little GPU memory) logs one warning and falls back too.
"""

from __future__ import annotations

import logging
from typing import Any

import faiss

log = logging.getLogger("mmsearch")

_said: set[str] = set()


def gpu_count() -> int:
    """How many GPUs FAISS can use (0 with faiss-cpu, or a GPU build on a machine without one)."""
    get = getattr(faiss, "get_num_gpus", None)
    return int(get()) if get else 0


def _say_once(key: str, message: str, *args: object, level: int = logging.INFO) -> None:
    if key not in _said:
        _said.add(key)
        log.log(level, message, *args)


def copy_to_gpus(index: Any, float16_tables: bool = False) -> Any | None:
    """``index`` copied to every GPU, or None when there is none (said once) or it fails."""
    if gpu_count() == 0:
        if hasattr(faiss, "index_cpu_to_all_gpus"):
            _say_once("none", "FAISS has GPU support but sees no GPU: searching on the CPU.")
        return None
    try:
        options = faiss.GpuMultipleClonerOptions()
        # PQ lookup tables of 64 sub-quantizers only fit the GPU's shared memory in fp16.
        options.useFloat16LookupTables = float16_tables  # type: ignore[attr-defined]
        return faiss.index_cpu_to_all_gpus(index, co=options)
    except Exception as exc:  # an odd driver must not stop search: the CPU index works
        _say_once("copy", "Searching on the CPU: could not copy the index to the GPU (%s).",
                  exc, level=logging.WARNING)  # fmt: skip
        return None


def train_on_gpus(ivf: Any, dim: int) -> bool:
    """Let the coarse k-means of ``ivf`` run on the GPUs, when there are any."""
    if gpu_count() == 0:
        return False
    try:
        ivf.clustering_index = faiss.index_cpu_to_all_gpus(faiss.IndexFlatL2(dim))
    except Exception as exc:  # building on the CPU is slower, never wrong
        _say_once("train", "Training the index on the CPU: the GPU could not be used (%s).",
                  exc, level=logging.WARNING)  # fmt: skip
        return False
    return True
