"""Approximate search for large spaces: IVF-PQ codes in memory, exact re-ranking from disk.

The compressed codes (``nlist`` inverted lists; ``m`` 4-bit sub-quantizers a
vector, scanned with FAISS's fast-scan kernels) pick ``rerank`` candidates per
query; their float32 vectors are then read from a memory-mapped file of rows
written at build time, and the best ``k`` by exact inner product are returned,
so scores are always exact. The full float32 matrix is never held in memory
(at 1M x 512 it is 2 GB; the codes are 64 MB).

Filtered queries stay exact: an allow-list of up to ``exact_filter_max`` ids
is scanned exactly (its rows gathered from the file), a larger one is handed
to the IVF search as a selector and its candidates re-scored exactly.

Vectors added after the build are kept in memory too (and in the index file),
removed ones are masked; once either grows past a fifth of the build,
:meth:`ApproximateIndex.needs_rebuild` says so and the next index run rebuilds.
The parameters were measured and chosen with ``bench/ann.py`` (see bench/README.md).
"""

from __future__ import annotations

import logging
import mmap
import os
import struct
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import faiss
import numpy as np
import numpy.typing as npt

from mmsearch.contracts import CatalogVectors, FloatArray, IdArray
from mmsearch.faults import fault_point
from mmsearch.store.faiss_file import IndexFileError, IndexFileHeader, fsync_dir
from mmsearch.store.faiss_gpu import copy_to_gpus, gpu_count, train_on_gpus

log = logging.getLogger("mmsearch")

_LEN = struct.Struct("<Q")
_TRAIN_MIN = 65_536
_TRAIN_PER_LIST = 40
_TRAIN_MAX = 262_144
_KMEANS_ITERATIONS = 10
_GATHER_ROWS = 2_048
_DENSE_FACTOR = 4
_RECALL_QUERIES = 64


