"""The index run's progress line on a terminal: stage, bar, counts, rate, ETA.

Drawn on stderr only when it is a terminal (a pipe or a log file gets nothing), redrawn
at most every :data:`REDRAW_SECONDS` and whenever the stage changes, and wiped at the end
so the summary starts on a clean line. The figures are :mod:`mmsearch.index.progress`'s;
the bar is the files *committed*, so it cannot show 100 % while work is left.
"""

from __future__ import annotations

import logging
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO

from mmsearch.index.progress import IndexProgress, ProgressCallback
from mmsearch.safe_text import terminal_safe

REDRAW_SECONDS = 0.2
BAR = 20
LABELS = {
    "scan": "scanning",
    "extract": "reading",
    "embed": "embedding",
    "commit": "writing",
    "finish": "saving",
    "done": "done",
}


def clock_time(seconds: float) -> str:
    """``1:05`` or ``1:02:03``."""
    whole = max(0, round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def render(snap: IndexProgress, width: int = 100) -> str:
    """One line for ``snap``, at most ``width`` characters."""
    parts = [f"{LABELS[snap.stage]:<9}"]
    if snap.total:
        filled = BAR * snap.committed // snap.total
        parts.append(f"[{'#' * filled}{'.' * (BAR - filled)}]")
        parts.append(f"{snap.committed}/{snap.total} files")
        if snap.stage in ("embed", "commit") and snap.batch:
            parts.append(f"(batch of {snap.batch})")
        elif snap.extracted > snap.committed:
            parts.append(f"({snap.extracted} read)")
    if snap.rate:
        parts.append(f"{snap.rate:.1f} files/s")
    if snap.eta is not None and snap.stage not in ("finish", "done"):
        parts.append(f"ETA {clock_time(snap.eta)}")
    if snap.roots > 1:
        parts.append(f"root {min(snap.roots_done + 1, snap.roots)}/{snap.roots}")
    if snap.root:
        parts.append(terminal_safe(snap.root))  # a folder name is file-made text
    line = " ".join(parts)
    return line if len(line) <= width else line[: max(0, width - 1)] + "…"


class TerminalProgress:
    """A callback for ``Library.index(on_progress=...)`` drawing one line on ``stream``."""

    def __init__(
        self,
        stream: TextIO,
        clock: Callable[[], float] = time.monotonic,
        width: Callable[[], int] = lambda: shutil.get_terminal_size((100, 20)).columns,
    ) -> None:
        self.stream = stream
        self.clock = clock
        self.width = width
        self._last = -1e9
        self._stage = ""
        self._drawn = 0

    def __call__(self, snap: IndexProgress) -> None:
        now = self.clock()
        if snap.stage == self._stage and now - self._last < REDRAW_SECONDS:
            return
        self._last, self._stage = now, snap.stage
        line = render(snap, self.width() - 1)
        self.stream.write("\r" + line + " " * max(0, self._drawn - len(line)))
        self.stream.flush()
        self._drawn = len(line)

    def redraw_next(self) -> None:
        """Draw the next snapshot whatever its timing (the line was wiped)."""
        self._last, self._stage = -1e9, ""

    def close(self) -> None:
        """Wipe the line, so what follows starts clean."""
        if self._drawn:
            self.stream.write("\r" + " " * self._drawn + "\r")
            self.stream.flush()
            self._drawn = 0


class _WipeFirst(logging.Filter):
    """Wipes the progress line before a log line (a skipped file) is written under it."""

    def __init__(self, drawer: TerminalProgress) -> None:
        super().__init__()
        self.drawer = drawer

    def filter(self, record: logging.LogRecord) -> bool:
        self.drawer.close()
        self.drawer.redraw_next()
        return True


@contextmanager
def terminal_progress(stream: TextIO | None = None) -> Iterator[ProgressCallback | None]:
    """A :class:`TerminalProgress` on stderr when it is a terminal, else None."""
    out = sys.stderr if stream is None else stream
    if not out.isatty():
        yield None
        return
    drawer = TerminalProgress(out)
    wipe = _WipeFirst(drawer)
    handlers = [
        h
        for logger in (logging.getLogger(), logging.getLogger("mmsearch"))
        for h in logger.handlers
        if getattr(h, "stream", None) is out
    ]
    for handler in handlers:
        handler.addFilter(wipe)
    try:
        yield drawer
    finally:
        for handler in handlers:
            handler.removeFilter(wipe)
        drawer.close()
