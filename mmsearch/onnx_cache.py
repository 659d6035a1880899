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
    return cache_folder(name) / f"text-{digest}.onnx"


def _threads() -> int:
    raw = os.environ.get(THREADS_ENV, "").strip()
    try:
        return max(0, int(raw)) if raw else 0
    except ValueError:
        log.warning("Ignoring %s=%r: give a whole number of threads.", THREADS_ENV, raw)
        return 0


def open_session(path: Path) -> Any | None:
    """An onnxruntime session on the CPU for ``path``, or None when there is no usable copy.

    A file that exists but does not load is deleted (it will be exported again).
    """
    if not enabled() or not path.is_file():
        return None
    try:
        import onnxruntime as ort  # type: ignore[import-untyped]

        options = ort.SessionOptions()
        options.intra_op_num_threads = _threads()  # 0: onnxruntime's choice (physical cores)
        options.log_severity_level = 3
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


def export_checked(
    path: Path,
    export: Callable[[Path], None],
    check: Callable[[Any], float],
    what: str,
) -> bool:
    """Write ``path`` with ``export`` (to a temporary file), keep it if ``check(session)``,
    the smallest cosine to torch, reaches :data:`MIN_COSINE`. Never raises: a copy that
    cannot be made only means torch keeps answering."""
    if not enabled():
        return False
    tmp: Path | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=path.parent, suffix=".onnx.tmp")
        os.close(fd)
        tmp = Path(name)
        export(tmp)
        session = open_session(tmp)
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
        if tmp is not None:
            tmp.unlink(missing_ok=True)
