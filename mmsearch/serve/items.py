"""Items by catalog id: the JSON of ``GET /api/v1/items/{id}`` and the file behind it.

Media and thumbnails are only ever found this way, from an id the catalog gave out: a
path from a request is never opened, so nothing outside the catalog can be served.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from typing import Any

from mmsearch.safe_text import path_bytes_b64


@dataclass(frozen=True, slots=True)
class ItemFile:
    """An indexed file: where it is and what the catalog knows of it."""

    item_id: int
    path: bytes
    display: str
    media_type: str | None
    status: str
    size: int
    mtime_ns: int
    extractor: str | None


class ItemNotFoundError(LookupError):
    """No item has this id (404)."""


def item_file(conn: sqlite3.Connection, item_id: int) -> ItemFile:
    """The file of item ``item_id``; raises :class:`ItemNotFoundError`."""
    row = conn.execute(
        "SELECT i.id, r.path, i.relpath, i.display, i.media_type, i.status, i.size, "
        "i.mtime_ns, i.extractor FROM items i JOIN roots r ON r.id = i.root_id WHERE i.id = ?",
        (item_id,),
    ).fetchone()
    if row is None:
        raise ItemNotFoundError(
            f"No item {item_id} in this catalog (it may have been removed); run the search "
            "again for current ids."
        )
    item, root, relpath, display, media_type, status, size, mtime_ns, extractor = row
    full = bytes(root).rstrip(b"/") + b"/" + bytes(relpath)
    return ItemFile(item, full, display, media_type, status, size, mtime_ns, extractor)


def item_json(conn: sqlite3.Connection, item_id: int) -> dict[str, Any]:
    """One item with its segments, in the shape hits use for theirs."""
    from mmsearch.index.report import display_path

    found = item_file(conn, item_id)
    segments = [
        {
            "segment_id": sid,
            "ordinal": ordinal,
            "kind": kind,
            "modality": modality,
            "start": start,
            "end": end,
            "text": text,
            "char_start": c_start,
            "char_end": c_end,
        }
        for sid, ordinal, kind, modality, start, end, text, c_start, c_end in conn.execute(
            'SELECT id, ordinal, kind, modality, start, "end", text, char_start, char_end '
            "FROM segments WHERE item_id = ? ORDER BY ordinal",
            (item_id,),
        )
    ]
    return {
        "item_id": found.item_id,
        "path": display_path(found.path),
        "path_bytes_b64": path_bytes_b64(found.path),
        "name": found.display,
        "modality": found.media_type,
        "status": found.status,
        "size": found.size,
        "mtime_ns": found.mtime_ns,
        "media_url": f"/media/{found.item_id}",
        "thumb_url": f"/thumb/{found.item_id}",
        "segments": segments,
    }


def current_file(found: ItemFile) -> os.stat_result:
    """The file's stat now; raises :class:`ItemNotFoundError` when it is gone from disk."""
    try:
        info = os.stat(found.path)
    except OSError as exc:
        raise ItemNotFoundError(
            f"The file of item {found.item_id} ({found.display}) is not on disk now "
            f"({exc.strerror}); index its folder again to update the catalog."
        ) from exc
    return info
