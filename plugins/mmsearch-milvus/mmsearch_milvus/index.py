"""One space's vectors in a Milvus collection: kept in step with the catalog, repaired on open.

Writes go to Milvus in the batches the catalog commits (the engine's single writer calls
``add`` and ``remove`` right after each commit). If the two part (a crash, a server that
went away mid-run), the collection's recorded generation, its row count or the digest of
its (id, vector) pairs no longer matches the catalog's, and the next ``sync`` repairs it:
one pass over the collection and the catalog, writing only the rows that differ.
"""

from __future__ import annotations

import logging
import time
from typing import ClassVar

import numpy as np

from mmsearch.contracts import (
    CatalogVectors,
    FloatArray,
    IdArray,
    IndexHealth,
    IndexTarget,
    SegmentFilter,
    VectorIndex,
)
from mmsearch.store.digest import format_digest, vector_digest
from mmsearch_milvus.collection import Collection, Meta, index_kind, nlist_for, outgrown
from mmsearch_milvus.connection import Connection, MilvusUnavailableError, describe
from mmsearch_milvus.expressions import filter_expression, ids_expression
from mmsearch_milvus.settings import MilvusSettings, collection_name

log = logging.getLogger("mmsearch")
_EMPTY_IDS = np.empty(0, dtype=np.int64)


