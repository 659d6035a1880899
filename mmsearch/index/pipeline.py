"""The stages between a file and its stored vectors: read in threads, encode in batches.

Files are extracted in worker threads (decoders release the GIL) with a
bounded read-ahead, in order, while the caller encodes the previous batch; a
file that takes longer than the run's per-file budget is given up.
Encoding groups the segments of many files by modality, so an encoder sees
full batches, and a failing segment fails only its own file.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np

from mmsearch.contracts import Encoder, Extractor, FloatArray, Modality, Segment
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
    """Vectors in the run's space, by segment index (a segment it does not take has none)."""
    others: dict[int, dict[int, FloatArray]] = field(default_factory=dict)
    """Vectors in the library's other spaces the run writes: space id, then segment index."""

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
                self.vectors.get(i),
                made_by[i] if i < len(made_by) else None,
                {space: found[i] for space, found in self.others.items() if i in found},
            )
            for i, s in enumerate(self.extracted.segments)
        )

    def vectors_in(self, space_id: int | None) -> dict[int, FloatArray]:
        """Its vectors in one space by segment index (None: the run's own space)."""
        return self.vectors if space_id is None else self.others.get(space_id, {})


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


@dataclass(frozen=True, slots=True)
class Route:
    """Another space an index run writes, beside its own: where the segments it takes go."""

    space_id: int
    encoder: Encoder

    @property
    def takes(self) -> frozenset[Modality]:
        """The segment modalities this space embeds."""
        return self.encoder.takes


class BatchEncoder:
    """Encodes the segments of a batch of files, one encoder call per space and modality.

    Each segment goes to every space that takes its modality (:attr:`Encoder.takes`): the
    run's own (``encoder``) and the ``others`` (a sound space beside an image/text one). A
    segment no space takes goes to the run's own encoder, which fails its file as before
    ("cannot embed"), so nothing is dropped unseen.
    """

    def __init__(
        self,
        encoder: Encoder,
        others: Sequence[Route] = (),
        lock: AbstractContextManager[object] | None = None,
    ) -> None:
        self.encoder = encoder
        self.others = tuple(others)
        self.lock: AbstractContextManager[object] = lock or nullcontext()
        """Held around each encoder call (see :attr:`RunContext.encode_lock`)."""

    def encode(self, batch: list[Pending]) -> None:
        """Fill in each file's vectors, or its error."""
        routed: dict[tuple[int | None, Modality], list[tuple[Pending, int]]] = defaultdict(list)
        for pending in batch:
            if pending.extracted.status == "done":
                for i, seg in enumerate(pending.extracted.segments):
                    for target in self._targets(seg.modality):
                        routed[(target, seg.modality)].append((pending, i))
        for (target, modality), entries in routed.items():
            encoder = self._encoder(target)
            contents = [p.extracted.segments[i].content for p, i in entries]
            with self.lock:
                encoded = encode_all(encoder, modality, contents)
            for (pending, i), vector, error in zip(
                entries, encoded.vectors, encoded.errors, strict=True
            ):
                if error and pending.error is None:
                    pending.error = error
                _vectors_for(pending, target)[i] = vector
        for target in (None, *(r.space_id for r in self.others)):
            if self._encoder(target).text_fusion_weight > 0:
                self._fuse_text(batch, target)

    def _targets(self, modality: Modality) -> list[int | None]:
        """The spaces a segment of ``modality`` goes to (None: the run's own)."""
        others: list[int | None] = [r.space_id for r in self.others if modality in r.takes]
        if modality in self.encoder.takes or not others:
            return [None, *others]
        return others

    def _encoder(self, target: int | None) -> Encoder:
        if target is None:
            return self.encoder
        return next(r.encoder for r in self.others if r.space_id == target)

    def _fuse_text(self, batch: list[Pending], target: int | None) -> None:
        """Blend the embedding of an image's words (OCR) into the image's vector."""
        encoder = self._encoder(target)
        entries = [
            (p, i, seg)
            for p in batch
            if p.ok
            for i, seg in enumerate(p.extracted.segments)
            if seg.modality == "image" and _has_words(seg) and i in p.vectors_in(target)
        ]
        if not entries or "text" not in encoder.modalities:
            return
        with self.lock:
            encoded = encode_all(encoder, "text", [seg.text for _, _, seg in entries])
        weight = encoder.text_fusion_weight
        for (pending, i, _), text_vector, error in zip(
            entries, encoded.vectors, encoded.errors, strict=True
        ):
            if error:
                continue  # the image's own vector still stands
            vectors = _vectors_for(pending, target)
            fused = (1 - weight) * vectors[i] + weight * text_vector
            vectors[i] = (fused / np.linalg.norm(fused)).astype(np.float32)


def _vectors_for(pending: Pending, target: int | None) -> dict[int, FloatArray]:
    return pending.vectors if target is None else pending.others.setdefault(target, {})


def runnable_extractors(
    extractors: Sequence[Extractor], encoders: Sequence[Encoder]
) -> list[Extractor]:
    """The extractors worth running for these spaces: each whose segments one of them takes.

    An extractor that says what it produces (``Extractor.produces``) and finds no space
    for any of it is left out: its segments would fail their file. Left out, it has no run
    recorded, so it reads the files once a space takes its segments.
    """
    taken = frozenset().union(*(e.takes for e in encoders)) if encoders else frozenset()
    return [e for e in extractors if e.produces is None or e.produces & taken]


def _has_words(segment: Segment) -> bool:
    return bool(segment.text and any(ch.isalnum() for ch in segment.text))
