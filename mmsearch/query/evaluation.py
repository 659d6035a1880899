"""Retrieval evaluation: judging hits, recall/MRR/nDCG, reports and comparisons.

The query file's format and its reader are in :mod:`mmsearch.query.evalfile`
(re-exported here). Per query, recall@k is the share of its relevant entries
found in the top k, reciprocal rank is 1/rank of the first relevant hit, and
nDCG@10 uses binary gains and a log2(rank + 1) discount; each relevant entry is
credited once. The reported figures are means over queries (MRR is the mean
reciprocal rank). A query whose search fails counts as zero everywhere and is
listed.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from mmsearch.errors import MmsearchError
from mmsearch.query.evalfile import (
    MODALITIES,
    EvalFileError,
    EvalQuery,
    Relevant,
    load_queries,
    normalise_path,
)
from mmsearch.query.gatefigures import NONE, Answer, GateFigures, Level, format_gate, gate_by_group
from mmsearch.safe_text import terminal_safe

UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class RankedHit:
    """One search result; ``copies`` are near-duplicates collapsed into it."""

    path: str
    start: float | None = None
    end: float | None = None
    copies: tuple[str, ...] = ()
    level: Level = "confident"
    """How the gate showed it: confident, probable ("probably: ...") or weak (hidden)."""


def _overlaps(hit: RankedHit, rel: Relevant) -> bool:
    if rel.start is None and rel.end is None:
        return True
    if hit.start is None and hit.end is None:
        return False
    hit_start = hit.start if hit.start is not None else hit.end
    hit_end = hit.end if hit.end is not None else hit.start
    assert hit_start is not None and hit_end is not None
    rel_start = rel.start if rel.start is not None else -math.inf
    rel_end = rel.end if rel.end is not None else math.inf
    return hit_start <= rel_end and hit_end >= rel_start


def judge(hits: Sequence[RankedHit], relevant: Sequence[Relevant]) -> list[int]:
    """For each hit in rank order, the index of the relevant entry it satisfies, or -1.

    Each relevant entry is credited to its first hit only; a hit satisfies at most
    one entry (the first unclaimed one it matches, by its path or any of its copies).
    """
    open_entries = dict(enumerate(relevant))
    judged: list[int] = []
    for hit in hits:
        paths = {normalise_path(p) for p in (hit.path, *hit.copies)}
        found = (i for i, r in open_entries.items() if r.path in paths and _overlaps(hit, r))
        judged.append(next(found, -1))
        open_entries.pop(judged[-1], None)
    return judged


def _check(n_relevant: int, k: int) -> None:
    if n_relevant < 1 or k < 1:
        raise ValueError(f"n_relevant and k must be >= 1, got {n_relevant} and {k}")


def recall_at(judged: Sequence[int], n_relevant: int, k: int) -> float:
    """The share of the relevant entries found in the top ``k``."""
    _check(n_relevant, k)
    return sum(1 for j in judged[:k] if j >= 0) / n_relevant


def reciprocal_rank(judged: Sequence[int]) -> float:
    """1 / rank of the first relevant hit, 0 if none."""
    return next((1 / rank for rank, j in enumerate(judged, start=1) if j >= 0), 0.0)


def ndcg_at(judged: Sequence[int], n_relevant: int, k: int) -> float:
    """nDCG@k with binary gains; the ideal ranking puts min(n_relevant, k) hits first."""
    _check(n_relevant, k)
    dcg = sum(1 / math.log2(rank + 1) for rank, j in enumerate(judged[:k], start=1) if j >= 0)
    ideal = sum(1 / math.log2(rank + 1) for rank in range(1, min(n_relevant, k) + 1))
    return dcg / ideal


@dataclass(frozen=True, slots=True)
class QueryResult:
    """How one query fared; ``group`` is its row in the per-modality table."""

    query: EvalQuery
    judged: tuple[int, ...]
    top_paths: tuple[str, ...]
    seconds: float
    error: str | None = None
    group: str = UNKNOWN
    top_level: Level = NONE
    """The gate's level of the rank-1 hit ("weak" when there is none)."""

    @property
    def right_at_1(self) -> bool:
        """Whether the rank-1 hit is relevant."""
        return bool(self.judged) and self.judged[0] >= 0

    @property
    def reciprocal_rank(self) -> float:
        """1 / rank of the first relevant hit, 0 if none (or the search failed)."""
        return reciprocal_rank(self.judged)

    def recall(self, k: int) -> float:
        """The share of this query's relevant entries found in the top ``k``."""
        return recall_at(self.judged, len(self.query.relevant), k)

    @property
    def ndcg_10(self) -> float:
        """nDCG@10 of this query."""
        return ndcg_at(self.judged, len(self.query.relevant), 10)

    @property
    def first_relevant_rank(self) -> int | None:
        """The 1-based rank of the first relevant hit, None if none."""
        return next((rank for rank, j in enumerate(self.judged, start=1) if j >= 0), None)

    def to_json(self) -> dict[str, Any]:
        """One entry of ``EvalReport.to_json()["queries"]``."""
        return {
            "id": self.query.id,
            "line": self.query.line,
            "modality": self.group,
            "reciprocal_rank": round(self.reciprocal_rank, 6),
            "recall_10": round(self.recall(10), 6),
            "ndcg_10": round(self.ndcg_10, 6),
            "first_relevant_rank": self.first_relevant_rank,
            "top": list(self.top_paths),
            "top_level": self.top_level,
            "seconds": round(self.seconds, 3),
            "error": self.error,
        }


