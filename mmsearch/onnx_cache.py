"""ONNX copies of a model's text tower: exported once, checked against torch, cached on disk.

A cold ``mmsearch query`` embeds one text. With torch that costs importing torch (and the
model library: open_clip, sentence-transformers, transformers) and building the whole
model, seconds and a gigabyte before the first vector; ONNX Runtime (already installed for
OCR) loads a text tower alone in a fraction of that. So a torch encoder that has its model
loaded anyway (an index run) exports its text tower once; a later process embeds texts
with the ONNX copy and imports no torch at all.

The rule, the same for every encoder that uses this module:

- a copy is written only after it matched torch on probe texts (the smallest cosine over
  them at least :data:`MIN_COSINE`); it goes to a temporary file first, so a killed export
  never leaves a half-written model under the real name;
- its file name is a hash of everything the vectors depend on (the encoder's key), so other
  weights or another library version never read a stale copy;
- a copy that does not load (damaged, from an incompatible onnxruntime) is deleted and the
  encoder falls back to torch, which exports it again: never a failed query;
- ``MMSEARCH_ONNX=off`` turns the copies off (torch for everything), e.g. to compare.

Where: ``$MMSEARCH_HOME/cache/<name>`` when ``MMSEARCH_HOME`` is set, else the user cache
folder (``~/.cache/mmsearch/<name>`` on Linux). Safe to delete at any time. The copies are
per model, not per catalog: every library with the same space shares one.

Public API for encoder plugins, like :mod:`mmsearch.torch_device`; it imports onnxruntime
only in :func:`open_session`, and torch never.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

log = logging.getLogger("mmsearch.onnx")

MIN_COSINE = 0.9999
"""The smallest cosine to torch's vectors, over the probe texts, at which a copy is kept."""
ENV = "MMSEARCH_ONNX"
THREADS_ENV = "MMSEARCH_ONNX_THREADS"
_OFF = frozenset({"off", "0", "false", "no"})


def enabled() -> bool:
    """Whether ONNX copies may be used and written (``MMSEARCH_ONNX``, default on)."""
    return os.environ.get(ENV, "on").strip().lower() not in _OFF


def cache_folder(name: str) -> Path:
    """The folder ONNX copies of encoder ``name`` live in."""
    home = os.environ.get("MMSEARCH_HOME")
    if home:
        return Path(home).expanduser() / "cache" / name
    import platformdirs

    return Path(platformdirs.user_cache_dir("mmsearch", appauthor=False)) / name


def model_path(name: str, key: str) -> Path:
    """Where the copy for ``key`` (everything its vectors depend on) is kept."""
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:20]
    return cache_folder(name) / f"text-{digest}.ort"


def _threads() -> int:
    raw = os.environ.get(THREADS_ENV, "").strip()
    try:
        return max(0, int(raw)) if raw else 0
    except ValueError:
        log.warning("Ignoring %s=%r: give a whole number of threads.", THREADS_ENV, raw)
        return 0


def _options(ort: Any, optimized: bool) -> Any:
    options = ort.SessionOptions()
    options.intra_op_num_threads = _threads()  # 0: onnxruntime's choice (physical cores)
    options.log_severity_level = 3
    if optimized:  # optimized when it was saved: loading skips the graph passes
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    return options


def open_session(path: Path) -> Any | None:
    """An onnxruntime session on the CPU for ``path``, or None when there is no usable copy.

    ``.ort`` files (the cached form) are onnxruntime's own format, saved already optimized:
    the ViT-B-32 text tower loaded in 2.6 s instead of 6.4 s from its ``.onnx`` with the
    default graph passes (measured on a loaded 2-core machine). A file that exists but
    does not load is deleted (it will be exported again).
    """
    if not enabled() or not path.is_file():
        return None
    try:
        import onnxruntime as ort  # type: ignore[import-untyped]

        if path.suffix == ".ort":
            return _open_ort(path)
        options = _options(ort, optimized=False)
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # damaged file, incompatible runtime: torch answers instead
        log.warning("The ONNX text model %s does not load (%s); it is made again.", path, exc)
        path.unlink(missing_ok=True)
        return None


