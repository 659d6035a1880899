"""The query plan: what a query will do, decided before anything is searched.

``mmsearch query --explain-plan`` prints it. A plan names the parts that are
embedded (texts and example files, with weights, negatives pushing down), the
words and phrases the keyword search uses, the filters that run in SQL, the
spaces searched, the fusion, the rerankers in order, and the confidence
threshold.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from mmsearch.errors import UsageError
from mmsearch.query.filtersql import ItemFilter
from mmsearch.query.names import FUSION_METHODS, SIGNALS, Fusion
from mmsearch.query.ranking import FUSION_ORDER

RRF_K = 60


@dataclass(frozen=True, slots=True)
class Example:
    """An example file in a query: find things like it (or, negative, unlike it)."""

    path: str
    weight: float = 1.0
    negative: bool = False

    @classmethod
    def parse(cls, spec: str | os.PathLike[str]) -> Example:
        """``PATH``, ``WEIGHT:PATH`` or ``-WEIGHT:PATH`` (a negative example)."""
        text = os.fspath(spec)
        if not isinstance(text, str):
            text = os.fsdecode(text)
        head, sep, rest = text.partition(":")
        if sep and not os.path.exists(text):
            try:
                weight = float(head)
            except ValueError:
                return cls(text)
            if weight == 0 or abs(weight) > 100:
                raise UsageError(
                    f"Example {text}: the weight {head} must be between 0 and 100 "
                    "(negative to push such files down), e.g. 2:photo.jpg or -1:photo.jpg."
                )
            return cls(rest, abs(weight), weight < 0)
        return cls(text)


@dataclass(frozen=True, slots=True)
class SearchOptions:
    """How a query is run. Every field has a CLI flag of the same meaning."""

    k: int = 10
    signals: tuple[str, ...] = SIGNALS
    """Which retrieval signals run: ``vector``, ``keyword``, or both."""
    fusion: Fusion = "score"
    """``score``: sum of calibrated scores; ``rrf``: reciprocal-rank fusion."""
    min_score: float | None = None
    """Confidence threshold on the calibrated scale; None: each signal's default."""
    keep_weak: bool = False
    """Return hits below the threshold too (marked not confident)."""
    rerank: tuple[str, ...] = ()
    """Rerankers to run that are off by default (``mmr``)."""
    no_rerank: tuple[str, ...] = ()
    """Rerankers to skip that are on by default."""
    temperature: float = 1.0
    """Attention pooling temperature, in calibrated units: lower is closer to the best segment."""
    diversity: float = 0.7
    """MMR trade-off when ``mmr`` runs: 1 is pure relevance, 0 pure novelty."""
    spaces: tuple[str, ...] = ()
    """Spaces to search (encoder ids or space numbers); empty: the active space and its
    companions (``mmsearch index --space``), fused on the calibrated scale."""
    candidates: int = 50
    """Files each signal contributes before reranking (at least 5 x k)."""
    max_image_megapixels: float = 100.0  # ExtractSettings's default, as for index
    """Refuse example images larger than this (decompression bombs), as ``index`` does."""

    def validated(self) -> SearchOptions:
        """These options, checked; raises :class:`UsageError` naming the bad one."""
        if self.k < 1:
            raise UsageError(f"-k must be at least 1 (got {self.k}).")
        unknown = [s for s in self.signals if s not in SIGNALS]
        if unknown or not self.signals:
            raise UsageError(
                f"Unknown signal {', '.join(unknown) or '(none)'}; use vector, keyword or both."
            )
        if self.fusion not in FUSION_METHODS:
            raise UsageError(f"Unknown fusion {self.fusion!r}; use {' or '.join(FUSION_METHODS)}.")
        if self.temperature <= 0:
            raise UsageError(f"The temperature must be above 0 (got {self.temperature}).")
        if not 0 <= self.diversity <= 1:
            raise UsageError(f"Diversity must be between 0 and 1 (got {self.diversity}).")
        if not self.max_image_megapixels > 0:
            raise UsageError(
                f"--max-image-megapixels must be above 0 (got {self.max_image_megapixels})."
            )
        return replace(self, candidates=max(self.candidates, 5 * self.k))

    def to_json(self) -> dict[str, Any]:
        """The options as plain data."""
        return {
            "k": self.k,
            "signals": list(self.signals),
            "fusion": self.fusion,
            "min_score": self.min_score,
            "keep_weak": self.keep_weak,
            "rerank": list(self.rerank),
            "no_rerank": list(self.no_rerank),
            "temperature": self.temperature,
            "diversity": self.diversity,
            "spaces": list(self.spaces),
            "candidates": self.candidates,
            "max_image_megapixels": self.max_image_megapixels,
        }