@dataclass(frozen=True, slots=True)
class Metrics:
    """Means over ``queries`` queries."""

    queries: int
    recall_1: float
    recall_5: float
    recall_10: float
    mrr: float
    ndcg_10: float

    @classmethod
    def of(cls, results: Sequence[QueryResult]) -> Metrics:
        """The means over ``results`` (all zero when there are none)."""
        rows = [
            (r.recall(1), r.recall(5), r.recall(10), r.reciprocal_rank, r.ndcg_10) for r in results
        ]
        if not rows:
            return cls(0, 0.0, 0.0, 0.0, 0.0, 0.0)
        return cls(len(rows), *(sum(col) / len(rows) for col in zip(*rows, strict=True)))

    def values(self) -> tuple[float, ...]:
        """The figures in the order of :data:`METRIC_NAMES`."""
        return (self.recall_1, self.recall_5, self.recall_10, self.mrr, self.ndcg_10)

    def to_json(self) -> dict[str, float | int]:
        """``{"queries", "recall_1", "recall_5", "recall_10", "mrr", "ndcg_10"}``."""
        keys = ("recall_1", "recall_5", "recall_10", "mrr", "ndcg_10")
        figures = {k: round(v, 6) for k, v in zip(keys, self.values(), strict=True)}
        return {"queries": self.queries, **figures}


METRIC_NAMES = ("recall@1", "recall@5", "recall@10", "MRR", "nDCG@10")


def _group_order(group: str) -> tuple[int, str]:
    if group == "overall":
        return (-1, "")
    if group in MODALITIES:
        return (MODALITIES.index(group), "")
    return (len(MODALITIES) + (group == UNKNOWN), group)


@dataclass
class EvalReport:
    """The results of one configuration on a query file."""

    name: str
    results: list[QueryResult]
    no_answer: list[QueryResult] = field(default_factory=list)
    """The ``--no-answer`` queries (no relevant file): only the gate judges them."""

    def gate(self) -> dict[str, GateFigures]:
        """The gate's figures, overall and per modality (see :mod:`~.gatefigures`)."""
        answers = [Answer(r.group, r.top_level, r.right_at_1) for r in self.results]
        answers += [Answer(r.group, r.top_level, None) for r in self.no_answer]
        return gate_by_group(answers, _group_order)

    def overall(self) -> Metrics:
        """Metrics over all queries, failed ones included as zeros."""
        return Metrics.of(self.results)

    def by_modality(self) -> dict[str, Metrics]:
        """Metrics per group: text, image, audio, video, others, then "unknown"."""
        groups = sorted({r.group for r in self.results}, key=_group_order)
        return {g: Metrics.of([r for r in self.results if r.group == g]) for g in groups}

    def errors(self) -> list[QueryResult]:
        """The queries whose search failed."""
        return [r for r in self.results if r.error is not None]

    def to_json(self) -> dict[str, Any]:
        """The stable shape printed by ``mmsearch eval --json``."""
        return {
            "name": self.name,
            "overall": self.overall().to_json(),
            "by_modality": {g: m.to_json() for g, m in self.by_modality().items()},
            "queries": [r.to_json() for r in self.results],
            "gate": {g: f.to_json() for g, f in self.gate().items()},
            "no_answer": [_no_answer_json(r) for r in self.no_answer],
        }