class MilvusIndex(VectorIndex):
    """A space's collection in Milvus (Lite file, server or cluster)."""

    recall: ClassVar[float] = 0.95
    filters_natively: ClassVar[bool] = True

    def __init__(self, target: IndexTarget, settings: MilvusSettings) -> None:
        self.target = target
        self.settings = settings
        self.connection = Connection(settings)
        self.collection = Collection(
            self.connection, collection_name(target.catalog_id, target.space_id), target.dim
        )
        self.generation = -1
        self._kind = ""
        self._digest: int | None = None
        """The digest of the (id, vector) pairs the collection holds, followed through every
        write; None when unknown."""
        self._build_seconds: float | None = None
        self._nlist: int | None = None
        """The IVF index's list count as recorded (None: FLAT, or not known)."""

    # -- contents ------------------------------------------------------------

    @property
    def ntotal(self) -> int:
        """Rows in the collection (asked of Milvus: it is the truth about itself)."""
        return self.collection.count()

    def add(self, ids: IdArray, vectors: FloatArray) -> None:
        """Write vectors (with the segments' fields from the catalog) keyed by segment id."""
        if not len(ids):
            return
        rows = np.ascontiguousarray(vectors, dtype=np.float32)
        held = self._digest_of_held(ids)
        self.collection.write(np.asarray(ids, dtype=np.int64), rows, self.target.fields)
        self._follow(vector_digest(ids, rows) - held)

    def remove(self, ids: IdArray) -> None:
        """Delete vectors by segment id; ids it does not hold are ignored."""
        if not len(ids):
            return
        wanted = np.asarray(ids, dtype=np.int64)
        held = self._digest_of_held(wanted)
        self.collection.delete(wanted)
        self._follow(-held)

    def _digest_of_held(self, ids: IdArray) -> int:
        """The digest of the rows among ``ids`` the collection holds (0 when not followed)."""
        if self._digest is None:
            return 0
        return vector_digest(*self.collection.vectors_of(np.asarray(ids, dtype=np.int64)))

    def _follow(self, delta: int) -> None:
        if self._digest is not None:
            self._digest = (self._digest + delta) % 2**64

    def ids(self) -> set[int]:
        """Every segment id in the collection."""
        found: set[int] = set()
        for ids, _ in self.collection.scan(with_vectors=False):
            found.update(ids.tolist())
        return found

    # -- search ----------------------------------------------------------------

    def search(
        self, query: FloatArray, k: int, allowed: IdArray | None = None
    ) -> tuple[IdArray, FloatArray]:
        """The ``k`` nearest segment ids by inner product, best first.

        A short allow-list is scored exactly from its stored vectors (an approximate index
        could miss the best of a few ids); a long one goes to Milvus as an expression.
        """
        if k <= 0 or (allowed is not None and not len(allowed)):
            return _EMPTY_IDS, np.empty(0, dtype=np.float32)
        if allowed is not None and len(allowed) <= self.settings.exact_filter_max:
            return self._exact_among(query, k, np.asarray(allowed, dtype=np.int64))
        expression = "" if allowed is None else ids_expression(allowed.tolist())
        return self.collection.search(query, k, expression, self._index_kind())

    def search_where(
        self, query: FloatArray, k: int, where: SegmentFilter
    ) -> tuple[IdArray, FloatArray]:
        """The ``k`` nearest among the segments whose type and date pass ``where``, in Milvus."""
        if k <= 0:
            return _EMPTY_IDS, np.empty(0, dtype=np.float32)
        return self.collection.search(query, k, filter_expression(where), self._index_kind())

    def _exact_among(
        self, query: FloatArray, k: int, allowed: IdArray
    ) -> tuple[IdArray, FloatArray]:
        ids, rows = self.collection.vectors_of(allowed)
        scores = rows @ np.asarray(query, dtype=np.float32).reshape(-1)
        order = np.lexsort((ids, -scores))[:k]  # best first, ties by id: deterministic
        return ids[order], scores[order].astype(np.float32)

    def _index_kind(self) -> str:
        if not self._kind:
            self._kind = self.collection.kind()
        return self._kind

    # -- keeping in step with the catalog ----------------------------------------

    def sync(self, vectors: CatalogVectors) -> bool:
        """Use the collection if it matches the catalog, else repair it. True if it changed."""
        if not self.collection.exists():
            self._create_and_fill(vectors)
            return True
        self.collection.load()  # a restarted server holds its collections released
        meta = self.collection.meta()
        self._nlist = meta.nlist  # the index stays as built through a repair
        count = self.collection.count()
        why = self._mismatch(meta, count, vectors)
        if why is None:
            self.generation = meta.generation
            self._digest = None if meta.digest is None else int(meta.digest, 16)
            self._build_seconds = meta.build_seconds
            return False
        self._repair(vectors, why)
        return True

    def _mismatch(self, meta: Meta, count: int, vectors: CatalogVectors) -> str | None:
        """Why the collection does not reflect the catalog, or None when it does."""
        if meta.catalog_id != self.target.catalog_id:
            return "it was not recorded for this catalog"
        if meta.generation != vectors.generation or count != vectors.count:
            return (
                f"it holds {count} vectors at generation {meta.generation}, the catalog "
                f"{vectors.count} at generation {vectors.generation} (a run that stopped "
                "between the two)"
            )
        if vectors.digest is not None and meta.digest != vectors.digest:
            return "it holds other vectors than the catalog (their digests differ)"
        return None

    def _create_and_fill(self, vectors: CatalogVectors) -> None:
        started = time.perf_counter()
        kind = index_kind(vectors.count, self.settings.ann_min)
        self.collection.create(kind, vectors.count)
        self._kind = ""
        self._nlist = nlist_for(vectors.count) if kind == "IVF_FLAT" else None
        digest = 0
        for ids, rows in vectors.batches():
            self.collection.write(ids, np.ascontiguousarray(rows, dtype=np.float32),
                                  self.target.fields)  # fmt: skip
            digest += vector_digest(ids, rows)
        self._digest = digest % 2**64
        self.generation = vectors.generation
        self._build_seconds = time.perf_counter() - started

    def _repair(self, vectors: CatalogVectors, why: str) -> None:
        """Write what the catalog has and the collection lacks (or holds otherwise); drop the
        rest. One pass over each: a repair after a crash costs what differs, plus a read."""
        started = time.perf_counter()
        held: dict[int, FloatArray] = {}
        for ids, rows in self.collection.scan(with_vectors=True):
            assert rows is not None
            held.update(zip(ids.tolist(), rows, strict=True))
        written = 0
        digest = 0
        for ids, rows in vectors.batches():
            rows = np.ascontiguousarray(rows, dtype=np.float32)
            differs = np.array(
                [not _same(held.pop(i, None), row) for i, row in zip(ids.tolist(), rows,
                                                                       strict=True)],
                dtype=bool,
            )  # fmt: skip
            if differs.any():
                self.collection.write(ids[differs], rows[differs], self.target.fields)
                written += int(differs.sum())
            digest += vector_digest(ids, rows)
        extra = np.fromiter(held, dtype=np.int64, count=len(held))
        self.collection.delete(extra)
        self.collection.load()
        self._digest = digest % 2**64
        self.generation = vectors.generation
        self._build_seconds = time.perf_counter() - started
        log.warning(
            "Repaired the Milvus collection %s of space %d from the catalog: %s; %d vectors "
            "written, %d removed.",
            self.collection.name,
            self.target.space_id,
            why,
            written,
            len(extra),
        )

    def rebuild(self, vectors: CatalogVectors) -> None:
        """Drop the collection and fill a new one with exactly the catalog's vectors."""
        self.collection.drop()
        self._create_and_fill(vectors)

    def optimize(self, vectors: CatalogVectors) -> None:
        """Switch the vector index between FLAT and IVF_FLAT when the size crossed ``ann_min``
        (and an HNSW index of an older version to IVF_FLAT); rebuild an IVF index whose
        collection quadrupled since it was built."""
        wanted = index_kind(vectors.count, self.settings.ann_min)
        if self._index_kind() == wanted and not (
            wanted == "IVF_FLAT" and outgrown(self._nlist, vectors.count)
        ):
            return
        log.warning(
            "Building a %s index for the Milvus collection of space %d (%d vectors).",
            wanted,
            self.target.space_id,
            vectors.count,
        )
        started = time.perf_counter()
        self.collection.reindex(wanted, vectors.count)
        self._kind = wanted
        self._nlist = nlist_for(vectors.count) if wanted == "IVF_FLAT" else None
        self._build_seconds = time.perf_counter() - started
        self.persist(vectors.generation)

    def persist(self, generation: int) -> None:
        """Flush the rows, then record the generation and digest they reflect."""
        digest = None if self._digest is None else format_digest(self._digest)
        meta = Meta(self.target.catalog_id, generation, digest, self._build_seconds, self._nlist)
        self.collection.set_meta(meta)
        self.generation = generation

    def health(self, generation: int, count: int) -> IndexHealth:
        """The collection's state against the catalog's; ``unreachable`` if Milvus is not."""
        where = f"{self.settings.uri} ({self.collection.name})"
        try:
            if not self.collection.exists():
                state = "missing" if count else "ok"
                detail = "filled from the catalog on the next query or index run" if count else None
                return IndexHealth(state, detail, "milvus", where, 0)  # type: ignore[arg-type]
            meta = self.collection.meta()
            self.collection.load()  # counting needs it loaded (a restarted server releases)
            held = self.collection.count()
            kind = self.collection.kind()
        except MilvusUnavailableError as exc:
            return IndexHealth("unreachable", str(exc), "milvus", where)
        found = IndexHealth(
            "ok", None, f"milvus {kind}" + (" (exact)" if kind == "FLAT" else " (approximate)"),
            where, held, None, meta.build_seconds, None, meta.digest,
        )  # fmt: skip
        if (
            meta.generation != generation
            or held != count
            or meta.catalog_id != self.target.catalog_id
        ):
            found.state = "stale"
            found.detail = (
                f"{describe(self.settings)} holds {held} vectors at generation "
                f"{meta.generation}, the catalog {count} at {generation}; repaired from the "
                "catalog on the next query or index run (or now: mmsearch store rebuild)"
            )
        return found

    def close(self) -> None:
        """Close the connection."""
        self.connection.close()


def _same(held: FloatArray | None, row: FloatArray) -> bool:
    return held is not None and bool(np.array_equal(held, row))
