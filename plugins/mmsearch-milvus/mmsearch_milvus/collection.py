"""One space's Milvus collection: its schema, its index, its metadata and its rows."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from mmsearch.contracts import FloatArray, IdArray, SegmentFieldLookup, SegmentFields
from mmsearch_milvus.connection import Connection

CONSISTENCY = "Strong"
"""Every read sees every write acknowledged before it. The writer and the readers are
different processes (an index run, ``mmsearch serve``), so the weaker "Session" level would
not show a reader what the writer just committed; "Bounded" would serve up to a few seconds
of staleness. Strong costs a wait for the latest timestamp on a distributed Milvus."""
IVF_NPROBE = 32
"""Lists an IVF_FLAT search scans. bench/milvus_index_types.py on Milvus Lite 3.2.2, 512-d
clustered vectors, nlist 4·sqrt(n): recall@10 0.98-0.99 at nprobe 16 and 1.000 at 64 for
50k-100k rows, where HNSW (M 16, efConstruction 200) reached 0.89-0.91 at ef 512 at the same
latency and took 12-14x longer to build."""
HNSW_EF_MIN = 128
"""HNSW's search breadth, for a collection an older version built with HNSW (until its next
index run swaps it for IVF_FLAT): at least this, and at least the number of results asked."""
WRITE_ROWS = 2_000
"""Rows per insert: ~4 MB of 512-d vectors, well under gRPC's 64 MB message limit."""
SCAN_ROWS = 4_000
_META = "mmsearch."


@dataclass(frozen=True, slots=True)
class Meta:
    """What mmsearch records on a collection (its properties) when it persists it."""

    catalog_id: str = ""
    generation: int = -1
    digest: str | None = None
    build_seconds: float | None = None
    nlist: int | None = None
    """The IVF_FLAT index's list count, fixed when it was built (None: not IVF, or unknown)."""

    def properties(self) -> dict[str, str]:
        """As Milvus collection properties."""
        return {
            f"{_META}catalog": self.catalog_id,
            f"{_META}generation": str(self.generation),
            f"{_META}digest": self.digest or "",
            f"{_META}build_seconds": "" if self.build_seconds is None else f"{self.build_seconds}",
            f"{_META}nlist": "" if self.nlist is None else str(self.nlist),
        }

    @classmethod
    def from_properties(cls, found: dict[str, Any]) -> Meta:
        """Read back; a collection mmsearch never persisted gives generation -1."""
        seconds = found.get(f"{_META}build_seconds") or ""
        nlist = str(found.get(f"{_META}nlist") or "")
        return cls(
            catalog_id=str(found.get(f"{_META}catalog", "")),
            generation=int(found.get(f"{_META}generation", -1) or -1),
            digest=str(found.get(f"{_META}digest") or "") or None,
            build_seconds=float(seconds) if seconds else None,
            nlist=int(nlist) if nlist.isdigit() else None,
        )


def index_kind(count: int, ann_min: int) -> str:
    """FLAT (exact) up to ``ann_min`` vectors, IVF_FLAT above."""
    return "FLAT" if count <= ann_min else "IVF_FLAT"


def nlist_for(count: int) -> int:
    """IVF lists for ``count`` vectors: 4·sqrt(n), as measured, within Milvus's 1-65536."""
    return int(min(65_536, max(16, round(4 * math.sqrt(max(count, 1))))))


def outgrown(nlist: int | None, count: int) -> bool:
    """Whether an IVF index built with ``nlist`` lists is due a rebuild at ``count`` vectors:
    once the collection quadrupled (lists twice too few), each search scans twice the rows."""
    return nlist is not None and nlist_for(count) >= 2 * nlist


def _vector_params(kind: str, count: int) -> dict[str, Any]:
    return {"nlist": nlist_for(count)} if kind == "IVF_FLAT" else {}


