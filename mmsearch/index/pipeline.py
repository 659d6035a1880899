"""The stages between a file and its stored vectors: read in threads, encode in batches.

Files are extracted in a thread pool (decoders release the GIL) with a
bounded read-ahead, in order, while the caller encodes the previous batch.
Encoding groups the segments of many files by modality, so an encoder sees
full batches, and a failing segment fails only its own file.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np

from mmsearch.contracts import Encoder, FloatArray, Modality, Segment
from mmsearch.index.encoding import encode_all
from mmsearch.index.extraction import Extracted
from mmsearch.index.scanner import ScannedFile
from mmsearch.store.catalog import KnownItem, NewSegment

T = TypeVar("T")


@dataclass(slots=True)
class Pending:
    """A file read and waiting to be encoded and committed."""

    scanned: ScannedFile
    existing: KnownItem | None
    extracted: Extracted
    backfill: bool = False
    """The item is indexed already and only needs vectors in this run's space."""
    error: str | None = None
    vectors: dict[int, FloatArray] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Extracted and encoded without a problem."""
        return self.extracted.status == "done" and self.error is None

    def new_segments(self) -> tuple[NewSegment, ...]:
        """The file's segments with their vectors, ready to store."""
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
            )
            for i, s in enumerate(self.extracted.segments)
        )


def extract_in_order(
    items: Iterable[T], extract: Callable[[T], Extracted], workers: int, window: int = 0
) -> Iterator[tuple[T, Extracted]]:
    """``extract`` each item in a thread pool, yielding in input order.

    At most ``window`` files are read ahead (default: twice the workers).
    """
    window = window or max(2, workers * 2)
    with ThreadPoolExecutor(workers, thread_name_prefix="extract") as pool:
        pending: list[tuple[T, Future[Extracted]]] = []
        for item in items:
            pending.append((item, pool.submit(extract, item)))
            if len(pending) >= window:
                head, future = pending.pop(0)
                yield head, future.result()
        for head, future in pending:
            yield head, future.result()


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
