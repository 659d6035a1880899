"""The REST API, ``/api/v1``: search, items, status, plugins, index jobs.

Bodies are exactly the CLI's ``--json`` shapes (:mod:`mmsearch.shapes`). Route handlers
that touch the library are plain functions: FastAPI runs them on its thread pool, so a
query in progress never blocks the event loop (or the page's other requests).
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from mmsearch.errors import UsageError
from mmsearch.serve.items import ItemNotFoundError, item_json
from mmsearch.serve.jobs import FINISHED, Job, JobConflictError, Jobs
from mmsearch.serve.search import SearchParams, Upload, relabel, save_uploads, upload_folder
from mmsearch.serve.state import Engine

router = APIRouter(prefix="/api/v1")

Listed = Annotated[list[str], Query()]


def search_params(
    q: Annotated[str | None, Query(description="The query, in the query language.")] = None,
    k: Annotated[int, Query(ge=1, le=1000, description="Number of results.")] = 10,
    type: Annotated[
        list[Literal["image", "audio", "text", "video"]], Query(description="Only these types.")
    ] = [],  # noqa: B006 - FastAPI copies defaults
    ext: Annotated[list[str], Query(description="Only these extensions.")] = [],  # noqa: B006
    path: Annotated[list[str], Query(description="Only paths matching this glob.")] = [],  # noqa: B006
    after: Annotated[str | None, Query(description="Modified on or after (date or age).")] = None,
    before: Annotated[str | None, Query(description="Modified before (date or age).")] = None,
    duration: Annotated[str | None, Query(description="Recording length: '<60s'.")] = None,
    within: Annotated[
        list[str], Query(alias="in", description="Only results under this folder.")
    ] = [],  # noqa: B006
    fusion: Annotated[Literal["score", "rrf"], Query()] = "score",
    signals: Annotated[Literal["both", "vector", "keyword"], Query()] = "both",
    min_score: Annotated[float | None, Query(description="Confidence threshold.")] = None,
    show_weak: Annotated[bool, Query(description="List weak results too.")] = False,
    rerank: Annotated[list[str], Query(description="Rerankers to add (mmr).")] = [],  # noqa: B006
    no_rerank: Annotated[list[str], Query(description="Rerankers to skip.")] = [],  # noqa: B006
    diverse: Annotated[bool, Query(description="Prefer variety (MMR).")] = False,
    diversity: Annotated[float | None, Query(ge=0, le=1)] = None,
    temperature: Annotated[float | None, Query(gt=0)] = None,
    space: Annotated[list[str], Query(description="Search this space (id or encoder).")] = [],  # noqa: B006
    max_image_megapixels: Annotated[float, Query(ge=0.01)] = 100.0,
) -> SearchParams:
    """The query's parameters: one per ``mmsearch query`` flag, with the same meaning."""
    filters: dict[str, list[str]] = {"type": list(type), "ext": ext, "path": path}
    for key, value in (("after", after), ("before", before), ("duration", duration)):
        if value is not None:
            filters[key] = [value]
    return SearchParams(
        q=q, k=k, filters=filters, within=within, fusion=fusion, signals=signals,
        min_score=min_score, show_weak=show_weak, rerank=rerank, no_rerank=no_rerank,
        diverse=diverse, diversity=diversity, temperature=temperature, space=space,
        max_image_megapixels=max_image_megapixels,
    )  # fmt: skip


Params = Annotated[SearchParams, Depends(search_params)]


def _engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def _jobs(request: Request) -> Jobs:
    jobs: Jobs = request.app.state.jobs
    return jobs


def _search(engine: Engine, params: SearchParams, examples: list[Any]) -> dict[str, Any]:
    from mmsearch.shapes import search_json

    params.check(engine.config.max_query_chars)
    if not (params.q and params.q.strip()) and not examples:
        raise UsageError("Give a query text (q=...), or an example file to search by.")
    request = params.request(examples)
    with engine.reading() as lib:
        return search_json(lib.search(params.q, **request))


@router.get("/search", summary="Search by text (the full query language)")
def search_get(request: Request, params: Params) -> dict[str, Any]:
    """The answer of ``mmsearch query --json`` for the same query and flags."""
    return _search(_engine(request), params, [])


@router.post("/search", summary="Search by example files (multipart uploads), with text")
async def search_post(
    request: Request,
    params: Params,
    image: Annotated[list[UploadFile], File(description="Example images.")] = [],  # noqa: B006
    audio: Annotated[list[UploadFile], File(description="Example recordings.")] = [],  # noqa: B006
    spec: Annotated[
        list[str],
        Form(
            description="Per upload, in order (images first): its [WEIGHT:]PATH as the "
            "client names it; weights as for --image, the path shown in the answer."
        ),
    ] = [],  # noqa: B006
    q: Annotated[str | None, Form(description="The query text (or use ?q=).")] = None,
) -> dict[str, Any]:
    """``mmsearch query --image/--audio`` over HTTP: the uploads are the examples."""
    engine = _engine(request)
    if q is not None:
        params.q = q
    files = [("image", f) for f in image] + [("audio", f) for f in audio]
    uploads = [
        Upload(kind, spec[i] if i < len(spec) else (f.filename or kind), f.read)
        for i, (kind, f) in enumerate(files)
    ]
    with upload_folder() as folder:
        saved = await save_uploads(uploads, Path(folder), engine.config.max_upload_bytes)
        names = {os.path.abspath(ex.path): os.path.abspath(given) for ex, given in saved}
        shaped = await asyncio.to_thread(_search, engine, params, [ex for ex, _ in saved])
    return relabel(shaped, names)  # type: ignore[no-any-return]


