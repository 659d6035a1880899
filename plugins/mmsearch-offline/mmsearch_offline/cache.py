"""A file cache for the embedded class names, so each process need not embed 1,000 prompts.

Embedding the prompts takes about 5 s on two cores; the file loads in milliseconds. The
file name carries a hash of the checkpoint, so other weights, prompt or class names never
read a stale file. The folder is ``$MMSEARCH_HOME/cache/offline`` when ``MMSEARCH_HOME`` is
set, else the platform's user cache folder (``~/.cache/mmsearch/offline`` on Linux). It is
safe to delete at any time; a file that does not load or looks wrong is recomputed.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from pathlib import Path

import numpy as np
import numpy.typing as npt
import platformdirs

log = logging.getLogger("mmsearch.offline")

FloatArray = npt.NDArray[np.float32]


def cache_dir() -> Path:
    """The folder the offline encoder caches derived files in."""
    home = os.environ.get("MMSEARCH_HOME")
    base = (
        Path(home).expanduser() / "cache"
        if home
        else Path(platformdirs.user_cache_dir("mmsearch", appauthor=False))
    )
    return base / "offline"


class VectorCache:
    """One ``.npy`` file of unit rows, keyed by a string."""

    def __init__(self, folder: Path, key: str) -> None:
        digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]
        self.path = folder / f"class-vectors-{digest}.npy"

    def load(self, shape: tuple[int, int]) -> FloatArray | None:
        """The cached array when it exists and is sound, else None."""
        try:
            array = np.load(self.path, allow_pickle=False)
        except (OSError, ValueError) as exc:
            if self.path.exists():
                log.warning("Recomputing %s: it could not be read (%s).", self.path, exc)
            return None
        if not _sound(array, shape):
            log.warning("Recomputing %s: its contents are not the expected vectors.", self.path)
            return None
        return np.ascontiguousarray(array, dtype=np.float32)

    def save(self, array: FloatArray) -> None:
        """Write atomically; a cache that cannot be written only costs time next run."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, suffix=".tmp")
            try:
                with os.fdopen(fd, "wb") as handle:
                    np.save(handle, array, allow_pickle=False)
                os.replace(tmp, self.path)
            except BaseException:
                os.unlink(tmp)
                raise
        except OSError as exc:
            log.warning("Could not cache the class vectors at %s (%s).", self.path, exc)


def _sound(array: npt.NDArray[np.generic], shape: tuple[int, int]) -> bool:
    if array.shape != shape or array.dtype != np.float32 or not np.all(np.isfinite(array)):
        return False
    norms = np.linalg.norm(array, axis=1)
    return bool(np.all(np.abs(norms - 1.0) < 1e-3))
