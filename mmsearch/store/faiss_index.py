"""The built-in vector store: per-space FAISS indexes, rebuildable caches of the catalog.

Small spaces keep an exact index (``IndexIDMap2`` over ``IndexFlatIP``) keyed
by segment ids, never positions. Past ``exact_max`` vectors, :meth:`optimize`
(run after an index run) builds an approximate one (:mod:`mmsearch.store.faiss_ann`)
and swaps it in atomically; until it is complete the exact one answers. Each
index lives in one file (:mod:`mmsearch.store.faiss_file`) tied to the catalog
and the generation it reflects; a file that is missing, stale, damaged or from
another catalog or space is rebuilt from the catalog with one warning, never
served silently empty.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from mmsearch.contracts import (
    CatalogVectors,
    FloatArray,
    IdArray,
    IndexHealth,
    IndexTarget,
    VectorIndex,
    VectorStore,
)
from mmsearch.faults import fault_point
from mmsearch.store.digest import EMPTY, format_digest, vector_digest
from mmsearch.store.faiss_ann import AnnParams, ApproximateIndex
from mmsearch.store.faiss_file import (
    IndexFileError,
    IndexFileHeader,
    check_header,
    read_header,
    read_index_file,
    write_index_file,
)
from mmsearch.store.faiss_gpu import copy_to_gpus

log = logging.getLogger("mmsearch")

EXACT_MAX = 50_000
"""Spaces up to this many vectors stay exact: past it a flat scan costs over 10 ms a query
on 2 cores and grows linearly (17 ms at 100,000), while the approximate index answers in
~0.4 ms at recall@10 0.999 after a ~8-11 s build (bench/README.md, "Approximate search")."""


def _new_flat(dim: int) -> Any:
    return faiss.IndexIDMap2(faiss.IndexFlatIP(dim))


@contextmanager
def search_threads() -> Iterator[None]:
    """Run one query's search with ``MMSEARCH_SEARCH_THREADS`` OpenMP threads (default 1).

    One query is memory-bound: on small machines a second thread only adds a
    scheduling wait (measured on 2 cores at 100,000 x 512: p50 7.4 ms with one
    thread, 14.6 ms with two; see bench/README.md).
    """
    wanted = int(os.environ.get("MMSEARCH_SEARCH_THREADS", "1") or 1)
    before = faiss.omp_get_max_threads()
    if wanted == before:
        yield
        return
    faiss.omp_set_num_threads(wanted)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)


class FaissIndex(VectorIndex):
    """One space's FAISS index, in memory, with its file cache."""

    recall = 0.95

    def __init__(self, target: IndexTarget, exact_max: int = EXACT_MAX) -> None:
        self.target = target
        self.path = target.folder / f"space-{target.space_id}.faiss"
        self.dim = target.dim
        self.exact_max = exact_max
        self.flat: Any = _new_flat(self.dim)
        self.ann: ApproximateIndex | None = None
        self.generation = -1
        self.saved_generation: int | None = None
        """The generation of the file on disk as far as this object knows (loaded or saved)."""
        self.build_seconds: float | None = None
        self.digest: int | None = EMPTY
        """The digest of the (id, vector) pairs it holds, kept through every change; None
        when unknown (loaded from a file written before digests)."""
        self._gpu: Any = None

    # -- contents ------------------------------------------------------------

    @property
    def ntotal(self) -> int:
        """Number of vectors in the index."""
        return self.ann.ntotal if self.ann is not None else int(self.flat.ntotal)

    @property
    def kind(self) -> str:
        """``flat`` or the approximate index's kind."""
        return self.ann.kind if self.ann is not None else "flat"

    def add(self, ids: IdArray, vectors: FloatArray) -> None:
        """Add vectors keyed by segment id."""
        if not len(ids):
            return
        rows = np.ascontiguousarray(vectors, dtype=np.float32)
        if self.ann is not None:
            self.ann.add(ids, rows)
        else:
            self.flat.add_with_ids(rows, ids)
        self._count(vector_digest(ids, rows))
        self._gpu = None

    def remove(self, ids: IdArray) -> None:
        """Remove vectors by segment id; unknown ids are ignored."""
        if not len(ids):
            return
        wanted = np.ascontiguousarray(ids, dtype=np.int64)
        if self.digest is not None:
            self._count(-vector_digest(*self._held(wanted)))
        if self.ann is not None:
            self.ann.remove(wanted)
        else:
            self.flat.remove_ids(wanted)
        self._gpu = None

    def _count(self, delta: int) -> None:
        if self.digest is not None:
            self.digest = (self.digest + delta) % 2**64

    def _held(self, ids: IdArray) -> tuple[IdArray, FloatArray]:
        """Those of ``ids`` the index holds, with their vectors."""
        if self.ann is not None:
            return self.ann.vectors_of(ids)
        present = ids[np.isin(ids, faiss.vector_to_array(self.flat.id_map))]
        if not len(present):
            return present, np.empty((0, self.dim), dtype=np.float32)
        return present, self.flat.reconstruct_batch(present)

    def ids(self) -> set[int]:
        """Every segment id in the index."""
        if self.ann is not None:
            return self.ann.ids()
        return set(faiss.vector_to_array(self.flat.id_map).tolist())

    # -- search ----------------------------------------------------------------

    def search(
        self, query: FloatArray, k: int, allowed: IdArray | None = None
    ) -> tuple[IdArray, FloatArray]:
        """The ``k`` nearest segment ids to ``query`` by inner product, best first.

        With ``allowed``, only those ids are considered, exactly: the flat index
        takes them as a selector; the approximate one scans their stored rows
        when they are few and otherwise re-scores its candidates exactly.
        """
        k = min(k, self.ntotal if allowed is None else min(self.ntotal, len(allowed)))
        if k <= 0:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
        row = np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32)
        with search_threads():
            if self.ann is not None:
                return self.ann.search(row, k, allowed)
            if allowed is None:
                scores, ids = self._searchable().search(row, k)
            else:
                # The selector is a hash set of the ids; GPU indexes do not take one.
                selector = faiss.IDSelectorBatch(np.ascontiguousarray(allowed, dtype=np.int64))
                params = faiss.SearchParameters(sel=selector)  # type: ignore[call-arg]
                scores, ids = self.flat.search(row, k, params=params)
        keep = ids[0] >= 0
        return ids[0][keep], scores[0][keep]

    def _searchable(self) -> Any:
        if self._gpu is None:
            self._gpu = copy_to_gpus(self.flat) or self.flat
        return self._gpu

    # -- loading, rebuilding, saving -------------------------------------------

    def load(self, generation: int, count: int, digest: str | None = None) -> None:
        """Load the file if it matches the catalog's identity, generation, count and digest.

        With ``digest`` None (the catalog does not know its own) the digest is not checked.
        """
        header, payload = read_index_file(self.path)
        check_header(header, self.target.catalog_id, self.target.space_id, self.dim)
        if header.generation != generation or header.ntotal != count:
            raise IndexFileError(
                f"the index file is stale (generation {header.generation}, catalog at {generation})"
            )
        if digest is not None and header.digest != digest:
            raise IndexFileError(digest_mismatch(header.digest))
        if header.kind == "flat":
            index = faiss.deserialize_index(np.frombuffer(payload, dtype=np.uint8))
            if index.ntotal != count or index.d != self.dim:
                raise IndexFileError("the index file's contents do not match its header")
            self.flat, self.ann = index, None
        else:
            self.ann = ApproximateIndex.load(header, payload, self.path.parent)
            self.flat = _new_flat(self.dim)
        self.generation = self.saved_generation = header.generation
        self.build_seconds = header.build_seconds
        self.digest = None if header.digest is None else int(header.digest, 16)
        self._gpu = None

    def sync(self, vectors: CatalogVectors) -> bool:
        """Load the cache, or rebuild it from the catalog with one warning. True if rebuilt."""
        try:
            self.load(vectors.generation, vectors.count, vectors.digest)
            return False
        except IndexFileError as exc:
            if vectors.count or self.path.exists():
                log.warning(
                    "Rebuilding the vector index of space %d from the catalog: %s (%s).",
                    self.target.space_id,
                    exc,
                    self.path,
                )
        self.rebuild(vectors)
        return True

    def rebuild(self, vectors: CatalogVectors) -> None:
        """Rebuild the index from the vectors the catalog holds (approximate when large)."""
        if vectors.count > self.exact_max:
            self._build_approximate(vectors)
            return
        started = time.perf_counter()
        flat = _new_flat(self.dim)
        digest = EMPTY
        for ids, rows in vectors.batches():
            flat.add_with_ids(np.ascontiguousarray(rows, dtype=np.float32), ids)
            digest += vector_digest(ids, rows)
        self.flat, self.ann = flat, None
        self.digest = digest % 2**64
        self.generation = vectors.generation
        self.build_seconds = time.perf_counter() - started
        self._gpu = None

    def optimize(self, vectors: CatalogVectors) -> None:
        """Build the approximate index when the space outgrew the exact one (or its build)."""
        wanted = vectors.count > self.exact_max
        if not wanted and self.ann is None:
            return
        if not wanted:
            self.rebuild(vectors)  # shrank back under the threshold: exact again
        elif self.ann is None or self.ann.needs_rebuild():
            self._build_approximate(vectors)
        else:
            return
        self.persist(vectors.generation)

    def _build_approximate(self, vectors: CatalogVectors) -> None:
        started = time.perf_counter()
        params = AnnParams.from_options(self.target.options)
        log.warning(
            "Building an approximate index for space %d (%d vectors); the exact one answers "
            "until it is complete.",
            self.target.space_id,
            vectors.count,
        )
        built = ApproximateIndex.build(vectors, self.dim, self.path.parent, self.path.name, params)
        self.ann, self.flat = built, _new_flat(self.dim)
        self.digest = vector_digest(built.row_ids, built.rows)  # one more pass over the rows file
        self.generation = vectors.generation
        self.build_seconds = time.perf_counter() - started
        self.saved_generation = None
        self._gpu = None

    def persist(self, generation: int) -> None:
        """Write the index atomically, unless the file already holds this generation."""
        if self.saved_generation == generation and self.generation == generation:
            return  # nothing changed since the file was written: rewriting costs ~0.5 s
        header = IndexFileHeader(
            catalog_id=self.target.catalog_id,
            space_id=self.target.space_id,
            generation=generation,
            ntotal=self.ntotal,
            dim=self.dim,
            crc32=0,
            kind=self.kind,
            build_seconds=self.build_seconds,
            digest=None if self.digest is None else format_digest(self.digest),
        )
        if self.ann is not None:
            header, payload = self.ann.serialize(header)
        else:
            payload = faiss.serialize_index(self.flat).tobytes()
        write_index_file(self.path, header, payload)
        if self.ann is not None:
            fault_point("ann-file-written")
            self.ann.forget_old_files(self.path.parent, self.path.name)
        self.generation = self.saved_generation = generation

    def health(self, generation: int, count: int) -> IndexHealth:
        """The file's state against the catalog's, read without loading the index."""
        shown = str(self.path)
        if not self.path.exists():
            state = "missing" if count else "ok"
            detail = "rebuilt from the catalog on the next query" if count else None
            return IndexHealth(state, detail, "flat", shown, 0)  # type: ignore[arg-type]
        try:
            header = read_header(self.path)
            check_header(header, self.target.catalog_id, self.target.space_id, self.dim)
        except IndexFileError as exc:
            return IndexHealth(
                "damaged", f"{exc}; rebuilt from the catalog on the next query", "", shown
            )
        found = IndexHealth(
            "ok",
            None,
            _describe_kind(header.kind),
            shown,
            header.ntotal,
            self.path.stat().st_size + _side_file_size(self.path.parent, header.vectors_file),
            header.build_seconds,
            header.recall,
            header.digest,
        )
        if header.generation != generation or header.ntotal != count:
            found.state = "stale"
            found.detail = (
                f"file has {header.ntotal} vectors, catalog {count}; rebuilt on next query"
            )
        return found


def digest_mismatch(found: str | None) -> str:
    """Why an index file whose digest is not the catalog's is not served."""
    if found is None:
        return "the index file has no digest of its vectors (written by an older mmsearch)"
    return "the index file holds other vectors than the catalog (their digests differ)"


def _describe_kind(kind: str) -> str:
    return "flat (exact)" if kind == "flat" else f"{kind} (approximate, exact re-rank)"


def _side_file_size(folder: Path, name: str | None) -> int:
    if not name:
        return 0
    try:
        return (folder / name).stat().st_size
    except OSError:
        return 0


class FaissStore(VectorStore):
    """FAISS indexes in files beside the catalog: exact when small, approximate when large."""

    name = "faiss"
    description = "FAISS files beside the catalog: exact when small, IVF-PQ + exact re-rank"

    def open_index(self, target: IndexTarget) -> FaissIndex:
        """The space's index; nothing is read until ``sync``."""
        raw = target.options.get("exact_max") or os.environ.get("MMSEARCH_FAISS_EXACT_MAX")
        return FaissIndex(target, int(raw) if raw else EXACT_MAX)