@dataclass(frozen=True, slots=True)
class PlannedPart:
    """One thing to embed: a text or an example file."""

    label: str
    weight: float
    negative: bool
    text: str | None = None
    example: str | None = None


@dataclass(frozen=True, slots=True)
class PlannedSpace:
    """A space the vector signal searches."""

    label: str
    space_id: int
    encoder: str
    dim: int
    vectors: int
    threshold: float
    by_modality: tuple[tuple[str, float, float], ...] = ()
    """Per segment modality: (modality, confident threshold, probable bar)."""
    gaps: tuple[tuple[str, float], ...] = ()
    """Per segment modality: the lead over the next file that makes a rank-1 hit stand clear
    (:func:`mmsearch.query.gate.stands_clear`)."""
    adapter: str | None = None
    """The name of the tuned query adapter applied to query texts (``mmsearch tune``)."""


@dataclass(frozen=True, slots=True)
class PlannedReranker:
    """A reranker the plan runs, in order."""

    name: str
    order: int
    description: str


@dataclass(slots=True)
class QueryPlan:
    """Everything a query will do, in order."""

    source: str | None
    parts: list[PlannedPart]
    keywords: tuple[str, ...]
    negative_keywords: tuple[str, ...]
    item_filter: ItemFilter
    spaces: list[PlannedSpace]
    rerankers: list[PlannedReranker]
    options: SearchOptions
    keyword_threshold: float
    allowed_segments: int | None = None
    """How many segments the filters let through (None: no filter)."""
    store_filter: str | None = None
    """The vector store that evaluates the type/date filters itself (``milvus``), in which
    case no allow-list is built in SQL and ``allowed_segments`` stays None."""
    notes: list[str] = field(default_factory=list)

    @property
    def uses_keywords(self) -> bool:
        """Whether the keyword signal runs."""
        return "keyword" in self.options.signals and bool(self.keywords)

    @property
    def uses_vectors(self) -> bool:
        """Whether the vector signal runs."""
        return "vector" in self.options.signals and bool(self.spaces)

    def describe(self) -> str:
        """The plan as readable lines (``--explain-plan``)."""
        lines = [f"query: {self.source!r}" if self.source else "query: (examples only)"]
        lines.append("parts (embedded, then scored against every segment):")
        for part in self.parts:
            sign = "-" if part.negative else "+"
            role = "pushes down" if part.negative else "weight"
            lines.append(f"  {sign} {part.label}  ({role} {part.weight:g})")
        if self.store_filter is None:
            lines.append("filters (SQL, exact):")
        else:
            lines.append(
                f"filters (in the {self.store_filter} store; its hits checked against the "
                "catalog, SQL allow-list if any fails):"
            )
        filters = self.item_filter.describe() or ["none"]
        lines += [f"  {line}" for line in filters]
        if self.allowed_segments is not None:
            lines.append(f"  -> {self.allowed_segments} segments pass")
        lines.append("retrieval:")
        lines += self._describe_retrieval()
        lines.append(f"fusion: {self._describe_fusion()}")
        lines.append("rerank, in order:")
        for reranker in self.rerankers:
            stage = "before fusion" if reranker.order < FUSION_ORDER else "after fusion"
            lines.append(f"  {reranker.order:>4} {reranker.name}: {reranker.description} ({stage})")
        lines.append(f"threshold: {self._describe_threshold()}")
        lines += [f"note: {note}" for note in self.notes]
        return "\n".join(lines)

    def _describe_retrieval(self) -> list[str]:
        lines = []
        depth = self.options.candidates
        for space in self.spaces if self.uses_vectors else []:
            how = (
                f"exact search over the {self.allowed_segments} allowed segments"
                if self.allowed_segments is not None
                else f"nearest segments of {space.vectors} that the store's filter passes"
                if self.store_filter is not None
                else f"nearest segments of {space.vectors}"
            )
            lines.append(
                f"  vector  space {space.space_id} {space.encoder} {space.dim}-d: {how}, "
                f"best {depth} files"
            )
        if self.uses_keywords:
            words = " OR ".join(self.keywords)
            lines.append(
                f"  keyword FTS5 BM25 over text, transcripts, OCR words and file names: {words}; "
                f"best {depth} files"
            )
        if self.negative_keywords:
            lines.append(f"  negative words push down: {', '.join(self.negative_keywords)}")
        return lines or ["  none (no signal can run for this query)"]

    def _describe_fusion(self) -> str:
        if self.options.fusion == "rrf":
            return f"reciprocal-rank fusion, sum of 1/({RRF_K} + rank) per signal"
        return "sum of calibrated scores (standard deviations above each signal's null)"

    def _describe_threshold(self) -> str:
        if self.options.min_score is not None:
            shown = f"calibrated score >= {self.options.min_score:g} on any signal"
        else:
            per = [_space_bar(s) for s in self.spaces]
            per.append(f"keyword >= {self.keyword_threshold:.2f} with most query words")
            shown = "any of: " + "; ".join(per)
        return shown + (" (weak hits kept)" if self.options.keep_weak else "")

    def to_json(self) -> dict[str, Any]:
        """The plan as plain data (``--explain-plan --json``)."""
        return {
            "query": self.source,
            "parts": [
                {
                    "label": p.label,
                    "text": p.text,
                    "example": p.example,
                    "weight": p.weight,
                    "negative": p.negative,
                }
                for p in self.parts
            ],
            "keywords": list(self.keywords),
            "negative_keywords": list(self.negative_keywords),
            "filters": self.item_filter.describe(),
            "allowed_segments": self.allowed_segments,
            "store_filter": self.store_filter,
            "spaces": [_space_json(s) for s in self.spaces],
            "signals": [s for s in self.options.signals if s != "keyword" or self.keywords],
            "fusion": self.options.fusion,
            "rerankers": [{"name": r.name, "order": r.order} for r in self.rerankers],
            "threshold": self._describe_threshold(),
            "options": self.options.to_json(),
            "notes": list(self.notes),
        }