@dataclass(frozen=True, slots=True)
class AnnParams:
    """How the approximate index is built and searched (``MMSEARCH_FAISS_*`` overrides)."""

    nlist: int = 0
    """Inverted lists; 0 chooses about sqrt(n), a power of two."""
    m: int = 0
    """4-bit PQ sub-quantizers (m / 2 bytes a vector); 0 chooses dim / 4."""
    nprobe: int = 16
    rerank: int = 300
    """Candidates re-scored exactly per query (at least 10 x k): recall@10 0.98 at 200,
    0.99 at 300, 0.997 at 500 (1M x 512, nprobe 16)."""
    exact_filter_max: int = 10_000
    """Allow-lists up to this size are scanned exactly (at 1M x 512: p50 12 ms for 10,000
    ids, 31 ms for 20,000); larger ones go to the IVF with a bitmap selector."""

    @classmethod
    def from_options(cls, options: Mapping[str, str]) -> AnnParams:
        """Defaults, overridden by store options or ``MMSEARCH_FAISS_<NAME>`` variables."""
        params = cls()
        for name in ("nlist", "m", "nprobe", "rerank", "exact_filter_max"):
            raw = options.get(name) or os.environ.get(f"MMSEARCH_FAISS_{name.upper()}")
            if raw:
                params = replace(params, **{name: int(raw)})
        return params

    def lists_for(self, count: int, dim: int) -> int:
        """The number of inverted lists for ``count`` vectors."""
        if self.nlist:
            return self.nlist
        target = int(np.sqrt(max(count, 1)))
        return int(min(65_536, max(64, 2 ** round(np.log2(max(target, 1))))))

    def sub_quantizers(self, dim: int) -> int:
        """The PQ size: ``m``, else dim / 4 (even, dividing dim), as fast-scan needs."""
        if self.m:
            return self.m
        m = max(2, dim // 4)
        while m > 2 and (dim % m or m % 2):
            m -= 1
        return m


class ApproximateIndex:
    """IVF-PQ over a space's vectors, re-ranked exactly from a memory-mapped rows file."""

    kind = "ivfpq"

    def __init__(
        self,
        ivf: Any,
        rows: npt.NDArray[np.float32],
        row_ids: IdArray,
        params: AnnParams,
        vectors_file: str,
        recall: float | None = None,
    ) -> None:
        self.ivf = ivf
        self.rows = rows
        self.row_ids = row_ids
        self._lookup = _RowLookup(row_ids)
        self.alive = np.ones(len(row_ids), dtype=bool)
        self.extra: dict[int, FloatArray] = {}
        self.params = params
        self.vectors_file = vectors_file
        self.recall = recall
        self._gpu: Any = None

    # -- build -----------------------------------------------------------------

    @classmethod
    def build(
        cls, vectors: CatalogVectors, dim: int, folder: Path, base: str, params: AnnParams
    ) -> ApproximateIndex:
        """Write the rows file, train IVF-PQ on a sample, add every vector, measure recall."""
        name = f"{base}.{uuid.uuid4().hex[:12]}.vectors.npy"
        rows, row_ids = _write_rows(vectors, dim, folder / name)
        nlist = params.lists_for(len(row_ids), dim)
        ivf = _new_ivfpq(dim, nlist, params.sub_quantizers(dim))
        on_gpu = train_on_gpus(ivf, dim)
        rng = np.random.default_rng(0)
        wanted = min(len(row_ids), max(_TRAIN_MIN, _TRAIN_PER_LIST * nlist), _TRAIN_MAX)
        sample = np.sort(rng.choice(len(row_ids), wanted, replace=False))
        ivf.train(np.ascontiguousarray(rows[sample]))
        for start in range(0, len(row_ids), 65_536):
            stop = start + 65_536
            ivf.add_with_ids(np.ascontiguousarray(rows[start:stop]), row_ids[start:stop])
        if on_gpu:
            ivf.clustering_index = None  # the GPU copy must not be serialised with the index
        built = cls(ivf, rows, row_ids, params, name)
        built.recall = built.measure_recall()
        return built

    def measure_recall(self, k: int = 10) -> float:
        """recall@k against exact search for noisy copies of stored rows (a fixed sample)."""
        rng = np.random.default_rng(1)
        picked = rng.choice(len(self.row_ids), min(_RECALL_QUERIES, len(self.row_ids)), False)
        picked_rows = np.asarray(self.rows[np.sort(picked)], dtype=np.float64)
        noisy = picked_rows + rng.normal(0, 0.5 / np.sqrt(picked_rows.shape[1]), picked_rows.shape)
        queries = (noisy / np.linalg.norm(noisy, axis=1, keepdims=True)).astype(np.float32)
        truth = _exact_top(self.rows, queries, k)
        found = 0
        for query, expected in zip(queries, truth, strict=True):
            ids, _ = self.search(query.reshape(1, -1), k, None)
            found += len(set(ids.tolist()) & set(self.row_ids[expected].tolist()))
        return found / (k * len(queries))

    # -- contents ----------------------------------------------------------------

    @property
    def ntotal(self) -> int:
        """Vectors it answers with."""
        return int(self.ivf.ntotal)

    def add(self, ids: IdArray, vectors: FloatArray) -> None:
        """Encode new vectors into the IVF and keep their float32 rows for re-ranking."""
        self.ivf.add_with_ids(vectors, ids)
        self._gpu = None
        for sid, row in zip(ids.tolist(), vectors, strict=True):
            self.extra[sid] = row.copy()

    def remove(self, ids: IdArray) -> None:
        """Drop vectors by id (unknown ids are ignored)."""
        self.ivf.remove_ids(faiss.IDSelectorBatch(ids))
        self._gpu = None
        rows, found = self._rows_of(ids)
        self.alive[rows[found]] = False
        for sid in ids.tolist():
            self.extra.pop(sid, None)

    def ids(self) -> set[int]:
        """Every id it holds."""
        return set(self.row_ids[self.alive].tolist()) | set(self.extra)

    def needs_rebuild(self) -> bool:
        """True once changes since the build exceed a fifth of it (codes drift, file grows)."""
        changed = len(self.extra) + int((~self.alive).sum())
        return changed > len(self.row_ids) // 5

    # -- search --------------------------------------------------------------------

    def search(
        self, row: FloatArray, k: int, allowed: IdArray | None
    ) -> tuple[IdArray, FloatArray]:
        """Best ``k`` ids by exact inner product among the IVF's candidates (or ``allowed``)."""
        if allowed is not None and len(allowed) <= self.params.exact_filter_max:
            return self._rescore(_unique(allowed), row[0], k)
        self.ivf.nprobe = self.params.nprobe
        depth = min(max(self.params.rerank, 10 * k), self.ntotal)
        if allowed is None:
            _, found = self._searchable().search(row, depth)
        else:
            bitmap = _bitmap(allowed)
            # A bitmap selector costs one bit test per scanned code; IDSelectorBatch hashes
            # every allowed id per query (~30 ms for 100,000 ids, bench/README.md).
            selector = faiss.IDSelectorBitmap(len(bitmap), faiss.swig_ptr(bitmap))  # n: bytes
            nprobe = self._filtered_nprobe(len(allowed))
            params = faiss.SearchParametersIVF(sel=selector, nprobe=nprobe)  # type: ignore[call-arg]
            _, found = self.ivf.search(row, depth, params=params)
            del bitmap  # kept alive until here: the selector points into it
        candidates = found[0][found[0] >= 0]
        return self._rescore(candidates, row[0], k)

    def _searchable(self) -> Any:
        """The IVF on the GPUs when there are any (codes copied once per change), else itself."""
        if gpu_count() == 0:
            return self.ivf
        if self._gpu is None:
            self._gpu = copy_to_gpus(self.ivf, float16_tables=True) or self.ivf
            self._gpu.nprobe = self.params.nprobe
        return self._gpu

    def _filtered_nprobe(self, allowed: int) -> int:
        """More lists for rarer allowed ids, so as many candidates survive the filter."""
        selectivity = allowed / max(self.ntotal, 1)
        scaled = self.params.nprobe * max(1.0, 0.01 / max(selectivity, 1e-9))
        return int(min(self.ivf.nlist, round(scaled)))

    def _rescore(self, ids: IdArray, query: FloatArray, k: int) -> tuple[IdArray, FloatArray]:
        """The best ``k`` of ``ids`` by exact inner product, read from the rows file in order."""
        file_ids, file_rows, extra_ids = self._locate(ids)
        scores = np.empty(len(file_ids) + len(extra_ids), dtype=np.float32)
        # Gather and score in slices: a slice stays in cache between the copy and the product.
        for start in range(0, len(file_rows), _GATHER_ROWS):
            part = file_rows[start : start + _GATHER_ROWS]
            scores[start : start + len(part)] = np.asarray(self.rows[part]) @ query
        if len(extra_ids):
            scores[len(file_ids) :] = np.stack([self.extra[int(i)] for i in extra_ids]) @ query
        out_ids = np.concatenate([file_ids, extra_ids]) if len(extra_ids) else file_ids
        if not len(out_ids):
            return out_ids, scores
        top = np.argpartition(-scores, k - 1)[:k] if len(out_ids) > k else np.arange(len(out_ids))
        best = top[np.argsort(-scores[top], kind="stable")]
        return out_ids[best], scores[best]

    def vectors_of(self, ids: IdArray) -> tuple[IdArray, FloatArray]:
        """The live ids among ``ids`` with their float32 vectors (file rows, then added ones)."""
        file_ids, file_rows, extra_ids = self._locate(ids)
        parts = [np.asarray(self.rows[file_rows], dtype=np.float32)]
        if len(extra_ids):
            parts.append(np.stack([self.extra[int(i)] for i in extra_ids]))
        out_ids = np.concatenate([file_ids, extra_ids]) if len(extra_ids) else file_ids
        return out_ids, np.concatenate(parts)

    def _rows_of(self, ids: IdArray) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.bool_]]:
        rows = self._lookup.rows(ids)
        found = rows >= 0
        return np.where(found, rows, 0), found

    def _locate(self, ids: IdArray) -> tuple[IdArray, npt.NDArray[np.intp], IdArray]:
        """Live ids in the rows file (with their rows, in file order), and added ones."""
        rows, found = self._rows_of(ids)
        in_file = found & self.alive[rows]
        file_rows = rows[in_file]
        order = np.argsort(file_rows, kind="stable")  # read the file front to back
        added = [sid for sid in ids.tolist() if sid in self.extra] if self.extra else []
        return ids[in_file][order], file_rows[order], np.asarray(added, dtype=np.int64)

    # -- persistence -----------------------------------------------------------------

    def serialize(self, header: IndexFileHeader) -> tuple[IndexFileHeader, bytes]:
        """The header for this index, and the payload: codes, row ids, mask, added vectors."""
        extra_ids = np.fromiter(self.extra, dtype=np.int64, count=len(self.extra))
        extra_rows = (
            np.stack(list(self.extra.values()))
            if self.extra
            else np.empty((0, self.rows.shape[1]), np.float32)
        )
        parts = [
            faiss.serialize_index(self.ivf).tobytes(),
            self.row_ids.tobytes(),
            np.packbits(self.alive).tobytes(),
            extra_ids.tobytes(),
            np.ascontiguousarray(extra_rows, dtype=np.float32).tobytes(),
        ]
        payload = b"".join(_LEN.pack(len(p)) + p for p in parts)
        fields = {"nprobe": self.params.nprobe, "rerank": self.params.rerank,
                  "exact_filter_max": self.params.exact_filter_max}  # fmt: skip
        described = replace(
            header, kind=self.kind, vectors_file=self.vectors_file, recall=self.recall,
            extra=fields,
        )  # fmt: skip
        return described, payload

    @classmethod
    def load(cls, header: IndexFileHeader, payload: bytes, folder: Path) -> ApproximateIndex:
        """The index a file holds, its rows file memory-mapped; raises IndexFileError."""
        if header.kind != cls.kind or not header.vectors_file:
            raise IndexFileError(f"the index file has an unknown kind {header.kind!r}")
        try:
            rows = _map_rows(folder / header.vectors_file)
        except (OSError, ValueError) as exc:
            message = f"its vectors file {header.vectors_file} is unusable ({exc})"
            raise IndexFileError(message) from exc
        parts = _split(payload)
        if len(parts) != 5:
            raise IndexFileError("the index file's contents do not match its header")
        ivf = faiss.deserialize_index(np.frombuffer(parts[0], dtype=np.uint8))
        row_ids = np.frombuffer(parts[1], dtype=np.int64).copy()
        if rows.shape != (len(row_ids), header.dim) or ivf.d != header.dim:
            raise IndexFileError("the index file and its vectors file do not match")
        params = replace(AnnParams(), **{k: int(v) for k, v in header.extra.items()})
        index = cls(ivf, rows, row_ids, params, header.vectors_file, header.recall)
        index.alive = np.unpackbits(np.frombuffer(parts[2], np.uint8))[: len(row_ids)] > 0
        extra_ids = np.frombuffer(parts[3], dtype=np.int64)
        extra_rows = np.frombuffer(parts[4], dtype=np.float32).reshape(len(extra_ids), header.dim)
        index.extra = {int(i): r.copy() for i, r in zip(extra_ids, extra_rows, strict=True)}
        if index.ntotal != header.ntotal:
            raise IndexFileError("the index file's contents do not match its header")
        return index

    def forget_old_files(self, folder: Path, base: str) -> None:
        """Delete rows files of earlier builds (the current file no longer names them)."""
        for old in folder.glob(f"{base}.*.vectors.npy"):
            if old.name != self.vectors_file:
                old.unlink(missing_ok=True)


