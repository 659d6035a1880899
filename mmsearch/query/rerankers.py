"""The built-in rerankers, registered through the same hook as any plugin's.

- ``exact`` (100): re-scores every segment of every candidate with the stored
  float32 vectors, part by part: weighted positives, negatives pushing down.
- ``attention`` (200): one score per file from its segments, a softmax over
  their scores (the temperature sets how close to "best segment only" it is);
  the segment carrying most of the weight is the file's moment.
- ``dedupe`` (600): the same file content in several places shows once, with
  its copies listed; so do images whose vectors are near-identical, in spaces
  whose encoder says how near (``Encoder.near_duplicate_similarity``), and
  images of one name in one folder (``IMG_1.CR2`` and ``IMG_1.JPG``: a camera's
  RAW and its JPEG, a HEIC and its export), whatever their vectors.
- ``mmr`` (700, off unless asked): maximal marginal relevance, for variety.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt

from mmsearch.contracts import Reranker
from mmsearch.query.ranking import (
    Candidate,
    QueryPart,
    RerankContext,
    Signal,
    positive_mean,
    vector_signal,
)

FloatArray = npt.NDArray[np.float64]

NEGATIVE_FLOOR = 1.0
"""A negative part pushes a segment down by how far its calibrated score exceeds this."""


class ExactRescore(Reranker):
    """Score every segment of every candidate exactly, per query part."""

    name = "exact"
    order = 100
    description = "exact float32 re-scoring of every segment, per part, negatives pushing down"

    def rerank(self, candidates: list[Candidate], context: RerankContext) -> list[Candidate]:
        """Replace each vector signal with exact per-segment scores (best segment for now)."""
        if "vector" not in context.options.get("signals", ("vector",)):
            return candidates
        for label in context.spaces:
            self._rescore_space(candidates, context, label)
        return candidates

    def _rescore_space(
        self, candidates: list[Candidate], context: RerankContext, label: str
    ) -> None:
        combined = positive_mean(context.parts, label)
        if combined is None:
            return
        parts = [p for p in context.parts if label in p.vectors]
        stored = context.stored_vectors(label, [s for c in candidates for s in c.segments])
        if not stored:
            return
        ids = list(stored)
        matrix = np.stack([stored[i] for i in ids])
        modality = {sid: seg.modality for c in candidates for sid, seg in c.segments.items()}
        modalities = [modality[i] for i in ids]
        per_part = {
            p.label: context.calibrate(label, matrix @ p.vectors[label], modalities) for p in parts
        }
        scores = self._segment_scores(parts, per_part, len(ids))
        raw = matrix @ combined
        row_of = {sid: row for row, sid in enumerate(ids)}
        name = vector_signal(label)
        for candidate in candidates:
            rows = [(sid, row_of[sid]) for sid in candidate.segments if sid in row_of]
            if not rows:
                candidate.signals.pop(name, None)
                continue
            for sid, row in rows:
                candidate.segments[sid].scores[name] = float(scores[row])
            best_sid, best = max(rows, key=lambda pair: scores[pair[1]])
            detail = {
                "parts": {label_: round(float(z[best]), 3) for label_, z in per_part.items()},
                "segments": len(rows),
            }
            candidate.signals[name] = Signal(
                name, float(raw[best]), float(scores[best]), segment_id=best_sid, detail=detail
            )
            _record_negatives(candidate, parts, per_part, best, name)

    @staticmethod
    def _segment_scores(
        parts: Sequence[QueryPart], per_part: dict[str, FloatArray], rows: int
    ) -> FloatArray:
        positives = [p for p in parts if not p.negative]
        weight = sum(p.weight for p in positives)
        score: FloatArray = np.zeros(rows)
        for part in positives:
            score = score + part.weight * per_part[part.label] / weight
        for part in (p for p in parts if p.negative):
            score = score - part.weight * np.maximum(0.0, per_part[part.label] - NEGATIVE_FLOOR)
        return score


def _record_negatives(
    candidate: Candidate,
    parts: Sequence[QueryPart],
    per_part: dict[str, FloatArray],
    row: int,
    signal: str,
) -> None:
    for part in (p for p in parts if p.negative):
        z = float(per_part[part.label][row])
        penalty = part.weight * max(0.0, z - NEGATIVE_FLOOR)
        if penalty > 0:
            candidate.pushed_down.append(
                {"part": part.label, "signal": signal, "calibrated": round(z, 3),
                 "penalty": round(penalty, 3)}
            )  # fmt: skip


class AttentionPooling(Reranker):
    """One score per file: a softmax-weighted mean of its segments' scores."""

    name = "attention"
    order = 200
    description = "softmax over each file's segment scores; the heaviest segment is the moment"

    def rerank(self, candidates: list[Candidate], context: RerankContext) -> list[Candidate]:
        """Pool each vector signal over the file's segments."""
        temperature = float(context.options.get("temperature", 1.0))
        for candidate in candidates:
            for name, signal in candidate.signals.items():
                if name.startswith("vector:"):
                    self._pool(candidate, signal, temperature)
        return candidates

    @staticmethod
    def _pool(candidate: Candidate, signal: Signal, temperature: float) -> None:
        scored = [(sid, seg.scores[signal.name]) for sid, seg in candidate.segments.items()
                  if signal.name in seg.scores]  # fmt: skip
        if len(scored) < 2:
            return
        values = np.array([score for _sid, score in scored])
        logits = (values - values.max()) / temperature
        weights = np.exp(logits) / np.exp(logits).sum()
        top = int(np.argmax(weights))
        signal.calibrated = float(weights @ values)
        signal.segment_id = scored[top][0]
        signal.detail["attention"] = {
            "segments": len(scored),
            "moment_weight": round(float(weights[top]), 3),
        }


