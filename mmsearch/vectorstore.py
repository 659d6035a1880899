"""Per-space FAISS indexes: rebuildable caches of the vectors SQLite holds.

Each space has one ``IndexIDMap2`` over an exact inner-product index, keyed by
segment ids from SQLite (never positions). The file on disk carries a small
header with the space, the generation it reflects, its size and a checksum; a
file that is missing, stale, corrupt or from another space is rebuilt from
SQLite, with one warning, never served silently empty.
"""

from __future__ import annotations

import json
import logging
import os
import struct
import tempfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import faiss
import numpy as np
import numpy.typing as npt

log = logging.getLogger(__name__)

MAGIC = b"MMSFAISS1\n"
_HEADER_LEN = struct.Struct("<Q")

FloatArray = npt.NDArray[np.float32]
IdArray = npt.NDArray[np.int64]
VectorBatches = Callable[[], Iterable[tuple[IdArray, FloatArray]]]


@dataclass(frozen=True, slots=True)
class IndexFileHeader:
    """What an index file says about itself."""

    space_id: int
    generation: int
    ntotal: int
    dim: int
    crc32: int


class IndexFileError(Exception):
    """An index file that cannot be used: missing, damaged, or for another space."""


def _new_index(dim: int) -> Any:
    return faiss.IndexIDMap2(faiss.IndexFlatIP(dim))


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def _search_threads() -> Iterator[None]:
    """Run one query's search with ``MMSEARCH_SEARCH_THREADS`` OpenMP threads (default 1).

    One query over a flat index is memory-bound: on small machines a second
    thread only adds a scheduling wait (measured on 2 cores at 100,000 x 512:
    p50 7.4 ms with one thread, 14.6 ms with two; measured with the former
    bench/query_overhead.py, see bench/README.md).
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


def gpu_count() -> int:
    """How many GPUs FAISS can use (0 with faiss-cpu, or a GPU build on a machine without one)."""
    get = getattr(faiss, "get_num_gpus", None)
    return int(get()) if get else 0


class FaissStore:
    """The vector index of one space, in memory, with its file cache."""

    def __init__(self, path: Path, space_id: int, dim: int) -> None:
        self.path = path
        self.space_id = space_id
        self.dim = dim
        self.index: Any = _new_index(dim)
        self.generation = -1
        self.saved_generation: int | None = None
        """The generation of the file on disk as far as this object knows (loaded or saved)."""
        self._gpu_index: Any = None

    @property
    def ntotal(self) -> int:
        """Number of vectors in the index."""
        return int(self.index.ntotal)

    # -- loading -----------------------------------------------------------

    def read_header(self) -> IndexFileHeader:
        """The header of the file on disk; raises :class:`IndexFileError`."""
        header, _ = self._read()
        return header

    def _read(self) -> tuple[IndexFileHeader, bytes]:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            raise IndexFileError("the index file does not exist") from None
        except OSError as exc:
            raise IndexFileError(f"the index file cannot be read ({exc.strerror})") from exc
        if not raw.startswith(MAGIC) or len(raw) < len(MAGIC) + _HEADER_LEN.size:
            raise IndexFileError("the index file is not an mmsearch index")
        offset = len(MAGIC)
        (length,) = _HEADER_LEN.unpack_from(raw, offset)
        offset += _HEADER_LEN.size
        try:
            fields = json.loads(raw[offset : offset + length])
            header = IndexFileHeader(**fields)
        except (ValueError, TypeError) as exc:
            raise IndexFileError("the index file header is damaged") from exc
        payload = raw[offset + length :]
        if zlib.crc32(payload) != header.crc32:
            raise IndexFileError("the index file is damaged (checksum mismatch)")
        return header, payload

    def load(self, expected_generation: int, expected_ntotal: int) -> None:
        """Load the file if it matches SQLite's generation and count; raises otherwise."""
        header, payload = self._read()
        if header.space_id != self.space_id or header.dim != self.dim:
            raise IndexFileError("the index file belongs to another space")
        if header.generation != expected_generation or header.ntotal != expected_ntotal:
            raise IndexFileError(
                f"the index file is stale (generation {header.generation}, "
                f"catalog at {expected_generation})"
            )
        index = faiss.deserialize_index(np.frombuffer(payload, dtype=np.uint8))
        if index.ntotal != expected_ntotal or index.d != self.dim:
            raise IndexFileError("the index file's contents do not match its header")
        self.index = index
        self.generation = header.generation
        self.saved_generation = header.generation
        self._gpu_index = None

    def rebuild(self, batches: VectorBatches, generation: int) -> None:
        """Rebuild the index from the vectors SQLite holds."""
        self.index = _new_index(self.dim)
        for ids, vectors in batches():
            self.index.add_with_ids(vectors, ids)
        self.generation = generation
        self._gpu_index = None

    def load_or_rebuild(
        self, expected_generation: int, expected_ntotal: int, batches: VectorBatches
    ) -> bool:
        """Load the cache, or rebuild it from SQLite with one warning. True if rebuilt."""
        try:
            self.load(expected_generation, expected_ntotal)
            return False
        except IndexFileError as exc:
            if expected_ntotal or self.path.exists():
                log.warning(
                    "Rebuilding the vector index of space %d from the catalog: %s (%s).",
                    self.space_id,
                    exc,
                    self.path,
                )
        self.rebuild(batches, expected_generation)
        return True

    # -- changes -----------------------------------------------------------

    def add(self, ids: IdArray, vectors: FloatArray) -> None:
        """Add vectors keyed by segment id."""
        if len(ids):
            self.index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), ids)
            self._gpu_index = None

    def remove(self, ids: IdArray) -> None:
        """Remove vectors by segment id; unknown ids are ignored."""
        if len(ids):
            self.index.remove_ids(np.ascontiguousarray(ids, dtype=np.int64))
            self._gpu_index = None

    def ids(self) -> set[int]:
        """Every segment id in the index."""
        return set(faiss.vector_to_array(self.index.id_map).tolist())

    def save(self, generation: int) -> None:
        """Write the index atomically: temp file, fsync, rename, fsync the folder."""
        payload = faiss.serialize_index(self.index).tobytes()
        header = IndexFileHeader(
            space_id=self.space_id,
            generation=generation,
            ntotal=self.ntotal,
            dim=self.dim,
            crc32=zlib.crc32(payload),
        )
        header_bytes = json.dumps(asdict(header)).encode()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=self.path.name, suffix=".tmp", dir=self.path.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(MAGIC)
                handle.write(_HEADER_LEN.pack(len(header_bytes)))
                handle.write(header_bytes)
                handle.write(payload)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp_name, self.path)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise
        _fsync_dir(self.path.parent)
        self.generation = generation
        self.saved_generation = generation

    # -- search ------------------------------------------------------------

    def search(
        self, query: FloatArray, k: int, allowed: IdArray | None = None
    ) -> tuple[IdArray, FloatArray]:
        """The ``k`` nearest segment ids to ``query`` by inner product, best first.

        With ``allowed``, only those ids are considered: the search stays exact
        however selective the filter behind them (no over-fetch and retry).
        """
        k = min(k, self.ntotal if allowed is None else min(self.ntotal, len(allowed)))
        if k <= 0:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
        row = query.reshape(1, -1).astype(np.float32)
        with _search_threads():
            if allowed is None:
                scores, ids = self._searchable().search(row, k)
            else:
                # The selector is a hash set of the ids; GPU indexes do not take one.
                selector = faiss.IDSelectorBatch(np.ascontiguousarray(allowed, dtype=np.int64))
                params = faiss.SearchParameters(sel=selector)  # type: ignore[call-arg]
                scores, ids = self.index.search(row, k, params=params)
        keep = ids[0] >= 0
        return ids[0][keep], scores[0][keep]

    def search_many(self, queries: FloatArray, k: int) -> tuple[IdArray, FloatArray]:
        """The ``k`` nearest ids and scores of each row of ``queries`` (for calibration)."""
        k = min(k, self.ntotal)
        if k <= 0:
            empty = np.empty((len(queries), 0))
            return empty.astype(np.int64), empty.astype(np.float32)
        with _search_threads():
            scores, ids = self._searchable().search(np.ascontiguousarray(queries, np.float32), k)
        return ids, scores

    def sample(self, count: int, seed: int = 0) -> FloatArray:
        """Up to ``count`` stored vectors picked at random (deterministic for a seed)."""
        total = self.ntotal
        if total == 0:
            return np.empty((0, self.dim), dtype=np.float32)
        flat = faiss.downcast_index(self.index.index)
        pointer = flat.get_xb()  # type: ignore[attr-defined]
        stored = faiss.rev_swig_ptr(pointer, total * self.dim).reshape(total, self.dim)
        rng = np.random.default_rng(seed)
        rows = np.sort(rng.choice(total, size=min(count, total), replace=False))
        picked: FloatArray = np.array(stored[rows], dtype=np.float32)
        return picked

    def _searchable(self) -> Any:
        if gpu_count() == 0:
            return self.index
        if self._gpu_index is None:
            try:
                self._gpu_index = faiss.index_cpu_to_all_gpus(self.index)
            except Exception as exc:  # an odd driver must not stop search: the CPU index works
                log.warning("Searching on the CPU: could not move the index to GPU (%s).", exc)
                return self.index
        return self._gpu_index