class _RowLookup:
    """Segment id -> row of the rows file: a dense table when ids are dense (they are SQLite
    row ids, so nearly), else a binary search over the sorted ids."""

    def __init__(self, row_ids: IdArray) -> None:
        self.size = int(row_ids.max()) + 1 if len(row_ids) else 0
        self.dense: npt.NDArray[np.int32] | None = None
        if self.size <= _DENSE_FACTOR * len(row_ids) + 65_536:
            self.dense = np.full(self.size, -1, dtype=np.int32)
            self.dense[row_ids] = np.arange(len(row_ids), dtype=np.int32)
        else:
            self.order = np.argsort(row_ids, kind="stable")
            self.sorted_ids = row_ids[self.order]

    def rows(self, ids: IdArray) -> npt.NDArray[np.intp]:
        """The row of each id, -1 for ids not in the file."""
        if self.size == 0:
            return np.full(len(ids), -1, dtype=np.intp)
        inside = (ids >= 0) & (ids < self.size)
        if self.dense is not None:
            return np.where(inside, self.dense[np.where(inside, ids, 0)], -1).astype(np.intp)
        pos = np.minimum(np.searchsorted(self.sorted_ids, ids), len(self.sorted_ids) - 1)
        hit = inside & (self.sorted_ids[pos] == ids)
        return np.where(hit, self.order[pos], -1).astype(np.intp)