class DuplicateCollapse(Reranker):
    """Show a file once however many copies the library holds."""

    name = "dedupe"
    order = 600
    description = (
        "same content (hash), near-identical image vectors, or images of one name in one "
        "folder (RAW + JPEG) show once, copies listed"
    )

    def rerank(self, candidates: list[Candidate], context: RerankContext) -> list[Candidate]:
        """Fold later copies into the first (best-ranked) one."""
        kept: list[Candidate] = []
        by_hash: dict[str, Candidate] = {}
        by_name: dict[tuple[str, str], Candidate] = {}
        vectors = _moment_vectors(candidates, context, lambda c: c.media_type == "image")
        if _near_duplicate_similarity(context) is None:
            vectors = {}  # this space's vectors cannot tell copies: exact copies only
        threshold = _near_duplicate_similarity(context) or 1.0
        dim = len(next(iter(vectors.values()))) if vectors else 0
        seen = np.empty((len(vectors), dim), dtype=np.float32)  # kept images' vectors, in order
        owners: list[Candidate] = []
        for candidate in candidates:
            original = by_hash.get(candidate.content_hash or "")
            sibling = image_sibling_key(candidate)
            if original is None and sibling is not None:
                original = by_name.get(sibling)
            vector = vectors.get(candidate.item_id)
            if original is None and vector is not None and owners:
                likeness = seen[: len(owners)] @ vector
                best = int(np.argmax(likeness))
                if likeness[best] >= threshold:
                    original = owners[best]
            if original is not None:
                original.copies.append(candidate.path)
                original.copies.extend(candidate.copies)
                continue
            kept.append(candidate)
            if candidate.content_hash:
                by_hash[candidate.content_hash] = candidate
            if sibling is not None:
                by_name.setdefault(sibling, candidate)
            if vector is not None:
                seen[len(owners)] = vector
                owners.append(candidate)
        return kept


def image_sibling_key(candidate: Candidate) -> tuple[str, str] | None:
    """(folder, name without its extension, case-folded) of an image: a RAW and the JPEG the
    camera wrote beside it share it (``IMG_1.CR2``, ``IMG_1.JPG``), and their vectors may
    differ (the camera's JPEG is processed: its own white balance, crop, sharpening). None
    for other media, and for a name without an extension."""
    if candidate.media_type != "image":
        return None
    folder, name = os.path.split(candidate.path)
    stem, extension = os.path.splitext(name)
    if not stem or not extension:
        return None
    return folder, stem.casefold()


class Diversity(Reranker):
    """Maximal marginal relevance: trade a little relevance for variety."""

    name = "mmr"
    order = 700
    default = False
    description = "maximal marginal relevance over the files' moment vectors"

    def rerank(self, candidates: list[Candidate], context: RerankContext) -> list[Candidate]:
        """Greedily pick the file best balancing its score against likeness to those picked."""
        trade = float(context.options.get("diversity", 0.7))
        vectors = _moment_vectors(candidates, context, lambda _c: True)
        if len(candidates) < 3 or not vectors:
            return candidates
        scores = np.array([c.score for c in candidates])
        spread = float(scores.max() - scores.min()) or 1.0
        relevance = (scores - scores.min()) / spread
        remaining = list(range(len(candidates)))
        chosen: list[int] = []
        while remaining:
            best = max(remaining, key=lambda i: self._gain(i, chosen, relevance, candidates,
                                                          vectors, trade))  # fmt: skip
            chosen.append(best)
            remaining.remove(best)
        return [candidates[i] for i in chosen]

    @staticmethod
    def _gain(
        index: int,
        chosen: list[int],
        relevance: FloatArray,
        candidates: list[Candidate],
        vectors: dict[int, npt.NDArray[np.float32]],
        trade: float,
    ) -> float:
        mine = vectors.get(candidates[index].item_id)
        likeness = 0.0
        if mine is not None:
            others = [vectors[candidates[j].item_id] for j in chosen
                      if candidates[j].item_id in vectors]  # fmt: skip
            likeness = max((float(mine @ v) for v in others), default=0.0)
        return trade * float(relevance[index]) - (1 - trade) * likeness


def _near_duplicate_similarity(context: RerankContext) -> float | None:
    """The first space's encoder's near-duplicate threshold, if it has one."""
    space = next(iter(context.spaces.values()), None)
    encoder = getattr(space, "encoder", None)
    value = getattr(encoder, "near_duplicate_similarity", None)
    return None if value is None else float(value)


def _moment_vectors(
    candidates: Sequence[Candidate],
    context: RerankContext,
    wanted: Callable[[Candidate], bool],
) -> dict[int, npt.NDArray[np.float32]]:
    """Item id -> the stored vector of its moment, in the first space searched."""
    label = next(iter(context.spaces), None)
    if label is None:
        return {}
    moments = {c.item_id: c.moment for c in candidates if wanted(c) and c.moment is not None}
    stored = context.stored_vectors(label, [m for m in moments.values() if m is not None])
    return {item: stored[m] for item, m in moments.items() if m in stored}


BUILT_IN: tuple[Reranker, ...] = (
    ExactRescore(),
    AttentionPooling(),
    DuplicateCollapse(),
    Diversity(),
)
