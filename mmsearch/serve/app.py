"""The ASGI app: FastAPI on Starlette, with the server's guards in front of every route.

FastAPI rather than bare Starlette because the API's OpenAPI schema (and from it the REST
reference in docs/serve.md) comes from the route signatures themselves, and parameters are
validated into 400s before any engine code runs; it is Starlette underneath, so ranged file
responses, streaming (server-sent events) and middleware are Starlette's, on uvicorn.

Guards, in order: the Host header must name this server (DNS rebinding), the token must
come with every request when one is set, and a body over the upload cap is refused before
it is read. Each request is logged on one line at INFO.
"""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.middleware.cors import CORSMiddleware

from mmsearch.errors import CatalogError, LockedError, MmsearchError, UsageError
from mmsearch.serve.items import ItemNotFoundError
from mmsearch.serve.jobs import JobConflictError, Jobs
from mmsearch.serve.search import UploadTooLargeError
from mmsearch.serve.state import Engine, NotReadyError

log = logging.getLogger("mmsearch.serve")

API_VERSION = "v1"
TOKEN_COOKIE = "mmsearch_token"


def error(status: int, message: str) -> JSONResponse:
    """The JSON every error is: its status and a message that says what to do."""
    return JSONResponse({"error": {"status": status, "message": message}}, status_code=status)


def create_app(engine: Engine, jobs: Jobs | None = None) -> FastAPI:
    """The app serving ``engine``'s library: API, media, thumbnails and the page."""
    from mmsearch.serve import routes, web

    app = FastAPI(
        title="mmsearch",
        version=API_VERSION,
        summary="Search your photos, recordings and documents by meaning.",
        docs_url=None,  # Swagger UI would load its assets from a CDN
        redoc_url=None,
        openapi_url=f"/api/{API_VERSION}/openapi.json",
    )
    app.state.engine = engine
    app.state.jobs = jobs or Jobs(engine)
    _add_error_handlers(app)
    app.include_router(routes.router)
    app.include_router(web.router)
    if engine.config.cors:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(engine.config.cors),
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "X-MMSearch-Token", "Content-Type"],
        )
    app.middleware("http")(_guard)
    return app


async def _guard(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
    started = time.perf_counter()
    response = _refusal(request) or await call_next(request)
    log.info(
        "%s %s %d %.1f ms",
        request.method,
        request.url.path,
        response.status_code,
        (time.perf_counter() - started) * 1000,
    )
    return response


def _refusal(request: Request) -> Response | None:
    """The error a request gets before any route sees it, or None to let it through."""
    engine: Engine = request.app.state.engine
    config = engine.config
    host = _host_name(request.headers.get("host", ""))
    if host not in config.hosts():
        return error(
            400,
            f"This server does not answer to the host name {host!r} (a defence against DNS "
            "rebinding). Use http://127.0.0.1, or start it with --allow-host NAME.",
        )
    if config.token is not None and not _token_ok(request, config.token):
        return error(
            401,
            "This server needs its token: send 'Authorization: Bearer TOKEN' (or open the "
            "page once as /?token=TOKEN). The token is the one `mmsearch serve` was given.",
        )
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > config.max_upload_bytes + 65536:
        return error(
            413,
            f"The request body ({int(length):,} bytes) is over this server's upload cap of "
            f"{config.max_upload_bytes:,} bytes; send a smaller file.",
        )
    return None


def _host_name(header: str) -> str:
    header = header.strip().lower()
    if header.startswith("["):
        return header[1 : header.find("]")] if "]" in header else header
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


def _token_ok(request: Request, token: str) -> bool:
    auth = request.headers.get("authorization", "")
    given = [
        auth[7:] if auth.lower().startswith("bearer ") else "",
        request.headers.get("x-mmsearch-token", ""),
        request.cookies.get(TOKEN_COOKIE, ""),
        request.query_params.get("token", ""),
    ]
    return any(g and hmac.compare_digest(g.encode(), token.encode()) for g in given)


def _add_error_handlers(app: FastAPI) -> None:
    statuses: list[tuple[type[Exception], int]] = [
        (UsageError, 400),
        (ItemNotFoundError, 404),
        (JobConflictError, 409),
        (LockedError, 409),
        (UploadTooLargeError, 413),
        (NotReadyError, 503),
        (CatalogError, 500),
        (MmsearchError, 500),
    ]
    for kind, status in statuses:
        app.add_exception_handler(kind, _handler(status))
    app.add_exception_handler(RequestValidationError, _invalid)


def _handler(status: int) -> Callable[[Request, Any], Awaitable[Response]]:
    async def handle(_request: Request, exc: Any) -> Response:
        return error(status, str(exc))

    return handle


async def _invalid(_request: Request, exc: Any) -> Response:
    problems = "; ".join(
        f"{'.'.join(str(p) for p in e['loc'] if p not in ('query', 'body'))}: {e['msg']}"
        for e in exc.errors()
    )
    return error(400, f"Bad parameters: {problems}. See /api/{API_VERSION}/openapi.json.")
