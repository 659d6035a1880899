"""A digest of a space's (segment id, vector) pairs, kept by the catalog as it is written.

The digest is a sum, modulo 2**64, of one 64-bit hash per pair, so it does not
depend on order and a write updates it by adding the new pairs' hashes and
subtracting the removed ones': the catalog keeps it in the same transaction as
the vectors (:mod:`mmsearch.store.space_digests`), and a cold open reads one
row instead of every vector. A vector index records the digest of what it holds; one whose
digest differs from the catalog's holds other vectors, however alike its
catalog id, generation and count look (a cache copied from a copy of the
catalog), and is rebuilt.

Not a cryptographic hash: it tells copies apart, it does not resist someone
forging one. This module is pure arithmetic (no SQL), so stores and the plugin
test kit can use it cheaply.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from mmsearch.contracts import FloatArray, IdArray

_U64 = npt.NDArray[np.uint64]
__all__ = ["EMPTY", "format_digest", "vector_digest"]

_ROWS_PER_STEP = 8192
EMPTY = 0
"""The digest of no vectors."""


def _mix(values: _U64) -> _U64:
    """splitmix64's finaliser: every input bit reaches every output bit."""
    values = values ^ (values >> np.uint64(30))
    values = values * np.uint64(0xBF58476D1CE4E5B9)
    values = values ^ (values >> np.uint64(27))
    values = values * np.uint64(0x94D049BB133111EB)
    return values ^ (values >> np.uint64(31))


def _weights(dim: int) -> _U64:
    # Odd, so a change of any one 32-bit word of a vector always changes the row's sum.
    return _mix(np.arange(1, dim + 1, dtype=np.uint64)) | np.uint64(1)


def vector_digest(ids: IdArray, vectors: FloatArray) -> int:
    """The digest of these (id, float32 vector) pairs: a sum of their hashes modulo 2**64."""
    if not len(ids):
        return EMPTY
    rows = np.ascontiguousarray(vectors, dtype=np.float32).reshape(len(ids), -1)
    weights = _weights(rows.shape[1])
    keys = _mix(np.asarray(ids, dtype=np.int64).astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15))
    total = 0
    with np.errstate(over="ignore"):  # wrapping arithmetic is the point
        for start in range(0, len(rows), _ROWS_PER_STEP):
            words = rows[start : start + _ROWS_PER_STEP].view(np.uint32).astype(np.uint64)
            sums = (words * weights).sum(axis=1, dtype=np.uint64)
            hashed = _mix(sums ^ keys[start : start + len(words)])
            total += int(hashed.sum(dtype=np.uint64))
    return total % 2**64


def format_digest(value: int) -> str:
    """The digest as stored: 16 hex digits."""
    return f"{value % 2**64:016x}"
