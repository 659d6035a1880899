"""A low-rank residual map of query embeddings: ``q -> unit(q + U (V^T q))``.

It changes only how a query is embedded, never the library's stored vectors, so a
tuned library needs no re-embedding, and turning the adapter off is exact. Low rank
(a few directions) because a user has tens or hundreds of labels, not thousands:
the map can only move queries along directions the labels support, and starts as
the identity (U = 0).
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class NamedAdapter:
    """A space's active adapter and its name (said in ``--explain-plan`` and ``why``)."""

    name: str
    adapter: QueryAdapter


@dataclass(frozen=True, slots=True)
class QueryAdapter:
    """``u`` and ``v`` are ``dim x rank``; the map is ``q + u @ (v.T @ q)``, then unit length."""

    u: FloatArray
    v: FloatArray

    @property
    def dim(self) -> int:
        """The dimension of the space it maps."""
        return int(self.u.shape[0])

    @property
    def rank(self) -> int:
        """How many directions it can move a query along."""
        return int(self.u.shape[1])

    def apply(self, queries: FloatArray) -> FloatArray:
        """Map one query vector (``dim``) or a batch (``n x dim``); rows come back unit length."""
        q = np.asarray(queries, dtype=np.float32)
        mapped = q + (q @ self.v) @ self.u.T
        norms = np.linalg.norm(mapped, axis=-1, keepdims=True)
        out: FloatArray = (mapped / np.maximum(norms, 1e-12)).astype(np.float32)
        return out

    def to_bytes(self) -> bytes:
        """The stored form (an ``.npz`` of ``u`` and ``v``; no pickles)."""
        buffer = io.BytesIO()
        np.savez(buffer, u=self.u, v=self.v)
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> QueryAdapter:
        """The stored form read back."""
        with np.load(io.BytesIO(data), allow_pickle=False) as found:
            return cls(found["u"].astype(np.float32), found["v"].astype(np.float32))
