"""Worker threads that a stuck task cannot hold: daemon threads and a time budget per task.

A Python thread cannot be killed. An extractor stuck on one file (a decoder
that opened a FIFO, a dead network share) would keep a ``ThreadPoolExecutor``
from shutting down, so the run would never end and the writer lock would stay
held. Here the caller waits for a task at most ``budget`` seconds from the
moment a worker started it. Past that the task is given up: its result is never
read, a new worker takes its place so the pool keeps its size, and the stuck
thread is a daemon, so it finishes on its own or dies with the process; it
never blocks the run's end or the process's exit.
"""

from __future__ import annotations

import itertools
import queue
import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")

Clock = Callable[[], float]

TICK = 1.0
"""Seconds between looks at the clock while a task runs: a waiting run wakes this often."""


def now() -> float:
    """The clock budgets are measured on (monotonic seconds); a seam for tests."""
    return time.monotonic()


class Overdue(Exception):
    """A task ran past its budget; the caller stopped waiting for it."""


class Task(Generic[T, R]):
    """One submitted item and, once a worker has run it, its result or error."""

    __slots__ = ("abandoned", "done", "error", "item", "result", "started", "started_at")

    def __init__(self, item: T) -> None:
        self.item = item
        self.started = threading.Event()
        self.started_at = 0.0
        self.done = threading.Event()
        self.result: R | None = None
        self.error: BaseException | None = None
        self.abandoned = False


class DeadlinePool(Generic[T, R]):
    """Runs ``fn`` over submitted items in daemon threads; :meth:`wait` honours a budget."""

    _names = itertools.count(1)

    def __init__(self, fn: Callable[[T], R], workers: int, clock: Clock | None = None) -> None:
        self._fn = fn
        self._clock = clock or now
        self._queue: queue.SimpleQueue[Task[T, R] | None] = queue.SimpleQueue()
        self._threads = 0
        self._closed = False
        for _ in range(max(1, workers)):
            self._spawn()

    def submit(self, item: T) -> Task[T, R]:
        """Queue ``item``; tasks start in the order they were submitted."""
        task: Task[T, R] = Task(item)
        self._queue.put(task)
        return task

    def wait(self, task: Task[T, R], budget: float | None) -> R:
        """The task's result (or its error, raised); :class:`Overdue` once past ``budget``."""
        # Tasks start in order and a given-up worker is replaced, so a task waited for in
        # submission order always gets a worker: this wait ends.
        task.started.wait()
        if budget is None:
            task.done.wait()
        elif not self._done_within(task, budget):
            task.abandoned = True
            self._spawn()
            raise Overdue(budget)
        if task.error is not None:
            raise task.error
        return task.result  # type: ignore[return-value]

    def _done_within(self, task: Task[T, R], budget: float) -> bool:
        # The clock is read again every TICK, so the budget holds on whatever clock is given.
        while not task.done.wait(min(TICK, max(0.0, task.started_at + budget - self._clock()))):
            if self._clock() - task.started_at >= budget:
                return task.done.is_set()
        return True

    def close(self) -> None:
        """Let the workers go once they are idle; tasks not yet started never run."""
        self._closed = True
        for _ in range(self._threads):
            self._queue.put(None)

    def _spawn(self) -> None:
        name = f"extract-{next(self._names)}"
        threading.Thread(target=self._work, name=name, daemon=True).start()
        self._threads += 1

    def _work(self) -> None:
        while (task := self._queue.get()) is not None:
            if self._closed:
                continue
            task.started_at = self._clock()
            task.started.set()
            try:
                task.result = self._fn(task.item)
            except BaseException as exc:  # handed to the waiting caller
                task.error = exc
            finally:
                task.done.set()
            if task.abandoned:
                return  # a replacement was started when this one was given up