def _no_answer_json(result: QueryResult) -> dict[str, Any]:
    return {
        "id": result.query.id,
        "line": result.query.line,
        "modality": result.group,
        "top": list(result.top_paths),
        "top_level": result.top_level,
        "error": result.error,
    }


def _run_one(
    query: EvalQuery, search: Callable[[EvalQuery], Sequence[RankedHit]], group: str
) -> QueryResult:
    started = time.perf_counter()
    try:
        hits = search(query)
    except MmsearchError as exc:
        return QueryResult(query, (), (), time.perf_counter() - started, str(exc), group)
    seconds = time.perf_counter() - started
    judged = tuple(judge(hits, query.relevant))
    top = tuple(h.path for h in hits[:10])
    level = hits[0].level if hits else NONE
    return QueryResult(query, judged, top, seconds, None, group, level)


def evaluate(
    queries: Sequence[EvalQuery],
    search: Callable[[EvalQuery], Sequence[RankedHit]],
    *,
    name: str = "default",
    modality_of: Callable[[EvalQuery], str | None] = lambda q: q.modality,
    no_answer: Sequence[EvalQuery] = (),
) -> EvalReport:
    """Run every query through ``search`` and judge its hits.

    A query's group is its ``modality`` if the file gives one, else ``modality_of(query)``,
    else "unknown". A search raising :class:`MmsearchError` counts as all zeros with its
    message kept; any other exception is a bug and propagates. ``no_answer`` queries (no
    relevant file) are run too and only counted in the gate figures (group: their
    ``modality``, else "unknown"); one that fails counts as refused, with its error kept.
    """
    results = []
    for query in queries:
        group = query.modality or modality_of(query) or UNKNOWN
        results.append(_run_one(query, search, group))
    refused = [_run_one(q, search, q.modality or UNKNOWN) for q in no_answer]
    return EvalReport(name, results, refused)


