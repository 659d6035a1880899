"""Index jobs: ``POST /api/v1/index`` starts one, polled or streamed, and cancellable.

One job runs at a time, on its own thread, through the server's writer library under the
writer lock (``mmsearch index`` from another process gets "lock held", and a job started
while another process holds the lock is refused with 409). Cancelling, or stopping the
server, stops a job at its next file: batches already committed stay, the batch in hand is
not written, so nothing is half-written and the next run picks up the rest.

Progress comes from the indexer's own ``on_progress`` snapshots (stage, counts, rate, ETA):
``done`` is the files committed, the honest "files done". A cancelled job stops right after
its next commit (so the batch in hand is kept), or at the next snapshot once
:data:`CANCEL_GRACE` seconds have passed without one (its batch in hand is then dropped).
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mmsearch.index.progress import IndexProgress
from mmsearch.serve.state import Engine

log = logging.getLogger("mmsearch.serve")

FINISHED = ("done", "failed", "cancelled")
CANCEL_GRACE = 10.0
"""Seconds a cancelled job may take to reach its next commit before it stops anyway."""


class JobCancelledError(Exception):
    """Raised inside an index run to stop it at the next file."""


class JobConflictError(Exception):
    """An index job cannot start now (409): another runs, or another process writes."""


@dataclass
class Job:
    """One index run and what it has done so far."""

    id: str
    paths: list[str]
    source: str = "api"
    state: str = "queued"
    done: int = 0
    total: int = 0
    root: str | None = None
    started: float = field(default_factory=time.time)
    finished: float | None = None
    report: dict[str, Any] | None = None
    error: str | None = None
    progress: dict[str, Any] | None = None
    """The indexer's last snapshot: stage, root, total, extracted, committed, rate, eta."""
    cancel: threading.Event = field(default_factory=threading.Event)
    cancelled_at: float | None = None

    def to_json(self) -> dict[str, Any]:
        """The job as ``GET /api/v1/jobs/{id}`` gives it."""
        return {
            "job_id": self.id,
            "paths": self.paths,
            "source": self.source,
            "state": self.state,
            "done": self.done,
            "total": self.total,
            "root": self.root,
            "started": self.started,
            "finished": self.finished,
            "report": self.report,
            "error": self.error,
            "progress": self.progress,
        }


class Jobs:
    """The server's index jobs: one running at a time, the last ones kept for polling."""

    def __init__(self, engine: Engine, keep: int = 50) -> None:
        self.engine = engine
        self._jobs: dict[str, Job] = {}
        self._keep = keep
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self.changed = threading.Condition(self._lock)
        """Notified on every progress step, for server-sent events."""
        self._threads: list[threading.Thread] = []

    def get(self, job_id: str) -> Job | None:
        """The job with this id, if it is still kept."""
        with self._lock:
            return self._jobs.get(job_id)

    def all(self) -> list[Job]:
        """The kept jobs, newest first."""
        with self._lock:
            return sorted(self._jobs.values(), key=lambda j: j.started, reverse=True)

    def running(self) -> Job | None:
        """The job in flight, if any."""
        with self._lock:
            return next((j for j in self._jobs.values() if j.state in ("queued", "running")), None)

    def start(self, paths: Sequence[Path], source: str = "api") -> Job:
        """Start indexing ``paths`` on a thread; raises :class:`JobConflictError`."""
        with self._lock:
            busy = next((j for j in self._jobs.values() if j.state in ("queued", "running")), None)
            if busy is not None:
                raise JobConflictError(
                    f"Index job {busy.id} is still running ({', '.join(busy.paths)}); wait for "
                    f"it (GET /api/v1/jobs/{busy.id}) or cancel it (DELETE), then start again."
                )
            _check_lock_free(self.engine)
            job = Job(id=f"j{next(self._ids)}", paths=[str(p) for p in paths], source=source)
            self._jobs[job.id] = job
            self._trim()
        thread = threading.Thread(target=self._run, args=(job,), name=f"index-{job.id}")
        self._threads.append(thread)
        thread.start()
        return job

    def cancel(self, job_id: str) -> Job | None:
        """Ask a job to stop at its next file; the job, or None if unknown."""
        job = self.get(job_id)
        if job is not None and not job.cancel.is_set():
            job.cancelled_at = time.monotonic()
            job.cancel.set()
        return job

    def stop(self, timeout: float = 60.0) -> None:
        """Cancel every job and wait for them (server shutdown)."""
        for job in self.all():
            self.cancel(job.id)
        for thread in self._threads:
            thread.join(timeout)

    def _trim(self) -> None:
        finished = [j for j in self._jobs.values() if j.state in FINISHED]
        extra = max(0, len(self._jobs) - self._keep)
        for job in sorted(finished, key=lambda j: j.started)[:extra]:
            del self._jobs[job.id]

    def _update(self, job: Job, **changes: Any) -> None:
        with self.changed:
            for key, value in changes.items():
                setattr(job, key, value)
            self.changed.notify_all()

    def _run(self, job: Job) -> None:
        from mmsearch.errors import MmsearchError

        self._update(job, state="running")
        try:
            with self.engine.write_lock:
                lib = self.engine.writer()
                report = lib.index(*job.paths, on_progress=self._progress(job))
            self._update(job, state="done", report=report.to_json())
            log.info("index job %s done: %s", job.id, "; ".join(report.summary_lines()[:1]))
        except JobCancelledError:
            self._update(job, state="cancelled", error="Cancelled; committed batches are kept.")
            log.info("index job %s cancelled", job.id)
        except MmsearchError as exc:
            self._update(job, state="failed", error=str(exc))
            log.warning("index job %s failed: %s", job.id, exc)
        except Exception as exc:  # a job's failure is reported on the job, not a dead thread
            self._update(job, state="failed", error=f"{exc.__class__.__name__}: {exc}")
            log.exception("index job %s failed", job.id)
        finally:
            self._update(job, finished=time.time())

    def _progress(self, job: Job) -> Callable[[IndexProgress], None]:
        def progress(snap: IndexProgress) -> None:
            committed_now = snap.committed > job.done or snap.stage in ("scan", "finish")
            self._update(job, done=snap.committed, total=snap.total, root=snap.root or job.root,
                         progress=snap.to_json())  # fmt: skip
            if job.cancel.is_set() and snap.stage != "finish":
                late = time.monotonic() - (job.cancelled_at or 0.0) > CANCEL_GRACE
                if committed_now or late:
                    raise JobCancelledError

        return progress


def _check_lock_free(engine: Engine) -> None:
    """Refuse a job up front when another process holds the writer lock (409)."""
    from mmsearch.errors import LockedError
    from mmsearch.store.locations import lock_path
    from mmsearch.store.locking import writer_lock

    if engine.write_lock.locked():
        raise JobConflictError(
            "The server is writing to the catalog (a watched folder's run); try again shortly."
        )
    try:
        with writer_lock(lock_path(engine.config.db_path)):
            pass
    except LockedError as exc:
        raise JobConflictError(str(exc)) from exc
