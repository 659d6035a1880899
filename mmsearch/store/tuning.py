"""What ``mmsearch feedback`` and ``mmsearch tune`` keep in the catalog: labels and adapters."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from sqlalchemy import delete, insert, select, update

from mmsearch.store.catalog import Catalog
from mmsearch.store.schema import Adapter, Feedback, Item, Root, Segment, Vector

FloatArray = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class FeedbackRow:
    """One stored judgement: a query, a file, good or bad."""

    id: int
    query: str
    item_id: int
    path: str
    good: bool
    created_at: float


@dataclass(frozen=True, slots=True)
class AdapterRow:
    """One stored adapter of a space."""

    space_id: int
    name: str
    active: bool
    data: bytes
    report: str
    created_at: float


def item_id_of(catalog: Catalog, path: bytes) -> int | None:
    """The id of the done item at ``path`` (absolute bytes), if indexed."""
    with catalog.engine.connect() as conn:
        for root_id, root in conn.execute(select(Root.id, Root.path)):
            prefix = root.rstrip(b"/") + b"/"
            if path.startswith(prefix):
                found = conn.scalar(
                    select(Item.id).where(
                        Item.root_id == root_id,
                        Item.relpath == path[len(prefix) :],
                        Item.status == "done",
                    )
                )
                if found is not None:
                    return int(found)
    return None


def add_feedback(catalog: Catalog, query: str, item_id: int, good: bool) -> int:
    """Store one judgement; the id of the new row."""
    with catalog.engine.begin() as conn:
        row = {"query": query, "item_id": item_id, "good": good, "created_at": time.time()}
        result = conn.execute(insert(Feedback).returning(Feedback.id), [row])
        return int(result.scalar_one())


def feedback_rows(catalog: Catalog) -> list[FeedbackRow]:
    """Every stored judgement, oldest first, with its file's shown path."""
    stmt = (
        select(Feedback.id, Feedback.query, Feedback.item_id, Root.display, Item.display,
               Feedback.good, Feedback.created_at)
        .join(Item, Item.id == Feedback.item_id)
        .join(Root, Root.id == Item.root_id)
        .order_by(Feedback.id)
    )  # fmt: skip
    with catalog.engine.connect() as conn:
        return [
            FeedbackRow(int(i), str(q), int(item), f"{root.rstrip('/')}/{rel}", bool(g), float(t))
            for i, q, item, root, rel, g, t in conn.execute(stmt)
        ]


def clear_feedback(catalog: Catalog) -> int:
    """Forget every judgement; how many there were."""
    with catalog.engine.begin() as conn:
        return int(conn.execute(delete(Feedback)).rowcount or 0)


def space_item_vectors(
    catalog: Catalog, space_id: int, dim: int
) -> tuple[npt.NDArray[np.int64], list[str], FloatArray]:
    """Each vector of a space with its item and its segment's modality (done items only)."""
    stmt = (
        select(Segment.item_id, Segment.modality, Vector.data)
        .join(Segment, Segment.id == Vector.segment_id)
        .join(Item, Item.id == Segment.item_id)
        .where(Vector.space_id == space_id, Item.status == "done")
        .order_by(Vector.segment_id)
    )
    items: list[int] = []
    modalities: list[str] = []
    rows: list[FloatArray] = []
    with catalog.engine.connect() as conn:
        for item_id, modality, data in conn.execute(stmt):
            items.append(int(item_id))
            modalities.append(str(modality))
            rows.append(np.frombuffer(data, dtype=np.float32))
    matrix = np.stack(rows) if rows else np.empty((0, dim), dtype=np.float32)
    return np.asarray(items, dtype=np.int64), modalities, matrix


def save_adapter(
    catalog: Catalog, space_id: int, name: str, data: bytes, report: str, *, activate: bool
) -> None:
    """Store (or replace) a space's named adapter; ``activate`` makes it the only active one."""
    with catalog.engine.begin() as conn:
        conn.execute(delete(Adapter).where(Adapter.space_id == space_id, Adapter.name == name))
        if activate:
            conn.execute(update(Adapter).where(Adapter.space_id == space_id).values(active=False))
        row = {"space_id": space_id, "name": name, "active": activate, "data": data,
               "report": report, "created_at": time.time()}  # fmt: skip
        conn.execute(insert(Adapter), [row])


def adapters(catalog: Catalog, space_id: int | None = None) -> list[AdapterRow]:
    """The stored adapters (of one space, or all), by space then name."""
    stmt = select(Adapter.space_id, Adapter.name, Adapter.active, Adapter.data, Adapter.report,
                  Adapter.created_at).order_by(Adapter.space_id, Adapter.name)  # fmt: skip
    if space_id is not None:
        stmt = stmt.where(Adapter.space_id == space_id)
    with catalog.engine.connect() as conn:
        return [AdapterRow(int(s), str(n), bool(a), bytes(d), str(r), float(t))
                for s, n, a, d, r, t in conn.execute(stmt)]  # fmt: skip


def set_active(catalog: Catalog, space_id: int, name: str | None) -> bool:
    """Make ``name`` the space's active adapter (None: none); False if there is no such one."""
    with catalog.engine.begin() as conn:
        if name is not None:
            exists = conn.scalar(
                select(Adapter.id).where(Adapter.space_id == space_id, Adapter.name == name)
            )
            if exists is None:
                return False
        conn.execute(update(Adapter).where(Adapter.space_id == space_id).values(active=False))
        if name is not None:
            conn.execute(
                update(Adapter)
                .where(Adapter.space_id == space_id, Adapter.name == name)
                .values(active=True)
            )
    return True
