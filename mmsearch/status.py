"""What ``mmsearch status`` reports: roots, item counts, spaces and index health."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from mmsearch.catalog.catalog import Catalog
from mmsearch.catalog.schema import Item
from mmsearch.locations import index_folder
from mmsearch.vectorstore import FaissStore, IndexFileError


@dataclass(slots=True)
class SpaceStatus:
    """One space and the state of its vector index file."""

    id: int
    encoder: str
    checkpoint: str
    dim: int
    vectors: int
    generation: int
    active: bool
    index_file: str
    index_state: str  # ok | stale | missing | damaged
    index_detail: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The stable JSON shape of a space."""
        return {
            "id": self.id,
            "encoder": self.encoder,
            "checkpoint": self.checkpoint,
            "dim": self.dim,
            "vectors": self.vectors,
            "generation": self.generation,
            "active": self.active,
            "index": {
                "file": self.index_file,
                "state": self.index_state,
                "detail": self.index_detail,
            },
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


def collect_status(catalog: Catalog, db_path: Path) -> LibraryStatus:
    """Read a status snapshot from the catalog and the index files."""
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
    for root_id, _path, display in catalog.roots():
        status.roots.append({"path": display, "items": int(per_root.get(root_id, 0))})
    active = catalog.active_space()
    for space in catalog.spaces():
        generation, count = catalog.space_state(space.id)
        path = index_folder(db_path) / f"space-{space.id}.faiss"
        state, detail = _index_health(FaissStore(path, space.id, space.dim), generation, count)
        status.spaces.append(
            SpaceStatus(
                id=space.id,
                encoder=space.encoder_id,
                checkpoint=space.checkpoint,
                dim=space.dim,
                vectors=count,
                generation=generation,
                active=active is not None and active.id == space.id,
                index_file=str(path),
                index_state=state,
                index_detail=detail,
            )
        )
    return status


def _index_health(store: FaissStore, generation: int, count: int) -> tuple[str, str | None]:
    if not store.path.exists():
        return ("missing", "rebuilt from the catalog on the next query") if count else ("ok", None)
    try:
        header = store.read_header()
    except IndexFileError as exc:
        return "damaged", f"{exc}; rebuilt from the catalog on the next query"
    if header.generation != generation or header.ntotal != count:
        return "stale", f"file has {header.ntotal} vectors, catalog {count}; rebuilt on next query"
    return "ok", None
