"""How far an index run is, told as work finishes: the stage, counts, rate and an ETA.

A run goes through stages per root: ``scan`` (walk and compare with the catalog),
``extract`` (files read in worker threads, in order), ``embed`` (a batch's segments through
the encoder), ``commit`` (the batch written to the catalog and the vector index), and after
the last root ``finish`` (the index saved, calibration), then ``done``. The counts only move
when a piece of work is finished: ``extracted`` when a file's extraction came back,
``committed`` when its batch is in the catalog. ``committed`` is the honest "files done":
a bar drawn from it cannot reach the end while speech is still transcribed or the last
batch is still embedded (the old bar counted files handed back by the readers).

The same figures go to the terminal (:mod:`mmsearch.cli.progress`, hidden when stderr is
not a terminal) and to any caller of :meth:`mmsearch.Library.index` that passes
``on_progress`` (the server streams them): one :class:`IndexProgress` per change.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Literal

Stage = Literal["scan", "extract", "embed", "commit", "finish", "done"]
STAGES: tuple[Stage, ...] = ("scan", "extract", "embed", "commit", "finish", "done")

RATE_WINDOW = 30.0
"""Seconds of recent commits the rate is measured over: long enough to smooth batches,
short enough to follow a change of media (photos, then long recordings)."""


@dataclass(frozen=True, slots=True)
class IndexProgress:
    """One snapshot of a run, passed to ``on_progress`` whenever a figure changes."""

    stage: Stage
    root: str
    """The folder being indexed (display form); empty before the first."""
    total: int
    """Files of this root that need reading (new, changed, or missing a vector)."""
    extracted: int
    """Of those, files whose extraction has finished."""
    committed: int
    """Of those, files whose results are committed: the run's "done"."""
    batch: int
    """Files in the batch being embedded or committed (0 outside those stages)."""
    elapsed: float
    """Seconds since the run started."""
    rate: float | None
    """Files committed per second over the last :data:`RATE_WINDOW` s; None until known."""
    eta: float | None
    """Seconds until this root's files are committed, at that rate; None until known."""
    roots_done: int = 0
    roots: int = 1

    def to_json(self) -> dict[str, object]:
        """A JSON-ready dict (same keys as the fields)."""
        return asdict(self)


ProgressCallback = Callable[[IndexProgress], None]
"""What :meth:`mmsearch.Library.index` calls with each :class:`IndexProgress`. It runs on
the indexing thread: keep it quick (a server hands the snapshot to its event stream)."""

LegacyProgress = Callable[[int, int], None]
"""The older ``progress(done, total)`` form, still accepted: called with files committed."""


@dataclass(slots=True)
class ProgressTracker:
    """Keeps the counts of a run and tells the callbacks; the indexer calls its methods."""

    callbacks: list[ProgressCallback] = field(default_factory=list)
    roots: int = 1
    clock: Callable[[], float] = time.monotonic
    _stage: Stage = "scan"
    _root: str = ""
    _total: int = 0
    _extracted: int = 0
    _committed: int = 0
    _batch: int = 0
    _roots_done: int = 0
    _started: float = 0.0
    _root_began: float = 0.0
    _commits: deque[tuple[float, int]] = field(default_factory=deque)

    def __post_init__(self) -> None:
        self._started = self._root_began = self.clock()

    # -- what the indexer reports ------------------------------------------------------

    def scanning(self, root: str) -> None:
        """A root's scan begins."""
        if self._root:
            self._roots_done += 1
        self._root, self._total, self._extracted, self._committed = root, 0, 0, 0
        self._root_began = self.clock()
        self._commits.clear()
        self._set("scan")

    def __call__(self, extracted: int, total: int) -> None:
        """A file's extraction finished (``extracted`` of ``total`` so far, in order)."""
        self._extracted, self._total = extracted, total
        self._set("extract")

    def planned(self, total: int) -> None:
        """The scan found ``total`` files to read under the current root."""
        self._total = total
        self._set("extract" if total else "scan")

    def embedding(self, files: int) -> None:
        """A batch of ``files`` goes through the encoder."""
        self._batch = files
        self._set("embed")

    def committing(self) -> None:
        """The embedded batch is being written."""
        self._set("commit")

    def committed(self, files: int) -> None:
        """A batch of ``files`` is in the catalog."""
        self._committed += files
        self._commits.append((self.clock(), self._committed))
        self._batch = 0
        self._set("extract" if self._committed < self._total else "commit")

    def finishing(self) -> None:
        """Every root is done; the index is saved and calibrated."""
        if self._root:
            self._roots_done += 1
            self._root = ""
        self._set("finish")

    def done(self) -> None:
        """The run is over."""
        self._set("done")

    # -- what the callbacks get --------------------------------------------------------

    def snapshot(self) -> IndexProgress:
        """The figures now."""
        rate = self._rate()
        left = max(0, self._total - self._committed)
        eta = left / rate if rate else (0.0 if self._total and not left else None)
        return IndexProgress(
            stage=self._stage,
            root=self._root,
            total=self._total,
            extracted=self._extracted,
            committed=self._committed,
            batch=self._batch,
            elapsed=self.clock() - self._started,
            rate=rate,
            eta=eta,
            roots_done=self._roots_done,
            roots=self.roots,
        )

    def _rate(self) -> float | None:
        now = self.clock()
        while len(self._commits) > 2 and now - self._commits[0][0] > RATE_WINDOW:
            self._commits.popleft()
        if not self._commits:
            return None
        first_time, first_count = self._commits[0]
        if len(self._commits) == 1:  # one batch so far: from the start of this root's work
            first_time, first_count = self._root_began, 0
        seconds = now - first_time
        files = self._committed - first_count
        return files / seconds if seconds > 0 and files > 0 else None

    def _set(self, stage: Stage) -> None:
        self._stage = stage
        if self.callbacks:
            snap = self.snapshot()
            for callback in self.callbacks:
                callback(snap)


def tracker_for(
    on_progress: ProgressCallback | None, legacy: LegacyProgress | None, roots: int
) -> ProgressTracker | None:
    """A tracker telling ``on_progress`` and/or a legacy ``progress(committed, total)``."""
    callbacks: list[ProgressCallback] = []
    if on_progress is not None:
        callbacks.append(on_progress)
    if legacy is not None:
        callbacks.append(lambda snap: legacy(snap.committed, snap.total))
    return ProgressTracker(callbacks, roots=roots) if callbacks else None