@router.get("/plan", summary="The query plan (mmsearch query --explain-plan)")
def plan(request: Request, params: Params) -> dict[str, Any]:
    """What the search would run, with its readable lines under ``described``."""
    from mmsearch.shapes import plan_json

    engine = _engine(request)
    params.check(engine.config.max_query_chars)
    with engine.reading() as lib:
        return plan_json(lib.plan(params.q, **params.request()))


@router.get("/items/{item_id}", summary="One item with its segments")
def item(request: Request, item_id: int) -> dict[str, Any]:
    """The file the catalog knows by ``item_id``: path, type, status, every segment."""
    with _engine(request).reading() as lib, lib.catalog.sqlite() as conn:
        return item_json(conn, item_id)


@router.get("/status", summary="Roots, counts, spaces and index health (mmsearch status)")
def status(request: Request) -> dict[str, Any]:
    """The answer of ``mmsearch status --json``, with the server's own state."""
    from mmsearch.shapes import status_json

    engine = _engine(request)
    with engine.reading() as lib:
        return status_json(lib.status())


@router.get("/server", summary="This server: ready, read-only, watched folders, jobs")
def server(request: Request) -> dict[str, Any]:
    """Whether the library is loaded, and what the server was asked to do."""
    engine, jobs = _engine(request), _jobs(request)
    config = engine.config
    running = jobs.running()
    return {
        "ready": engine.ready.is_set() and engine.failure is None,
        "failure": engine.failure,
        "catalog": str(config.db_path),
        "read_only": config.read_only,
        "watch": [str(p) for p in config.watch],
        "job": running.to_json() if running else None,
        "limits": {
            "max_upload_bytes": config.max_upload_bytes,
            "max_query_chars": config.max_query_chars,
        },
    }


@router.get("/plugins", summary="Loaded plugins and failures (mmsearch plugins --json)")
def plugins(request: Request) -> dict[str, Any]:
    """The answer of ``mmsearch plugins --json``."""
    from mmsearch.shapes import plugins_json

    return plugins_json(_engine(request).registry)


class IndexRequest(BaseModel):
    """What to index: folders on the server's machine."""

    paths: list[str] = Field(min_length=1, description="Folders to index (scan, embed, drop gone).")


@router.post("/index", status_code=202, summary="Start an index job")
def start_index(request: Request, body: IndexRequest) -> dict[str, Any]:
    """Start indexing; poll ``/jobs/{job_id}``, stream ``/jobs/{job_id}/events``."""
    engine = _engine(request)
    if engine.config.read_only:
        raise JobConflictError(
            "This server was started with --read-only: it does not index. Run "
            "`mmsearch index FOLDER` instead, or restart the server without --read-only."
        )
    for given in body.paths:
        if not os.path.isdir(given):  # a 400 now, rather than a failed job later
            raise UsageError(f"{given} is not a folder on the server's machine; give a folder.")
    return _jobs(request).start([Path(p) for p in body.paths]).to_json()


@router.get("/jobs", summary="Recent index jobs")
def list_jobs(request: Request) -> dict[str, Any]:
    """The jobs this server kept, newest first."""
    return {"jobs": [j.to_json() for j in _jobs(request).all()]}


def _job(request: Request, job_id: str) -> Job:
    job = _jobs(request).get(job_id)
    if job is None:
        raise ItemNotFoundError(f"No job {job_id} on this server; GET /api/v1/jobs lists them.")
    return job


@router.get("/jobs/{job_id}", summary="An index job's progress")
def get_job(request: Request, job_id: str) -> dict[str, Any]:
    """State (queued, running, done, failed, cancelled), files done of total, the report."""
    return _job(request, job_id).to_json()


@router.delete("/jobs/{job_id}", summary="Cancel an index job")
def cancel_job(request: Request, job_id: str) -> dict[str, Any]:
    """Stop the job at its next file; committed batches stay."""
    _job(request, job_id)
    job = _jobs(request).cancel(job_id)
    assert job is not None
    return job.to_json()


@router.get("/jobs/{job_id}/events", summary="An index job's progress as server-sent events")
async def job_events(request: Request, job_id: str) -> StreamingResponse:
    """``event: progress`` with the job's JSON on every step, ``event: end`` when it ends."""
    job = _job(request, job_id)
    jobs = _jobs(request)

    async def stream() -> AsyncIterator[str]:
        last: str | None = None
        while True:
            shaped = json.dumps(job.to_json())
            if shaped != last:
                last = shaped
                yield f"event: progress\ndata: {shaped}\n\n"
            if job.state in FINISHED:
                yield f"event: end\ndata: {shaped}\n\n"
                return
            if await request.is_disconnected():
                return
            await asyncio.to_thread(_wait, jobs, 0.5)

    return StreamingResponse(stream(), media_type="text/event-stream")


def _wait(jobs: Jobs, seconds: float) -> None:
    with jobs.changed:
        jobs.changed.wait(seconds)
