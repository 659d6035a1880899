"""What ``mmsearch status`` reports: roots, item counts, spaces and index health."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from mmsearch.contracts import IndexHealth, VectorIndex
from mmsearch.safe_text import path_bytes_b64
from mmsearch.store.catalog import Catalog, SpaceInfo
from mmsearch.store.catalog_file import check_intact
from mmsearch.store.schema import Item
from mmsearch.store.space_digests import space_digest


@dataclass(slots=True)
class SpaceStatus:
    """One space and the health of its vector index."""

    id: int
    encoder: str
    checkpoint: str
    dim: int
    vectors: int
    generation: int
    active: bool
    store: str
    index: IndexHealth

    def to_json(self) -> dict[str, Any]:
        """The stable JSON shape of a space."""
        health = self.index.to_json()
        return {
            "id": self.id,
            "encoder": self.encoder,
            "checkpoint": self.checkpoint,
            "dim": self.dim,
            "vectors": self.vectors,
            "generation": self.generation,
            "active": self.active,
            "index": {"store": self.store, "file": health.pop("location"), **health},
        }


@dataclass(slots=True)
class LibraryStatus:
    """A snapshot of a library."""

    catalog: str
    roots: list[dict[str, Any]] = field(default_factory=list)
    items: dict[str, dict[str, int]] = field(default_factory=dict)
    spaces: list[SpaceStatus] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The stable JSON shape printed by ``mmsearch status --json``."""
        return {
            "catalog": self.catalog,
            "roots": self.roots,
            "items": self.items,
            "spaces": [s.to_json() for s in self.spaces],
        }


def collect_status(
    catalog: Catalog, db_path: Path, store: str, index_of: Callable[[SpaceInfo], VectorIndex]
) -> LibraryStatus:
    """Read a status snapshot from the catalog and each space's vector index."""
    check_intact(catalog.engine, db_path)  # a damaged page anywhere is said, not passed over
    status = LibraryStatus(catalog=str(db_path))
    with catalog.engine.connect() as conn:
        per_root = {
            root_id: count
            for root_id, count in conn.execute(
                select(Item.root_id, func.count()).group_by(Item.root_id)
            )
        }
        counts = conn.execute(
            select(Item.media_type, Item.status, func.count()).group_by(
                Item.media_type, Item.status
            )
        )
        for media_type, item_status, count in counts:
            bucket = status.items.setdefault(media_type or "unknown", {})
            bucket[item_status] = int(count)
    for root_id, raw, display in catalog.roots():
        count = int(per_root.get(root_id, 0))
        status.roots.append(
            {"path": display, "path_bytes_b64": path_bytes_b64(raw), "items": count}
        )
    active = catalog.active_space()
    for space in catalog.spaces():
        generation, count = catalog.space_state(space.id)
        status.spaces.append(
            SpaceStatus(
                id=space.id,
                encoder=space.encoder_id,
                checkpoint=space.checkpoint,
                dim=space.dim,
                vectors=count,
                generation=generation,
                active=active is not None and active.id == space.id,
                store=store,
                index=_checked(index_of(space).health(generation, count), catalog, space),
            )
        )
    return status


def _checked(health: IndexHealth, catalog: Catalog, space: SpaceInfo) -> IndexHealth:
    """Not ok when what was persisted holds other vectors than the catalog (digests differ)."""
    expected = space_digest(catalog, space.id)
    if health.state != "ok" or None in (health.digest, expected) or health.digest == expected:
        return health
    health.state = "damaged"
    health.detail = (
        "it holds other vectors than the catalog (their digests differ); "
        "rebuilt from the catalog on the next query"
    )
    return health
