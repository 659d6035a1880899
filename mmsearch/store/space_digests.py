"""Each space's vector digest in the catalog: kept with every write, read on open.

The digest itself is :func:`mmsearch.store.digest.vector_digest`. Each stored
digest names the space generation it is true at. Every change to a space's
vectors bumps the generation (SQL triggers), so a write made without the
tracker (another program, a forgotten code path) leaves the digest *unknown*,
never wrong; the next index run computes it again (:func:`refresh_digest`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import numpy as np
from sqlalchemy import Connection, text

from mmsearch.contracts import FloatArray, IdArray
from mmsearch.store.digest import EMPTY, format_digest, vector_digest

if TYPE_CHECKING:
    from mmsearch.store.catalog import Catalog


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
