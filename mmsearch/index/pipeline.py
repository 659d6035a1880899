"""The stages between a file and its stored vectors: read in threads, encode in batches.

Files are extracted in worker threads (decoders release the GIL) with a
bounded read-ahead, in order, while the caller encodes the previous batch; a
file that takes longer than the run's per-file budget is given up.
Encoding groups the segments of many files by modality, so an encoder sees
full batches, and a failing segment fails only its own file.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np

from mmsearch.contracts import Encoder, FloatArray, Modality, Segment
from mmsearch.index.encoding import encode_all
from mmsearch.index.extraction import Extracted
from mmsearch.index.scanner import ScannedFile
from mmsearch.index.workers import DeadlinePool, Overdue, Task
from mmsearch.store.catalog import KnownItem, NewSegment

T = TypeVar("T")

TOOK_TOO_LONG = "took too long"


@dataclass(slots=True)
class Pending:
    """A file read and waiting to be encoded and committed."""

    scanned: ScannedFile
    existing: KnownItem | None
    extracted: Extracted
    backfill: bool = False
    """The item is indexed already and only needs vectors in this run's space."""
    only: frozenset[str] | None = None
    """The item is indexed already and only these extractors ran on it again."""
    error: str | None = None
    vectors: dict[int, FloatArray] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Extracted and encoded without a problem."""
        return self.extracted.status == "done" and self.error is None

    def new_segments(self) -> tuple[NewSegment, ...]:
        """The file's segments with their vectors, ready to store."""
        made_by = self.extracted.made_by
        return tuple(
            NewSegment(
                i,
                s.kind,
                s.modality,
                s.text,
                s.start,
                s.end,
                s.char_start,
                s.char_end,
                self.vectors[i],
                made_by[i] if i < len(made_by) else None,
            )
            for i, s in enumerate(self.extracted.segments)
        )


def extract_in_order(
    items: Iterable[T],
    extract: Callable[[T], Extracted],
    workers: int,
    window: int = 0,
    budget: float | None = None,
) -> Iterator[tuple[T, Extracted]]:
    """``extract`` each item in worker threads, yielding in input order.

    At most ``window`` files are read ahead (default: twice the workers). A file
    whose extraction runs past ``budget`` seconds is yielded as skipped, and the
    run goes on without it (see :mod:`mmsearch.index.workers`).
    """
    window = window or max(2, workers * 2)
    pool: DeadlinePool[T, Extracted] = DeadlinePool(extract, workers)
    pending: deque[Task[T, Extracted]] = deque()
    try:
        for item in items:
            pending.append(pool.submit(item))
            if len(pending) >= window:
                yield _outcome(pool, pending.popleft(), budget)
        while pending:
            yield _outcome(pool, pending.popleft(), budget)
    finally:
        pool.close()


def _outcome(
    pool: DeadlinePool[T, Extracted], task: Task[T, Extracted], budget: float | None
) -> tuple[T, Extracted]:
    try:
        return task.item, pool.wait(task, budget)
    except Overdue:
        return task.item, timed_out(budget or 0.0)


def timed_out(budget: float) -> Extracted:
    """The outcome of a file whose extraction was given up after ``budget`` seconds."""
    return Extracted(
        status="skipped",
        reason=TOOK_TOO_LONG,
        detail=(
            f"reading it took over {budget:g} s, so the run went on without it (--file-timeout). "
            "It may sit on a stuck drive or share, or be a pipe; if it is only slow "
            "(a long recording), raise --file-timeout and run again"
        ),
    )


class BatchEncoder:
    """Encodes the segments of a batch of files, one encoder call per modality."""

    def __init__(self, encoder: Encoder) -> None:
        self.encoder = encoder

    def encode(self, batch: list[Pending]) -> None:
        """Fill in each file's vectors, or its error."""
        by_modality: dict[Modality, list[tuple[Pending, int]]] = defaultdict(list)
        for pending in batch:
            if pending.extracted.status == "done":
                for i, seg in enumerate(pending.extracted.segments):
                    by_modality[seg.modality].append((pending, i))
        for modality, entries in by_modality.items():
            contents = [p.extracted.segments[i].content for p, i in entries]
            encoded = encode_all(self.encoder, modality, contents)
            for (pending, i), vector, error in zip(
                entries, encoded.vectors, encoded.errors, strict=True
            ):
                if error and pending.error is None:
                    pending.error = error
                pending.vectors[i] = vector
        if self.encoder.text_fusion_weight > 0:
            self._fuse_text(batch)

    def _fuse_text(self, batch: list[Pending]) -> None:
        """Blend the embedding of an image's words (OCR) into the image's vector."""
        entries = [
            (p, i, seg)
            for p in batch
            if p.ok
            for i, seg in enumerate(p.extracted.segments)
            if seg.modality == "image" and _has_words(seg)
        ]
        if not entries or "text" not in self.encoder.modalities:
            return
        encoded = encode_all(self.encoder, "text", [seg.text for _, _, seg in entries])
        weight = self.encoder.text_fusion_weight
        for (pending, i, _), text_vector, error in zip(
            entries, encoded.vectors, encoded.errors, strict=True
        ):
            if error:
                continue  # the image's own vector still stands
            fused = (1 - weight) * pending.vectors[i] + weight * text_vector
            pending.vectors[i] = (fused / np.linalg.norm(fused)).astype(np.float32)


def _has_words(segment: Segment) -> bool:
    return bool(segment.text and any(ch.isalnum() for ch in segment.text))
