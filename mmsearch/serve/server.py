"""Running the server: uvicorn in the foreground, the discovery file, a clean stop.

uvicorn handles SIGINT and SIGTERM by finishing the requests in flight; on the way out the
index jobs are cancelled (each stops at its next file, its committed batches kept), the
watcher stops, the libraries close, and the discovery file is removed.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import uvicorn

from mmsearch.serve.discovery import ServerInfo, new_token, remove_discovery, write_discovery
from mmsearch.serve.state import Engine, ServeConfig

log = logging.getLogger("mmsearch.serve")


def serve(config: ServeConfig, engine: Engine, on_listening: Callable[[str], None]) -> None:
    """Serve ``engine`` until SIGINT/SIGTERM; ``on_listening`` gets the URL once it listens."""
    from mmsearch.serve.app import create_app
    from mmsearch.serve.jobs import Jobs

    jobs = Jobs(engine)
    app = create_app(engine, jobs)
    uv_config = uvicorn.Config(
        app,
        host=config.host,
        port=config.port,
        log_level="warning",  # one line per request is ours (mmsearch.serve at INFO)
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=10,
    )
    server = _Server(uv_config)
    info: ServerInfo | None = None
    watcher = None
    loader = threading.Thread(target=_load, args=(engine, jobs), name="load", daemon=True)

    def started() -> None:
        nonlocal info, watcher
        port = _bound_port(server) or config.port
        connect = "127.0.0.1" if config.host in ("0.0.0.0", "") else config.host
        connect = "::1" if connect == "::" else connect
        info = ServerInfo(connect, port, os.getpid(), config.token or new_token(),
                          str(config.db_path))  # fmt: skip
        write_discovery(info)
        on_listening(info.base_url)
        loader.start()
        if config.watch:
            from mmsearch.serve.watch import Watcher

            watcher = Watcher(engine, jobs, config.watch)
            watcher.start()

    try:
        _run(server, started)
    finally:
        if watcher is not None:
            watcher.stop()
        jobs.stop()
        if loader.is_alive():
            loader.join(30)
        engine.close()
        if info is not None:
            remove_discovery(info)


def _load(engine: Engine, jobs: object) -> None:
    engine.load()


class _Server(uvicorn.Server):
    """uvicorn's server, minus re-raising SIGINT/SIGTERM once it has shut down.

    uvicorn re-raises the signal it stopped for, which would kill the process before the
    jobs are stopped and the discovery file removed; the stop is ours to finish.
    """

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        with super().capture_signals():
            try:
                yield
            finally:
                getattr(self, "_captured_signals", []).clear()


def _bound_port(server: _Server) -> int | None:
    for srv in server.servers:
        for sock in srv.sockets:
            return int(sock.getsockname()[1])
    return None


def _run(server: _Server, started: Callable[[], None]) -> None:
    """Run uvicorn, calling ``started`` once its sockets listen."""
    import asyncio

    async def main() -> None:
        task = asyncio.create_task(server.serve())
        while not server.started:
            if task.done():
                await task  # it failed to bind: raise its error
                return
            await asyncio.sleep(0.05)
        started()
        await task

    asyncio.run(main())
