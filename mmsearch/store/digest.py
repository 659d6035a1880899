"""A digest of a space's (segment id, vector) pairs, kept by the catalog as it is written.

The digest is a sum, modulo 2**64, of one 64-bit hash per pair, so it does not
depend on order and a write updates it by adding the new pairs' hashes and
subtracting the removed ones': the catalog keeps it in the same transaction as
the vectors (:class:`DigestTracker`), and a cold open reads one row instead of
every vector. A vector index records the digest of what it holds; one whose
digest differs from the catalog's holds other vectors, however alike its
catalog id, generation and count look (a cache copied from a copy of the
catalog), and is rebuilt.

Each stored digest names the space generation it is true at. Every change to a
space's vectors bumps the generation (SQL triggers), so a write made without
the tracker (another program, a forgotten code path) leaves the digest
*unknown*, never wrong; the next index run computes it again
(:func:`refresh_digest`). Not a cryptographic hash: it tells copies apart, it
does not resist someone forging one.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
from sqlalchemy import Connection, text

from mmsearch.contracts import FloatArray, IdArray

if TYPE_CHECKING:
    from mmsearch.store.catalog import Catalog

_U64 = npt.NDArray[np.uint64]
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


def stored_digest(conn: Connection, space_id: int) -> int | None:
    """The space's digest if it is true at the space's current generation, else None."""
    found = conn.execute(
        text(
            "SELECT d.digest FROM space_digests d JOIN spaces s ON s.id = d.space_id "
            "WHERE d.space_id = :space AND d.generation = s.generation"
        ),
        {"space": space_id},
    ).scalar()
    return None if found is None else int(str(found), 16)


def _store(conn: Connection, space_id: int, value: int, generation: int | None = None) -> None:
    """Record ``value`` as true at the space's current generation (or only at ``generation``)."""
    sql = (
        "INSERT OR REPLACE INTO space_digests (space_id, generation, digest) "
        "SELECT id, generation, :digest FROM spaces WHERE id = :space"
    )
    params: dict[str, object] = {"space": space_id, "digest": format_digest(value)}
    if generation is not None:
        sql += " AND generation = :generation"
        params["generation"] = generation
    conn.execute(text(sql), params)


def start_digest(conn: Connection, space_id: int) -> None:
    """A new space holds no vectors: its digest is known from the start."""
    _store(conn, space_id, EMPTY)


class DigestTracker:
    """Keeps the spaces' digests in step with the vectors written in one transaction.

    Call the ``removing_*`` methods before the rows go, :meth:`added` after new
    rows are in, and :meth:`commit` before the transaction commits. A space whose
    digest was unknown when first touched stays unknown.
    """

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._digests: dict[int, int | None] = {}

    def touch(self, space_id: int) -> None:
        """Read the space's digest before this transaction changes its vectors."""
        if space_id not in self._digests:
            self._digests[space_id] = stored_digest(self.conn, space_id)

    def added(self, space_id: int, ids: IdArray, vectors: FloatArray) -> None:
        """New pairs were inserted into ``space_id`` (touched before they were)."""
        if space_id not in self._digests:
            # Read now, the stored digest would look unknown: the insert moved the generation.
            raise RuntimeError(f"space {space_id} was not touched before its vectors were added")
        self._change(space_id, vector_digest(ids, vectors))

    def removing_segments(self, segment_ids: Sequence[int]) -> None:
        """These segments' vectors, in every space, are about to be deleted."""
        self._removing(
            "SELECT space_id, segment_id, data FROM vectors "
            "WHERE segment_id IN (SELECT value FROM json_each(:ids))",
            {"ids": json.dumps(list(segment_ids))},
        )

    def removing_vectors(self, space_id: int, segment_ids: Sequence[int]) -> None:
        """These segments' vectors in ``space_id`` are about to be replaced or deleted."""
        self.touch(space_id)
        self._removing(
            "SELECT space_id, segment_id, data FROM vectors WHERE space_id = :space "
            "AND segment_id IN (SELECT value FROM json_each(:ids))",
            {"space": space_id, "ids": json.dumps(list(segment_ids))},
        )

    def _removing(self, sql: str, params: dict[str, object]) -> None:
        if params["ids"] == "[]":
            return
        grouped: dict[int, tuple[list[int], list[bytes]]] = {}
        for space_id, segment_id, data in self.conn.execute(text(sql), params):
            ids, blobs = grouped.setdefault(int(space_id), ([], []))
            ids.append(int(segment_id))
            blobs.append(bytes(data))
        for space_id, (ids, blobs) in grouped.items():
            self._change(space_id, -vector_digest(*_pairs(ids, blobs)))

    def _change(self, space_id: int, delta: int) -> None:
        self.touch(space_id)
        current = self._digests[space_id]
        if current is not None:
            self._digests[space_id] = (current + delta) % 2**64

    def commit(self) -> None:
        """Record each touched space's new digest at the generation this transaction leaves."""
        for space_id, value in self._digests.items():
            if value is not None:
                _store(self.conn, space_id, value)


def _pairs(ids: list[int], blobs: Iterable[bytes]) -> tuple[IdArray, FloatArray]:
    rows = [np.frombuffer(blob, dtype=np.float32) for blob in blobs]
    return np.asarray(ids, dtype=np.int64), np.stack(rows)


def space_digest(catalog: Catalog, space_id: int) -> str | None:
    """The space's digest as stored (16 hex digits), or None while it is unknown."""
    with catalog.engine.connect() as conn:
        found = stored_digest(conn, space_id)
    return None if found is None else format_digest(found)


def refresh_digest(catalog: Catalog, space_id: int, dim: int) -> str:
    """Compute the space's digest from every vector it holds and record it (one full read)."""
    before = catalog.space_generation(space_id)
    total = EMPTY
    for ids, rows in catalog.vector_batches(space_id, dim):
        total += vector_digest(ids, rows)
    with catalog.engine.begin() as conn:
        # Recorded only if nothing changed the vectors while they were read.
        _store(conn, space_id, total, generation=before)
    return format_digest(total)
