"""How many threads torch may use for the offline models.

While the encoder runs, the engine decodes the next files in other threads, so taking
every core for inference makes the two fight: on the 2-core machine we measured, one torch
thread encoded images faster than two, and a one-query text encode went from about 12 ms
to 500 ms with two threads while the other core was busy (docs/models-offline.md). Half the
usable cores, at least one, leaves room for decoding. ``MMSEARCH_TORCH_THREADS`` overrides
it, and a user who set ``OMP_NUM_THREADS`` has chosen already, so we leave torch alone then.
"""

from __future__ import annotations

import logging
import os

import torch

log = logging.getLogger("mmsearch.offline")

ENV = "MMSEARCH_TORCH_THREADS"

_applied: list[bool] = []


def usable_cores() -> int:
    """CPU cores this process may run on (respects affinity and cgroup-pinned sets)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def chosen_threads() -> int | None:
    """The intra-op thread count to set, or None to leave torch's own choice."""
    raw = os.environ.get(ENV, "").strip()
    if raw:
        try:
            value = int(raw)
        except ValueError:
            value = 0
        if value >= 1:
            return value
        log.warning("Ignoring %s=%r: give a whole number of threads, 1 or more.", ENV, raw)
    if os.environ.get("OMP_NUM_THREADS"):
        return None
    return max(1, usable_cores() // 2)


def apply() -> None:
    """Set torch's thread count, once per process, before the first model runs; a later
    change by the host application is left alone."""
    if _applied:
        return
    _applied.append(True)
    threads = chosen_threads()
    if threads is not None and torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
        log.debug("torch uses %d thread(s) for the offline models", threads)