def _unique(ids: IdArray) -> IdArray:
    """``ids`` without repeats; allow-lists come sorted from SQL, so that is checked first."""
    if len(ids) < 2 or bool((ids[1:] > ids[:-1]).all()):
        return ids
    unique: IdArray = np.unique(ids)
    return unique


def _bitmap(allowed: IdArray) -> npt.NDArray[np.uint8]:
    """A little-endian bit per id up to the largest allowed one, set for the allowed ids."""
    mask = np.zeros(int(allowed.max()) + 1, dtype=bool)
    mask[allowed] = True
    packed: npt.NDArray[np.uint8] = np.packbits(mask, bitorder="little")
    return packed


def _new_ivfpq(dim: int, nlist: int, m: int) -> Any:
    ivf: Any = faiss.index_factory(dim, f"IVF{nlist},PQ{m}x4fs", faiss.METRIC_INNER_PRODUCT)
    # Ten k-means rounds (FAISS defaults to 25) lose no measurable recall here and make the
    # coarse training, most of the build, 2.5x shorter (bench/README.md).
    ivf.cp.niter = _KMEANS_ITERATIONS
    ivf.pq.cp.niter = _KMEANS_ITERATIONS
    ivf.pq.cp.max_points_per_centroid = 64  # 16 centroids a sub-quantizer: plenty to train on
    return ivf


