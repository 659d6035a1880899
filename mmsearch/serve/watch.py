"""Live folders (``serve --watch``): file changes become index runs of the same indexer.

watchfiles (Rust ``notify`` underneath) reports changes in batches, debounced; each batch
names the watched folders it touched, and those folders are indexed again as one job (the
indexer reads only new and changed files, recognises moves by content hash, and drops
deleted files). Changes that come while a run is going are gathered for the next one, so
a burst of 10,000 new files is a few runs, not 10,000. Runs go through the server's job
list (the page shows them), one writer at a time. Each watched folder is indexed once at
start too, for what changed while no server ran.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path

from mmsearch.serve.jobs import FINISHED, Job, JobConflictError, Jobs
from mmsearch.serve.state import Engine

log = logging.getLogger("mmsearch.serve")

DEBOUNCE_MS = 400


class Watcher:
    """Watches folders on a thread and keeps them indexed."""

    def __init__(self, engine: Engine, jobs: Jobs, roots: Sequence[Path]) -> None:
        self.engine = engine
        self.jobs = jobs
        self.roots = [Path(os.path.abspath(r)) for r in roots]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="watch", daemon=True)
        self._pending: set[Path] = set(self.roots)  # indexed once at start
        self._job: Job | None = None

    def start(self) -> None:
        """Start watching (the first run waits until the library has loaded)."""
        self._thread.start()

    def stop(self) -> None:
        """Stop watching; a run in flight is the job list's to stop."""
        self._stop.set()
        self._thread.join(10)

    def _loop(self) -> None:
        from watchfiles import watch

        self.engine.ready.wait()
        if self.engine.failure is not None:
            return
        self._flush()
        for changes in watch(
            *self.roots,
            stop_event=self._stop,
            debounce=DEBOUNCE_MS,
            step=50,
            rust_timeout=500,
            yield_on_timeout=True,
            recursive=True,
            ignore_permission_denied=True,
        ):
            self._pending |= self._touched(path for _change, path in changes)
            self._flush()

    def _touched(self, paths: Iterable[str]) -> set[Path]:
        touched: set[Path] = set()
        for changed in paths:
            for root in self.roots:
                if changed == str(root) or changed.startswith(str(root) + os.sep):
                    touched.add(root)
        return touched

    def _flush(self) -> None:
        """Start a run for the pending folders unless one is still going."""
        if not self._pending or (self._job is not None and self._job.state not in FINISHED):
            return
        try:
            self._job = self.jobs.start(sorted(self._pending), source="watch")
        except JobConflictError as exc:
            log.debug("watched changes wait: %s", exc)  # tried again on the next tick
            return
        self._pending.clear()
