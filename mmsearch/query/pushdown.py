"""Type and date filters evaluated by a vector store that keeps the fields (Milvus).

A query filtered only by ``type:``, ``after:`` and ``before:`` needs no allow-list from
SQL when every space's index filters natively: the store evaluates the filter itself. The
store's copy of a file's fields can lag the catalog's (a file moved with a new mtime keeps
its vectors, and so its stored mtime), so the hits are checked against the catalog; if any
fails there, the caller falls back to the exact allow-list.
"""

from __future__ import annotations

import sqlite3

from mmsearch.contracts import FloatArray, IdArray, SegmentFilter, VectorIndex
from mmsearch.query.filtersql import ItemFilter
from mmsearch.store.catalog import chunks


def pushable(item_filter: ItemFilter, indexes: list[VectorIndex]) -> SegmentFilter | None:
    """The store-side form of the filter, or None when it needs an allow-list."""
    f = item_filter.filters
    if (
        not item_filter.active
        or not indexes
        or not all(index.filters_natively for index in indexes)
    ):
        return None
    if f.extensions or f.paths or f.duration is not None or item_filter.within:
        return None
    if item_filter.phrases:
        return None
    return SegmentFilter(
        media_types=frozenset(f.types),
        mtime_min_ns=None if f.after is None else int(f.after.timestamp() * 1e9),
        mtime_max_ns=None if f.before is None else int(f.before.timestamp() * 1e9),
    )


def search_pushed(
    conn: sqlite3.Connection,
    item_filter: ItemFilter,
    index: VectorIndex,
    query: FloatArray,
    depth: int,
    where: SegmentFilter,
) -> tuple[IdArray, FloatArray] | None:
    """The store's filtered hits when the catalog agrees with every one of them, else None."""
    ids, sims = index.search_where(query, depth, where)
    if len(ids) and len(passing(conn, item_filter, ids.tolist())) < len(ids):
        return None
    return ids, sims


def passing(conn: sqlite3.Connection, item_filter: ItemFilter, ids: list[int]) -> set[int]:
    """Those segment ids whose files the filter lets through, by the catalog."""
    where, params = item_filter.where()
    found: set[int] = set()
    for chunk in chunks(ids):
        sql = (
            "SELECT s.id FROM segments s JOIN items i ON i.id = s.item_id "
            f"JOIN roots r ON r.id = i.root_id WHERE s.id IN ({','.join('?' * len(chunk))}) "
            f"AND {where}"
        )
        found.update(row[0] for row in conn.execute(sql, [*chunk, *params]))
    return found