def _table(rows: Sequence[Sequence[str]]) -> list[str]:
    """Columns aligned: the first to the left, the others to the right."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    cells = (
        [row[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)]
        for row in rows
    )
    return ["  ".join(c).rstrip() for c in cells]


def _count(n: int) -> str:
    return f"{n} {'query' if n == 1 else 'queries'}"


def _label(query: EvalQuery) -> str:
    default = f"line {query.line}"
    return default if query.id == default else f"{terminal_safe(query.id)} ({default})"


def _error_lines(report: EvalReport) -> list[str]:
    failed = report.errors()
    if not failed:
        return []
    return [f"{_count(len(failed))} failed (counted as 0):"] + [
        f"  {_label(r.query)}: {terminal_safe(r.error or '')}" for r in failed
    ]


def _per_query_lines(result: QueryResult) -> list[str]:
    rank = result.first_relevant_rank
    lines = [
        f"{_label(result.query)} [{result.group}]  RR {result.reciprocal_rank:.3f}  "
        f"recall@10 {result.recall(10):.3f}  nDCG@10 {result.ndcg_10:.3f}  "
        f"first relevant: {rank if rank is not None else '-'}  {result.seconds:.2f}s"
    ]
    if result.error is not None:
        return [*lines, f"  error: {terminal_safe(result.error)}"]
    marks = ("*" if j >= 0 else " " for j in result.judged)
    return lines + [
        f"  {i:>2}{m} {terminal_safe(p)}"
        for i, (m, p) in enumerate(zip(marks, result.top_paths, strict=False), 1)
    ]


def format_report(report: EvalReport, *, per_query: bool = False) -> str:
    """A plain-text table of the metrics, overall and per modality (3 decimals)."""
    rows = [["", "queries", *METRIC_NAMES]]
    groups = {"overall": report.overall(), **report.by_modality()}
    rows += [[g, str(m.queries), *(f"{v:.3f}" for v in m.values())] for g, m in groups.items()]
    lines = [f"{report.name}: {_count(len(report.results))}", *_table(rows)]
    lines += _error_lines(report)
    if per_query:
        lines.append("")
        lines += [line for r in report.results for line in _per_query_lines(r)]
        lines.append("* = relevant")
    lines += ["", *format_gate(report.gate())]
    return "\n".join(lines)


def _delta(a: float, b: float) -> str:
    d = round(b - a, 3)
    return f"{d + 0.0:+.3f}"  # + 0.0 turns -0.0 into 0.0


def _comparison_rows(a: EvalReport, b: EvalReport) -> list[list[str]]:
    rows = [["metric", a.name, b.name, "B-A"]]
    groups_a = {"overall": a.overall(), **a.by_modality()}
    groups_b = {"overall": b.overall(), **b.by_modality()}
    for group in sorted(groups_a.keys() | groups_b.keys(), key=_group_order):
        ma, mb = groups_a.get(group), groups_b.get(group)
        count = ma.queries if ma else mb.queries if mb else 0
        rows.append([f"{group} ({_count(count)})", "", "", ""])
        for i, metric in enumerate(METRIC_NAMES):
            va = f"{ma.values()[i]:.3f}" if ma else "-"
            vb = f"{mb.values()[i]:.3f}" if mb else "-"
            d = _delta(ma.values()[i], mb.values()[i]) if ma and mb else "-"
            rows.append([f"  {metric}", va, vb, d])
    return rows


def _paired(a: EvalReport, b: EvalReport) -> list[tuple[QueryResult, QueryResult, float]]:
    """The queries both reports ran (matched by line), with B's RR minus A's."""
    by_line = {r.query.line: r for r in b.results}
    pairs = [(ra, by_line[ra.query.line]) for ra in a.results if ra.query.line in by_line]
    return [(ra, rb, rb.reciprocal_rank - ra.reciprocal_rank) for ra, rb in pairs]


def format_comparison(a: EvalReport, b: EvalReport, *, per_query: bool = False) -> str:
    """Two configurations side by side on the same queries: A, B and B-A per metric."""
    pairs = _paired(a, b)
    changed = [p for p in pairs if not math.isclose(p[2], 0.0, abs_tol=1e-9)]
    better = sum(1 for p in changed if p[2] > 0)
    lines = [f"A = {a.name}, B = {b.name}", *_table(_comparison_rows(a, b))]
    lines.append(
        f"B better on {better} queries, worse on {len(changed) - better}, "
        f"same on {len(pairs) - len(changed)} (by reciprocal rank)"
    )
    for report in (a, b):
        errors = _error_lines(report)
        lines += [f"{report.name}: {errors[0]}", *errors[1:]] if errors else []
    if per_query and changed:
        rows = [["query", "A RR", "B RR", "B-A"]]
        for ra, rb, _ in sorted(changed, key=lambda p: (p[2], p[0].query.line)):
            rr_a, rr_b = ra.reciprocal_rank, rb.reciprocal_rank
            rows.append([_label(ra.query), f"{rr_a:.3f}", f"{rr_b:.3f}", _delta(rr_a, rr_b)])
        lines += ["", *_table(rows)]
    for report in (a, b):
        lines += ["", f"{report.name}:", *format_gate(report.gate())]
    return "\n".join(lines)


__all__ = [
    "METRIC_NAMES",
    "MODALITIES",
    "UNKNOWN",
    "EvalFileError",
    "EvalQuery",
    "EvalReport",
    "GateFigures",
    "Metrics",
    "QueryResult",
    "RankedHit",
    "Relevant",
    "evaluate",
    "format_comparison",
    "format_report",
    "judge",
    "load_queries",
    "ndcg_at",
    "recall_at",
    "reciprocal_rank",
]