class Collection:
    """The calls mmsearch makes on one collection, each wrapped by :class:`Connection`."""

    def __init__(self, connection: Connection, name: str, dim: int) -> None:
        self.connection = connection
        self.name = name
        self.dim = dim

    @property
    def _client(self) -> Any:
        return self.connection.client

    def _call(self, doing: str, method: str, *args: Any, **kwargs: Any) -> Any:
        client = self._client
        return self.connection.call(doing, getattr(client, method), *args, **kwargs)

    # -- shape -------------------------------------------------------------------

    def exists(self) -> bool:
        """Whether the collection is there."""
        return bool(self._call("look up the collection", "has_collection", self.name))

    def create(self, kind: str, count: int) -> None:
        """A new, empty collection with a ``kind`` vector index for ``count`` vectors, loaded."""
        from pymilvus import DataType

        schema = self._client.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=self.dim)
        schema.add_field("item_id", DataType.INT64)
        schema.add_field("media_type", DataType.VARCHAR, max_length=16)
        schema.add_field("mtime_ns", DataType.INT64)
        self._call(
            "create the collection",
            "create_collection",
            self.name,
            schema=schema,
            index_params=self._index_params(kind, count),
            consistency_level=CONSISTENCY,
        )
        self.load()

    def drop(self) -> None:
        """Remove the collection and everything in it."""
        if self.exists():
            self._call("drop the collection", "drop_collection", self.name)

    def _index_params(self, kind: str, count: int) -> Any:
        params = self._client.prepare_index_params()
        params.add_index(
            "vector", index_type=kind, metric_type="IP", params=_vector_params(kind, count)
        )
        params.add_index("media_type", index_type="INVERTED")
        params.add_index("mtime_ns", index_type="INVERTED")  # the one scalar index Lite has
        return params

    def kind(self) -> str:
        """The vector index type the collection has (FLAT, IVF_FLAT; HNSW from older versions)."""
        found = self._call("describe the index", "describe_index", self.name, "vector")
        return str(found.get("index_type", ""))

    def reindex(self, kind: str, count: int) -> None:
        """Swap the vector index for one of ``kind`` for ``count`` vectors; Milvus builds it
        from the stored rows."""
        self._call("release the collection", "release_collection", self.name)
        self._call("drop the index", "drop_index", self.name, "vector")
        params = self._client.prepare_index_params()
        params.add_index(
            "vector", index_type=kind, metric_type="IP", params=_vector_params(kind, count)
        )
        self._call("build the index", "create_index", self.name, params)
        self.load()

    def load(self) -> None:
        """Make it searchable (a restarted server holds collections released)."""
        self._call("load the collection", "load_collection", self.name)

    def meta(self) -> Meta:
        """What mmsearch recorded when it last persisted the collection."""
        found = self._call("describe the collection", "describe_collection", self.name)
        return Meta.from_properties(dict(found.get("properties") or {}))

    def set_meta(self, meta: Meta) -> None:
        """Record ``meta`` after flushing the rows, so it never runs ahead of them."""
        self._call("flush the collection", "flush", self.name)
        self._call(
            "record the collection's state",
            "alter_collection_properties",
            self.name,
            properties=meta.properties(),
        )

    # -- rows --------------------------------------------------------------------

    def count(self) -> int:
        """Rows in the collection."""
        rows = self._call("count the vectors", "query", self.name, filter="",
                          output_fields=["count(*)"])  # fmt: skip
        return int(rows[0]["count(*)"])

    def write(self, ids: IdArray, vectors: FloatArray, fields: SegmentFieldLookup | None) -> None:
        """Upsert rows (an upsert, so a batch written twice after a crash is not doubled)."""
        for start in range(0, len(ids), WRITE_ROWS):
            chunk = ids[start : start + WRITE_ROWS]
            rows = vectors[start : start + WRITE_ROWS]
            scalars = fields(chunk) if fields is not None else _no_fields(len(chunk))
            data = [
                {
                    "id": int(sid),
                    "vector": row,
                    "item_id": int(item),
                    "media_type": media,
                    "mtime_ns": int(mtime),
                }
                for sid, row, item, media, mtime in zip(
                    chunk.tolist(), rows, scalars.item_ids.tolist(), scalars.media_types,
                    scalars.mtime_ns.tolist(), strict=True,
                )
            ]  # fmt: skip
            self._call("write vectors", "upsert", self.name, data)

    def delete(self, ids: IdArray) -> None:
        """Delete rows by id (unknown ids are ignored by Milvus)."""
        for start in range(0, len(ids), WRITE_ROWS):
            chunk = [int(i) for i in ids[start : start + WRITE_ROWS]]
            self._call("delete vectors", "delete", self.name, ids=chunk)

    def vectors_of(self, ids: IdArray) -> tuple[IdArray, FloatArray]:
        """Those of ``ids`` the collection holds, with their stored vectors."""
        found_ids: list[int] = []
        found_rows: list[Any] = []
        for start in range(0, len(ids), WRITE_ROWS):
            chunk = [int(i) for i in ids[start : start + WRITE_ROWS]]
            for row in self._call("read vectors", "get", self.name, ids=chunk,
                                  output_fields=["vector"]):  # fmt: skip
                found_ids.append(int(row["id"]))
                found_rows.append(row["vector"])
        return _arrays(found_ids, found_rows, self.dim)

    def scan(self, with_vectors: bool) -> Iterator[tuple[IdArray, FloatArray | None]]:
        """Every row's id (and vector), batch by batch."""
        fields = ["id", "vector"] if with_vectors else ["id"]
        iterator = self._call("read the collection", "query_iterator", self.name,
                              batch_size=SCAN_ROWS, filter="", output_fields=fields)  # fmt: skip
        try:
            while True:
                batch = self.connection.call("read the collection", iterator.next)
                if not batch:
                    return
                ids = [int(row["id"]) for row in batch]
                if with_vectors:
                    yield _arrays(ids, [row["vector"] for row in batch], self.dim)
                else:
                    yield np.asarray(ids, dtype=np.int64), None
        finally:
            iterator.close()

    def search(
        self, query: FloatArray, k: int, expression: str, kind: str
    ) -> tuple[IdArray, FloatArray]:
        """The ``k`` best rows by inner product among those ``expression`` lets through."""
        params: dict[str, Any] = {"metric_type": "IP"}
        if kind == "IVF_FLAT":
            params["params"] = {"nprobe": IVF_NPROBE}
        elif kind == "HNSW":
            params["params"] = {"ef": max(HNSW_EF_MIN, k)}
        found = self._call(
            "search", "search", self.name, [np.asarray(query, dtype=np.float32)],
            limit=k, filter=expression, search_params=params, output_fields=["id"],
        )  # fmt: skip
        hits = found[0] if found else []
        ids = np.asarray([int(h["id"]) for h in hits], dtype=np.int64)
        scores = np.asarray([float(h["distance"]) for h in hits], dtype=np.float32)
        return ids, scores


def _no_fields(count: int) -> SegmentFields:
    """Where there is no catalog to ask (a test space): no item, no type, no date."""
    return SegmentFields(
        np.full(count, -1, dtype=np.int64), ("",) * count, np.zeros(count, dtype=np.int64)
    )


def _arrays(ids: list[int], rows: list[Any], dim: int) -> tuple[IdArray, FloatArray]:
    if not ids:
        return np.empty(0, dtype=np.int64), np.empty((0, dim), dtype=np.float32)
    return np.asarray(ids, dtype=np.int64), np.asarray(rows, dtype=np.float32).reshape(-1, dim)
