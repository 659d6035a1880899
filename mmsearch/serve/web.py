"""What a browser fetches: the page and its assets, media with Range, thumbnails.

Media and thumbnails are addressed by catalog id only; the file served is the one the
catalog holds for that id (a path in a request is never opened).
"""

from __future__ import annotations

import mimetypes
import os
from importlib import resources
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, Response

from mmsearch.serve.app import TOKEN_COOKIE
from mmsearch.serve.items import ItemNotFoundError, current_file, item_file
from mmsearch.serve.state import Engine
from mmsearch.serve.thumbs import thumbnail

router = APIRouter()

_ASSETS = {"app.js": "text/javascript", "app.css": "text/css", "favicon.svg": "image/svg+xml"}
_SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; media-src 'self'; "
    "style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def _static(name: str) -> bytes:
    return resources.files("mmsearch.serve").joinpath("static", name).read_bytes()


@router.get("/", include_in_schema=False)
def page(request: Request) -> Response:
    """The search page (``/?q=...`` opens with that search run)."""
    response = HTMLResponse(_static("index.html"), headers=_SECURITY_HEADERS)
    token = request.query_params.get("token")
    if token and request.app.state.engine.config.token == token:
        # Media and thumbnails are fetched by <img>/<audio>, which cannot send a header.
        response.set_cookie(TOKEN_COOKIE, token, httponly=True, samesite="strict")
    return response


@router.get("/static/{name}", include_in_schema=False)
def asset(name: str) -> Response:
    """The page's own scripts and styles (vendored: no CDN, no build step)."""
    kind = _ASSETS.get(name)
    if kind is None:
        raise ItemNotFoundError(f"No asset {name!r}; the page's assets are {', '.join(_ASSETS)}.")
    return Response(_static(name), media_type=kind, headers={"Cache-Control": "no-cache"})


def _engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


@router.get("/media/{item_id}", summary="The file of an item (Range requests for seeking)")
def media(request: Request, item_id: int) -> Response:
    """The indexed file itself; players seek with Range requests (206)."""
    with _engine(request).reading() as lib, lib.catalog.sqlite() as conn:
        found = item_file(conn, item_id)
    if found.status != "done":
        raise ItemNotFoundError(f"Item {item_id} ({found.display}) is {found.status}, not indexed.")
    info = current_file(found)
    kind = mimetypes.guess_type(found.display)[0] or "application/octet-stream"
    return FileResponse(
        os.fsdecode(found.path),
        media_type=kind,
        stat_result=info,
        headers={"X-Content-Type-Options": "nosniff", "Content-Security-Policy": "sandbox"},
        content_disposition_type="inline",
    )


@router.get("/thumb/{item_id}", summary="A thumbnail of an item (or of one of its segments)")
def thumb(
    request: Request,
    item_id: int,
    size: Annotated[int, Query(ge=16, le=1024)] = 256,
    segment: Annotated[int | None, Query(description="A segment id (a video frame).")] = None,
) -> Response:
    """A JPEG made through the catalog's decoder (cached), or an SVG icon for audio and text."""
    engine = _engine(request)
    sizes = engine.config.thumb_sizes
    size = min(sizes, key=lambda s: (s < size, abs(s - size)))  # a few sizes: a bounded cache
    with engine.reading() as lib, lib.catalog.sqlite() as conn:
        found = item_file(conn, item_id)
        chosen = None
        if segment is not None:
            row = conn.execute(
                "SELECT id, modality, start FROM segments WHERE id = ? AND item_id = ?",
                (segment, item_id),
            ).fetchone()
            if row is None:
                raise ItemNotFoundError(f"Item {item_id} has no segment {segment}.")
            chosen = {"segment_id": row[0], "modality": row[1], "start": row[2]}
        data, kind = thumbnail(found, chosen, size, Path(engine.config.db_path), engine.registry)
    return Response(data, media_type=kind, headers={"Cache-Control": "private, max-age=60"})