def smallest_cosine(
    reference: npt.NDArray[np.float32], candidate: npt.NDArray[np.float32]
) -> float:
    """The smallest row-wise cosine between two stacks of vectors of the same shape."""
    if reference.shape != candidate.shape or not np.all(np.isfinite(candidate)):
        return -1.0
    dots = np.sum(reference * candidate, axis=1)
    norms = np.linalg.norm(reference, axis=1) * np.linalg.norm(candidate, axis=1)
    return float(np.min(dots / np.maximum(norms, 1e-12)))


def _to_ort_format(onnx_file: Path, ort_file: Path) -> None:
    """Save ``onnx_file`` optimized, in onnxruntime's format, as ``ort_file``."""
    import onnxruntime as ort

    options = _options(ort, optimized=False)
    # Extended, not all: the layout passes of "all" are tied to this CPU's instructions.
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    options.optimized_model_filepath = str(ort_file)
    options.add_session_config_entry("session.save_model_format", "ORT")
    ort.InferenceSession(str(onnx_file), options, providers=["CPUExecutionProvider"])


def _temporary(folder: Path, suffix: str) -> Path:
    fd, name = tempfile.mkstemp(dir=folder, suffix=suffix)  # 0600, like the catalog
    os.close(fd)
    return Path(name)


def export_checked(
    path: Path,
    export: Callable[[Path], None],
    check: Callable[[Any], float],
    what: str,
) -> bool:
    """Write ``path`` (an ``.ort`` file) with ``export`` (an ONNX file, made in a temporary
    file and converted), keep it if ``check(session)``, the smallest cosine to torch,
    reaches :data:`MIN_COSINE`. Never raises: a copy that cannot be made only means torch
    keeps answering."""
    if not enabled():
        return False
    tmp: Path | None = None
    graph: Path | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        graph = _temporary(path.parent, ".onnx.tmp")
        export(graph)
        tmp = _temporary(path.parent, ".tmp.ort")  # onnxruntime knows its format by the name
        _to_ort_format(graph, tmp)
        graph.unlink()
        graph = None
        session = _open_ort(tmp)
        cosine = check(session) if session is not None else -1.0
        del session
        if cosine < MIN_COSINE:
            log.warning(
                "Not using an ONNX copy of the %s: its vectors differ from torch's "
                "(cosine %.6f < %g); torch embeds texts.",
                what,
                cosine,
                MIN_COSINE,
            )
            return False
        os.replace(tmp, path)
        tmp = None
        log.info("Saved an ONNX copy of the %s at %s (cosine to torch %.6f).", what, path, cosine)
        return True
    except Exception as exc:  # no onnx package, an op the exporter lacks, a full disk
        log.info(
            "No ONNX copy of the %s (%s: %s); torch embeds texts.", what, type(exc).__name__, exc
        )
        return False
    finally:
        for leftover in (tmp, graph):
            if leftover is not None:
                leftover.unlink(missing_ok=True)


def _open_ort(path: Path) -> Any:
    """A session on an ``.ort`` file, optimized when it was saved.

    Loaded by path: handing onnxruntime the bytes with ``use_ort_model_bytes_directly`` and
    ``use_ort_model_bytes_for_initializers`` (to keep one copy of the weights) crashed this
    onnxruntime (1.32, a segmentation fault), and by path those settings changed nothing
    (638 MB peak for the ViT-B-32 text tower either way, measured).
    """
    import onnxruntime as ort

    options = _options(ort, optimized=True)
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


__all__ = [
    "ENV",
    "MIN_COSINE",
    "THREADS_ENV",
    "cache_folder",
    "enabled",
    "export_checked",
    "model_path",
    "open_session",
    "smallest_cosine",
]