def _space_bar(space: PlannedSpace) -> str:
    if not space.by_modality:
        return f"{space.label} >= {space.threshold:.2f}"
    gaps = dict(space.gaps)
    bars = ", ".join(
        f"{m} {t:.2f} (probably {p:.2f}"
        + (f", or leading the next {m} file by {gaps[m]:.2f}" if m in gaps else "")
        + ")"
        for m, t, p in space.by_modality
    )
    return f"{space.label} >= {bars}"


def adapter_note(space: PlannedSpace) -> str | None:
    """What the plan says of a space's tuned adapter, if it has one."""
    if space.adapter is None:
        return None
    return f"query texts in {space.label} go through the tuned adapter {space.adapter!r}"


def _space_json(space: PlannedSpace) -> dict[str, Any]:
    return {
        "label": space.label,
        "id": space.space_id,
        "encoder": space.encoder,
        "dim": space.dim,
        "vectors": space.vectors,
        "threshold": round(space.threshold, 4),
        "adapter": space.adapter,
        "by_modality": {
            m: {"threshold": round(t, 4), "probable": round(p, 4)}
            | ({"gap": round(dict(space.gaps)[m], 4)} if m in dict(space.gaps) else {})
            for m, t, p in space.by_modality
        },
    }


def check_examples(examples: Sequence[Example]) -> None:
    """Refuse example files that do not exist, naming them."""
    for example in examples:
        if not os.path.isfile(example.path):
            raise UsageError(
                f"The example file {example.path} does not exist or is not a file; "
                "give the path of an image or recording."
            )
