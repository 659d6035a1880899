"""Thumbnails, made on demand through the catalog's own decoder and cached beside it.

An image (or a video frame segment) is decoded by the extractor that indexed the file, so
what the page shows is what was embedded, with the same megapixel cap against bombs. The
cache (``CATALOG.thumbs/``) is keyed by item, segment, size and the file's size and mtime,
so a changed file gets a new thumbnail; older ones of the item are deleted when a new one
is written. Recordings and documents get an icon.
"""

from __future__ import annotations

import io
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mmsearch.serve.items import ItemFile, current_file

if TYPE_CHECKING:
    from mmsearch.plugins import Registry

log = logging.getLogger("mmsearch.serve")

_ICON = """<svg xmlns="http://www.w3.org/2000/svg" width="{s}" height="{s}" viewBox="0 0 64 64">
<rect width="64" height="64" rx="8" fill="{bg}"/>{shape}
<text x="32" y="58" font-family="sans-serif" font-size="9" text-anchor="middle"
fill="#fff">{label}</text></svg>"""
_SHAPES = {
    "audio": '<path d="M10 32h4M18 22v20M24 14v36M30 24v16M36 10v44M42 20v24M48 28v8M54 32h2" '
    'stroke="#fff" stroke-width="3" stroke-linecap="round"/>',
    "text": '<path d="M16 12h24l8 8v28H16z" fill="none" stroke="#fff" stroke-width="3"/>'
    '<path d="M22 26h20M22 33h20M22 40h14" stroke="#fff" stroke-width="2"/>',
}
_COLOURS = {"audio": "#6a4c93", "text": "#1982c4", "video": "#8ac926"}


def thumb_folder(db_path: Path) -> Path:
    """Where the thumbnails of the catalog at ``db_path`` are cached."""
    return db_path.with_name(db_path.name + ".thumbs")


def icon(media_type: str | None, size: int, label: str) -> bytes:
    """An SVG icon for a file that has no picture."""
    kind = media_type or "unknown"
    safe = "".join(c for c in label.upper()[:5] if c.isalnum())
    return _ICON.format(
        s=size,
        bg=_COLOURS.get(kind, "#555"),
        shape=_SHAPES.get(kind, _SHAPES["text"]),
        label=safe,
    ).encode()


def thumbnail(
    found: ItemFile, segment: dict[str, Any] | None, size: int, db_path: Path, registry: Registry
) -> tuple[bytes, str]:
    """The thumbnail's bytes and media type: a cached or new JPEG, else an SVG icon."""
    ext = os.path.splitext(found.display)[1].lstrip(".") or (found.media_type or "file")
    wants_picture = found.media_type == "image" or (segment or {}).get("modality") == "image"
    if not wants_picture:
        return icon(found.media_type, size, ext), "image/svg+xml"
    info = current_file(found)
    sid = (segment or {}).get("segment_id", 0)
    folder = thumb_folder(db_path)
    cached = folder / f"{found.item_id}-{sid}-{size}-{info.st_size}-{info.st_mtime_ns}.jpg"
    try:
        return cached.read_bytes(), "image/jpeg"
    except OSError:
        pass
    picture = _decode(found, segment, registry)
    if picture is None:
        return icon(found.media_type, size, ext), "image/svg+xml"
    data = _jpeg(picture, size)
    _store(folder, cached, data, f"{found.item_id}-", f"-{info.st_size}-{info.st_mtime_ns}.jpg")
    return data, "image/jpeg"


def _decode(found: ItemFile, segment: dict[str, Any] | None, registry: Registry) -> Any:
    """The segment's picture as its extractor decodes it, or None when it cannot."""
    from mmsearch.contracts import ExtractSettings, SkipFile, Source

    extractor = next((e for e in registry.extractors if e.name == found.extractor), None)
    if extractor is None:
        return None
    source = Source(found.path, found.display, found.size, ExtractSettings())
    want = (segment or {}).get("start")
    try:
        images = [s for s in extractor.extract(source) if s.modality == "image"]
    except (SkipFile, OSError, ValueError) as exc:
        log.warning("No thumbnail for %s: %s", found.display, exc)
        return None
    if not images:
        return None
    if want is None:
        return images[0].content
    return min(images, key=lambda s: abs((s.start or 0.0) - want)).content


def _jpeg(picture: Any, size: int) -> bytes:
    from PIL import Image

    image = picture if isinstance(picture, Image.Image) else Image.fromarray(picture)
    image = image.convert("RGB")
    image.thumbnail((size, size))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=82)
    return out.getvalue()


def _store(folder: Path, cached: Path, data: bytes, item: str, stamp: str) -> None:
    try:
        folder.mkdir(mode=0o700, exist_ok=True)
        for old in folder.glob(f"{item}*.jpg"):
            if not old.name.endswith(stamp):
                old.unlink(missing_ok=True)  # made from the file before it changed
        temp = cached.with_suffix(f".{os.getpid()}.tmp")
        temp.write_bytes(data)
        os.replace(temp, cached)
    except OSError as exc:
        log.warning("Could not cache a thumbnail in %s (%s); made again next time.", folder, exc)
