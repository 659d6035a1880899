"""What the catalog remembers of a root's folder: which filesystem object it was."""

from __future__ import annotations

from sqlalchemy import select, update

from mmsearch.store.catalog import Catalog
from mmsearch.store.schema import Root


def root_identity(catalog: Catalog, root_id: int) -> str | None:
    """``"device:inode"`` of the root's folder when it was last indexed, or None if never."""
    with catalog.engine.connect() as conn:
        found = conn.scalar(select(Root.identity).where(Root.id == root_id))
    return None if found is None else str(found)


def set_root_identity(catalog: Catalog, root_id: int, identity: str) -> None:
    """Remember ``"device:inode"`` of the root's folder as indexed now."""
    with catalog.engine.begin() as conn:
        conn.execute(update(Root).where(Root.id == root_id).values(identity=identity))