def _write_rows(
    vectors: CatalogVectors, dim: int, path: Path
) -> tuple[npt.NDArray[np.float32], IdArray]:
    """Stream the catalog's vectors into a .npy rows file (temp, fsync, rename), mapped back."""
    tmp = path.with_name(path.name + ".tmp")
    path.parent.mkdir(parents=True, exist_ok=True)
    out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32, shape=(vectors.count, dim))
    ids = np.empty(vectors.count, dtype=np.int64)
    filled = 0
    try:
        for batch_ids, batch in vectors.batches():
            if filled + len(batch_ids) > vectors.count:
                raise IndexFileError("the catalog changed while the index was being built")
            out[filled : filled + len(batch_ids)] = batch
            ids[filled : filled + len(batch_ids)] = batch_ids
            filled += len(batch_ids)
        if filled != vectors.count:
            raise IndexFileError("the catalog changed while the index was being built")
        out.flush()
        del out
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
        fsync_dir(path.parent)
        fault_point("ann-rows-written")
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return _map_rows(path), ids


def _map_rows(path: Path) -> npt.NDArray[np.float32]:
    """The rows file memory-mapped for random reads.

    Re-ranking reads a few hundred scattered rows per query; with the kernel's default
    read-ahead each one pulls in 128 KiB around it, and the file soon sits whole in memory.
    """
    rows: npt.NDArray[np.float32] = np.load(path, mmap_mode="r")
    mapped = getattr(rows, "_mmap", None)
    if mapped is not None and hasattr(mmap, "MADV_RANDOM"):
        mapped.madvise(mmap.MADV_RANDOM)
    return rows


def _exact_top(rows: npt.NDArray[np.float32], queries: FloatArray, k: int) -> npt.NDArray[Any]:
    """Row numbers of the exact top ``k`` of each query, scanning the file in chunks."""
    best_scores = np.full((len(queries), k), -np.inf, dtype=np.float32)
    best_rows = np.zeros((len(queries), k), dtype=np.int64)
    for start in range(0, len(rows), 131_072):
        chunk = np.asarray(rows[start : start + 131_072], dtype=np.float32)
        scores = queries @ chunk.T
        merged_scores = np.concatenate([best_scores, scores], axis=1)
        merged_rows = np.concatenate(
            [best_rows, np.broadcast_to(np.arange(start, start + len(chunk)), scores.shape)], 1
        )
        top = np.argpartition(-merged_scores, k - 1, axis=1)[:, :k]
        best_scores = np.take_along_axis(merged_scores, top, 1)
        best_rows = np.take_along_axis(merged_rows, top, 1)
    return best_rows


def _split(payload: bytes) -> list[bytes]:
    parts, offset = [], 0
    while offset + _LEN.size <= len(payload):
        (length,) = _LEN.unpack_from(payload, offset)
        offset += _LEN.size
        parts.append(payload[offset : offset + length])
        offset += length
    return parts
