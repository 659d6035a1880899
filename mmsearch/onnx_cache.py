"""ONNX copies of a model's text tower: exported once, checked against torch, cached on disk.

A cold ``mmsearch query`` embeds one text. With torch that costs importing torch (and the
model library: open_clip, sentence-transformers, transformers) and building the whole
model, seconds and a gigabyte before the first vector; ONNX Runtime (already installed for
OCR) loads a text tower alone in a fraction of that. So a torch encoder that has its model
loaded anyway (an index run) exports its text tower once; a later process embeds texts
with the ONNX copy and imports no torch at all.

The rule, the same for every encoder that uses this module:

- a copy is written only after it matched torch on probe texts (the smallest cosine over
  them at least :data:`MIN_COSINE`); it is built in a temporary folder first, so a killed
  export never leaves a half-written copy under the real name;
- a copy is a folder ``text-<hash>/`` holding the optimized graph (:data:`MODEL_FILE`) and
  its weights as external data (:data:`WEIGHTS_FILE`), which onnxruntime maps from the file
  rather than copying: a query reads only the weights it uses (see :func:`open_session`);
- its folder name is a hash of everything the vectors depend on (the encoder's key), so other
  weights or another library version never read a stale copy;
- a copy that does not load (damaged, from an incompatible onnxruntime) is deleted and the
  encoder falls back to torch, which exports it again: never a failed query;
- ``MMSEARCH_ONNX=off`` turns the copies off (torch for everything), e.g. to compare.

Where: ``$MMSEARCH_HOME/cache/<name>`` when ``MMSEARCH_HOME`` is set, else the user cache
folder (``~/.cache/mmsearch/<name>`` on Linux). Safe to delete at any time. The copies are
per model, not per catalog: every library with the same space shares one.

Public API for encoder plugins, like :mod:`mmsearch.torch_device`; it imports onnxruntime
only in its session functions, and torch never.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
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


MODEL_FILE = "model.onnx"
WEIGHTS_FILE = "weights"
"""A copy is a folder: the optimized graph, and its weights beside it as external data."""


def model_path(name: str, key: str) -> Path:
    """Where the copy for ``key`` (everything its vectors depend on) is kept: the graph file
    inside the copy's own folder (:data:`WEIGHTS_FILE` lies beside it)."""
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:20]
    return cache_folder(name) / f"text-{digest}" / MODEL_FILE


def discard(path: Path) -> None:
    """Delete the copy whose graph is ``path`` (its whole folder); it will be made again."""
    if path.name == MODEL_FILE and path.parent.name.startswith("text-"):
        shutil.rmtree(path.parent, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


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
    """An onnxruntime session on the CPU for the copy ``path``, or None when there is no
    usable copy.

    The graph was saved optimized, so loading runs no graph pass; its weights are external
    data, which onnxruntime maps from the file instead of reading and copying them, and
    prepacking (a second, reordered copy of every weight matrix) is off: the ViT-B-32 text
    tower then opens in 0.02 s at 59 MB instead of 0.5 s at 636 MB as one ``.ort`` file
    (measured, onnxruntime 1.32), and a query touches only the token-embedding rows of its
    own words. A copy that exists but does not load is deleted (it will be made again).
    """
    if not enabled() or not path.is_file():
        return None
    try:
        return _open_copy(path)
    except Exception as exc:  # damaged file, incompatible runtime: torch answers instead
        log.warning("The ONNX text model %s does not load (%s); it is made again.", path, exc)
        discard(path)
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


def _save_optimized(onnx_file: Path, copy: Path) -> None:
    """Save ``onnx_file`` optimized as ``copy``, its weights as :data:`WEIGHTS_FILE` beside it."""
    import onnxruntime as ort  # type: ignore[import-untyped]

    options = _options(ort, optimized=False)
    # Extended, not all: the layout passes of "all" are tied to this CPU's instructions.
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    options.optimized_model_filepath = str(copy)
    options.add_session_config_entry(
        "session.optimized_model_external_initializers_file_name", WEIGHTS_FILE
    )
    options.add_session_config_entry(
        "session.optimized_model_external_initializers_min_size_in_bytes", "1024"
    )
    ort.InferenceSession(str(onnx_file), options, providers=["CPUExecutionProvider"])


def export_checked(
    path: Path,
    export: Callable[[Path], None],
    check: Callable[[Any], float],
    what: str,
) -> bool:
    """Make the copy ``path`` (from :func:`model_path`) with ``export`` (which writes an ONNX
    file), optimized, and keep it if ``check(session)``, the smallest cosine to torch,
    reaches :data:`MIN_COSINE`. The copy is built in a temporary folder and renamed into
    place, so a killed export never leaves a half-written copy under the real name. Never
    raises: a copy that cannot be made only means torch keeps answering."""
    if not enabled():
        return False
    work: Path | None = None
    try:
        path.parent.parent.mkdir(parents=True, exist_ok=True)
        # mkdtemp: 0700, like the catalog's 0600 files.
        work = Path(tempfile.mkdtemp(dir=path.parent.parent, prefix=f"{path.parent.name}.tmp"))
        graph = work / "exported.onnx"
        export(graph)
        _save_optimized(graph, work / path.name)
        for leftover in work.iterdir():  # the exporter's file (and any data it wrote)
            if leftover.name not in (path.name, WEIGHTS_FILE):
                leftover.unlink()
        session = _open_copy(work / path.name)
        cosine = check(session)
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
        _move_into_place(work, path)
        work = None
        _drop_older_format(path.parent.parent)
        log.info("Saved an ONNX copy of the %s at %s (cosine to torch %.6f).", what, path, cosine)
        return True
    except Exception as exc:  # no onnx package, an op the exporter lacks, a full disk
        log.info(
            "No ONNX copy of the %s (%s: %s); torch embeds texts.", what, type(exc).__name__, exc
        )
        return False
    finally:
        if work is not None:
            shutil.rmtree(work, ignore_errors=True)


def _move_into_place(work: Path, path: Path) -> None:
    """Rename the finished folder ``work`` to the copy's folder. Another process may have
    finished the same copy first (its copy is kept) or left a broken folder (replaced)."""
    if path.parent.exists() and not path.is_file():
        shutil.rmtree(path.parent, ignore_errors=True)
    try:
        os.rename(work, path.parent)
    except OSError:
        if not path.is_file():
            raise
        shutil.rmtree(work, ignore_errors=True)  # the other process's copy stays


def _drop_older_format(folder: Path) -> None:
    """Delete single-file copies (``text-*.ort``, ``text-*.onnx``), the formats before this
    one, which nothing reads any more (up to 250 MB each)."""
    for old in [*folder.glob("text-*.ort"), *folder.glob("text-*.onnx")]:
        if old.is_file():
            old.unlink(missing_ok=True)


def _open_copy(path: Path) -> Any:
    """A session on a saved copy: no graph pass (done when it was saved), weights mapped from
    :data:`WEIGHTS_FILE`, no prepacked second copy of them.

    (The single ``.ort`` file this replaced was read and copied whole: handing onnxruntime
    the bytes with ``use_ort_model_bytes_for_initializers`` crashed onnxruntime 1.32.)
    """
    import onnxruntime as ort

    options = _options(ort, optimized=True)
    options.add_session_config_entry("session.disable_prepacking", "1")
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


__all__ = [
    "ENV",
    "MIN_COSINE",
    "MODEL_FILE",
    "THREADS_ENV",
    "WEIGHTS_FILE",
    "cache_folder",
    "discard",
    "enabled",
    "export_checked",
    "model_path",
    "open_session",
    "smallest_cosine",
]
