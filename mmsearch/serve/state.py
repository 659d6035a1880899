"""What a server holds: its settings, the open library (loaded once, kept warm), the writer.

Queries go to a few read-only :class:`~mmsearch.Library` objects (``--readers``; the
encoders loaded at start, once, and shared); index jobs and watched folders write through
one more that shares those encoders too, so one set of weights serves all and a query never
waits for an index run: a reader catches its index up when the writer's commits bump its
generation (:mod:`mmsearch.store.catch_up`). A :class:`~mmsearch.Library` is not made for
concurrent use, so each query borrows a reader of its own from the pool, and waits only when
all are busy.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mmsearch.library import Library
    from mmsearch.plugins import Registry

log = logging.getLogger("mmsearch.serve")

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


@dataclass(frozen=True, slots=True)
class ServeConfig:
    """How ``mmsearch serve`` was asked to run."""

    db_path: Path
    host: str = "127.0.0.1"
    port: int = 8765
    token: str | None = None
    """Required on every request when set (it must be, to bind beyond loopback)."""
    read_only: bool = False
    cors: tuple[str, ...] = ()
    allowed_hosts: tuple[str, ...] = ()
    """Host names accepted besides loopback and the bound address (DNS rebinding defence)."""
    watch: tuple[Path, ...] = ()
    store: str | None = None
    max_upload_bytes: int = 50_000_000
    max_query_chars: int = 2000
    thumb_sizes: tuple[int, ...] = (128, 256, 512)
    readers: int = 1
    """Queries answered at once: each reader holds its own catalog connection and copy of
    the vector indexes (the weights are shared, and embed one query at a time), so memory
    grows with it. One by default: on 2 cores a second reader gained nothing
    (bench/serve_load.py --readers 1,2: 19.2 against 16.2 requests/s, 8 clients at 100,000
    segments), and each reader keeps its own indexes in step with an index job's commits."""

    def hosts(self) -> frozenset[str]:
        """Every Host header name this server answers to."""
        return LOOPBACK_HOSTS | {self.host.strip("[]")} | {h.lower() for h in self.allowed_hosts}


class NotReadyError(Exception):
    """The library is still loading (503), or failed to load (its message says why)."""


@dataclass
class Engine:
    """The server's library: loaded in the background, then used under locks."""

    config: ServeConfig
    registry: Registry
    ready: threading.Event = field(default_factory=threading.Event)
    failure: str | None = None
    _reader: Library | None = None
    """The first reader: what the others share encoders with."""
    _readers: list[Library] = field(default_factory=list)
    _idle: queue.LifoQueue[Library] = field(default_factory=queue.LifoQueue)
    """Readers not answering a query now; the warmest (last returned) is lent first."""
    _writer: Library | None = None
    write_lock: threading.Lock = field(default_factory=threading.Lock)
    """Held by the one index run at a time (jobs and watched folders)."""

    def load(self) -> None:
        """Open the library and warm it up: its encoders and vector indexes load now."""
        from mmsearch.library import Library

        try:
            if not self.config.read_only:
                # Opened first: it creates a new catalog (the page can start indexing) or
                # upgrades an older one, as `mmsearch index` would.
                self._writer = Library.open(
                    self.config.db_path, registry=self.registry, store=self.config.store
                )
            readers: list[Library] = []
            for _ in range(max(1, self.config.readers)):
                reader = Library.open(
                    self.config.db_path,
                    registry=self.registry,
                    store=self.config.store,
                    read_only=True,
                )
                readers.append(reader)
                if len(readers) > 1:
                    reader.share_encoders(readers[0])
                reader.search("warm up")  # the weights (once) and this reader's indexes, now
            self._readers = readers
            for reader in readers:
                self._idle.put(reader)
            reader = self._reader = readers[0]
            if self._writer is not None:
                self._writer.share_encoders(reader)
            log.info(
                "library %s loaded; answering queries (%d at once)",
                self.config.db_path,
                len(self._readers),
            )
        except Exception as exc:  # any failure is reported by every request, not a crash
            self.failure = f"{exc.__class__.__name__}: {exc}" if not str(exc) else str(exc)
            log.error("The library could not be opened: %s", exc)
        finally:
            self.ready.set()

    def _check(self) -> Library:
        if not self.ready.is_set():
            raise NotReadyError("The library is still loading its models; try again shortly.")
        if self._reader is None:
            raise NotReadyError(
                f"The library could not be opened: {(self.failure or '').rstrip('.')}. Fix that "
                "and restart "
                "`mmsearch serve`."
            )
        return self._reader

    @contextmanager
    def reading(self) -> Iterator[Library]:
        """A read-only library of the pool, lent for one query or status read."""
        self._check()
        reader = self._idle.get()
        try:
            yield reader
        finally:
            self._idle.put(reader)

    def writer(self) -> Library:
        """The library index runs write through (opened on first use); hold :attr:`write_lock`."""
        from mmsearch.library import Library

        reader = self._check()
        if self._writer is None:
            self._writer = Library.open(
                self.config.db_path, registry=self.registry, store=self.config.store
            )
            self._writer.share_encoders(reader)
        return self._writer

    def close(self) -> None:
        """Close the readers and the writer (after the jobs stopped)."""
        for lib in [*self._readers, self._writer]:
            if lib is not None:
                lib.close()
        self._readers = []
        self._reader = self._writer = None
