"""Where an index run's extraction and encoding happen: the seam for executors other than
the local one (``mmsearch index --executor ray``).

The local run extracts in threads and encodes in the writer's process
(:mod:`mmsearch.index.pipeline`). An :class:`Executor` takes the files that need work as
:class:`FileJob` values (plain, picklable), extracts and encodes them wherever it runs
(:func:`process_jobs` is the work itself, the same code the local run uses), and streams
the results back as batches of :class:`~mmsearch.index.pipeline.Pending`, vectors filled
in. The single writer commits them in its own batches exactly as locally, so a killed job
leaves the batches it committed and the rest pending.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from mmsearch.contracts import Annotator, Encoder, Extractor, ExtractSettings, Source
from mmsearch.index.extraction import Extracted, extract_file
from mmsearch.index.pipeline import BatchEncoder, Pending, runnable_extractors
from mmsearch.index.report import display_path
from mmsearch.index.scanner import ScannedFile
from mmsearch.store.catalog import KnownItem


@dataclass(frozen=True, slots=True)
class FileJob:
    """One file to extract and encode, with what the writer needs to commit it."""

    path: bytes
    """Absolute; workers must see the file at this same path (a shared mount)."""
    scanned: ScannedFile
    existing: KnownItem | None
    backfill: bool = False
    only: frozenset[str] | None = None
    reused: Extracted | None = None
    """Segments the catalog already holds (a text-only file to embed in a new space): the
    file is not read again."""


@dataclass(frozen=True, slots=True)
class EncoderRef:
    """How a worker gets the run's encoder from its own plugins: by id and checkpoint."""

    encoder_id: str
    checkpoint: str

    @classmethod
    def of(cls, encoder: Encoder) -> EncoderRef:
        """The reference to ``encoder``."""
        return cls(encoder.encoder_id, encoder.checkpoint)


WorkerEvent = Callable[[Literal["extracted", "embedded"], int], None]
"""Told, on the writer's thread, that a worker finished extracting or embedding a batch
of that many files (what the progress tracker's extract and embed stages show)."""


class Executor(Protocol):
    """Extracts and encodes jobs somewhere, yielding encoded batches as they finish."""

    name: str

    def process(
        self,
        jobs: Sequence[FileJob],
        encoder: Encoder,
        settings: ExtractSettings,
        on_event: WorkerEvent | None = None,
    ) -> Iterator[list[Pending]]:
        """Every job's :class:`Pending`, encoded, in batches in any order, each job once.

        ``on_event`` hears the workers' "extracted" and "embedded" as they happen (called
        between yields, on the caller's thread); a batch run again after a worker died is
        heard again.
        """
        ...


def process_jobs(
    jobs: Sequence[FileJob],
    extractors: Sequence[Extractor],
    annotators: Sequence[Annotator],
    encoder: Encoder,
    settings: ExtractSettings,
    on_event: WorkerEvent | None = None,
) -> list[Pending]:
    """Extract and encode ``jobs`` (on a worker): the local run's steps, one batch.

    Segment contents (decoded images, waveforms) are dropped once encoded: the writer
    needs only the vectors and the text, and they would cost the transfer back.
    """
    extractors = runnable_extractors(extractors, [encoder])  # as the local run leaves out
    batch = [
        Pending(job.scanned, job.existing, _extract(job, extractors, annotators, settings),
                backfill=job.backfill, only=job.only)
        for job in jobs
    ]  # fmt: skip
    if on_event is not None:
        on_event("extracted", len(batch))
    BatchEncoder(encoder).encode(batch)
    if on_event is not None:
        on_event("embedded", len(batch))
    for pending in batch:
        segments = [dataclasses.replace(s, content=None) for s in pending.extracted.segments]
        pending.extracted = dataclasses.replace(pending.extracted, segments=segments)
    return batch


def _extract(
    job: FileJob,
    extractors: Sequence[Extractor],
    annotators: Sequence[Annotator],
    settings: ExtractSettings,
) -> Extracted:
    if job.reused is not None:
        return job.reused
    source = Source(job.path, display_path(job.path), job.scanned.size, settings)
    return extract_file(extractors, source, annotators, job.only)
