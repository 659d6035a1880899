"""Retrieval evaluation: the query file, judging hits, and recall/MRR/nDCG.

``mmsearch eval QUERIES.jsonl`` runs every query of a JSON-lines file and
reports recall@1/5/10, MRR and nDCG@10, overall and per modality. One JSON
object per line; blank lines and lines starting with ``#`` are ignored::

    {"query": "red car by the harbour", "relevant": ["photos/car.jpg"]}
    {"image": "examples/cat.jpg", "relevant": ["photos/chelsea.png"], "modality": "image"}
    {"audio": "clips/q.wav", "relevant": [{"path": "talks/budget.opus", "start": 60, "end": 90}]}
    {"query": "invoice 12345", "relevant": ["docs/invoice.pdf"], "id": "inv-1"}

Keys:

- ``query`` (text), ``image`` or ``audio`` (an example file, which must exist):
  at least one; text may be mixed with one example file, not ``image`` with ``audio``.
- ``relevant``: the files a good search finds, at least one. Each is a path,
  or ``{"path": ..., "start": s, "end": e}`` in seconds: then a hit counts only
  if its moment overlaps [start, end] (touching counts), and a hit without a
  time does not count. Either bound may be left out.
- ``modality`` (image, audio, text or video): the group of the query in the
  per-modality table. Without it, the media type of the first relevant file.
- ``id``: the name of the query in the per-query listing (default "line N").

Relative paths resolve against the folder of the query file and ``~`` is
expanded; paths are compared after ``abspath``/``normpath`` (links are not
followed). Any other key, ``k`` included (the cut-offs are fixed), is an error.

Per query, recall@k is the share of its relevant entries found in the top k,
reciprocal rank is 1/rank of the first relevant hit, and nDCG@10 uses binary
gains and a log2(rank + 1) discount; each relevant entry is credited once. The
reported figures are means over queries (MRR is the mean reciprocal rank). A
query whose search fails counts as zero everywhere and is listed.

Problems are reported as ``FILE:LINE: what is wrong. What to do``, all lines at once.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from mmsearch.errors import MmsearchError, UsageError

MODALITIES = ("text", "image", "audio", "video")
"""Allowed ``modality`` values, in the order the per-modality tables list them."""
UNKNOWN = "unknown"
_KEYS = frozenset({"query", "image", "audio", "relevant", "modality", "id"})
_RELEVANT_KEYS = frozenset({"path", "start", "end"})
_MAX_LISTED = 10


class EvalFileError(UsageError):
    """The query file is missing or has invalid lines; ``problems`` lists every one."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        listed = self.problems[:_MAX_LISTED]
        more = len(self.problems) - len(listed)
        lines = listed + ([f"... and {more} more"] if more else [])
        if len(self.problems) > 1:
            lines.insert(0, f"{len(self.problems)} problems in the query file:")
        super().__init__("\n".join(lines))


@dataclass(frozen=True, slots=True)
class Relevant:
    """A file (or a moment of one) that a query should find."""

    path: str
    start: float | None = None
    end: float | None = None


@dataclass(frozen=True, slots=True)
class EvalQuery:
    """One line of the query file, validated, with absolute paths."""

    line: int
    id: str
    text: str | None
    image: str | None
    audio: str | None
    relevant: tuple[Relevant, ...]
    modality: str | None


@dataclass(frozen=True, slots=True)
class RankedHit:
    """One search result; ``copies`` are near-duplicates collapsed into it."""

    path: str
    start: float | None = None
    end: float | None = None
    copies: tuple[str, ...] = ()


def _norm(path: str) -> str:
    return os.path.normpath(os.path.abspath(path))


def _resolve(path: str, base: str) -> str:
    return _norm(os.path.join(base, os.path.expanduser(path)))


def _type(value: object) -> str:
    return "null" if value is None else type(value).__name__


def _seconds(entry: dict[str, Any], key: str, where: str, problems: list[str]) -> float | None:
    value = entry.get(key)
    if value is None:
        return None
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value < 0:
        problems.append(f"{where}.{key} must be a number of seconds >= 0, got {value!r}. Fix it")
        return None
    return float(value)


def _relevant_entry(raw: object, where: str, base: str, problems: list[str]) -> Relevant | None:
    if isinstance(raw, str) and raw:
        return Relevant(_resolve(raw, base))
    if not isinstance(raw, dict):
        problems.append(
            f"{where} must be a path or an object with path/start/end, got {raw!r}. "
            'Write "photos/a.jpg" or {"path": "talk.opus", "start": 60, "end": 90}'
        )
        return None
    for key in sorted(set(raw) - _RELEVANT_KEYS):
        problems.append(f"{where} has unknown key {key!r}. Use only path, start and end")
    path = raw.get("path")
    if not isinstance(path, str) or not path:
        problems.append(f"{where} needs a non-empty 'path' string, got {path!r}. Add the file")
    start, end = _seconds(raw, "start", where, problems), _seconds(raw, "end", where, problems)
    if start is not None and end is not None and start > end:
        problems.append(f"{where} has start {start:g} after end {end:g}. Swap or fix them")
    if not isinstance(path, str) or not path:
        return None
    return Relevant(_resolve(path, base), start, end)


def _relevant(obj: dict[str, Any], base: str, problems: list[str]) -> tuple[Relevant, ...]:
    raw = obj.get("relevant")
    if raw is None:
        problems.append('no \'relevant\' list. Add "relevant": ["path/of/the/expected/file"]')
        return ()
    if not isinstance(raw, list):
        problems.append(f"'relevant' must be a list, got {_type(raw)}. Write [\"path\", ...]")
        return ()
    if not raw:
        problems.append("'relevant' is empty. List at least one file the query should find")
    entries = (_relevant_entry(r, f"relevant[{i}]", base, problems) for i, r in enumerate(raw))
    return tuple(r for r in entries if r is not None)


def _string(obj: dict[str, Any], key: str, problems: list[str]) -> str | None:
    value = obj.get(key)
    if value is None or (isinstance(value, str) and value.strip()):
        return value
    problems.append(f"'{key}' must be a non-empty string, got {value!r}. Fix or remove it")
    return None


def _example(obj: dict[str, Any], key: str, base: str, problems: list[str]) -> str | None:
    value = _string(obj, key, problems)
    if value is None:
        return None
    path = _resolve(value, base)
    if not os.path.isfile(path):
        problems.append(
            f"example {key} not found: {path}. Fix the path (relative to the query file's folder)"
        )
    return path


def _inputs(obj: dict[str, Any], base: str, problems: list[str]) -> tuple[str | None, ...]:
    given = {k for k in ("query", "image", "audio") if obj.get(k) is not None}
    if {"image", "audio"} <= given:
        problems.append("has both 'image' and 'audio'. Give one example file a query; split it")
    elif not given:
        problems.append("has no 'query', 'image' or 'audio'. Add the text or example to search")
    text = _string(obj, "query", problems)
    return text, _example(obj, "image", base, problems), _example(obj, "audio", base, problems)


def _keys(obj: dict[str, Any], problems: list[str]) -> None:
    for key in sorted(obj.keys() - _KEYS):
        if key == "k":
            problems.append("'k' is not supported (metrics are fixed at 1, 5 and 10). Remove it")
        else:
            problems.append(f"unknown key {key!r}. Use only {', '.join(sorted(_KEYS))}")


def _modality(obj: dict[str, Any], problems: list[str]) -> str | None:
    value = obj.get("modality")
    if value is None or value in MODALITIES:
        return value
    problems.append(f"'modality' must be one of {', '.join(MODALITIES)}, got {value!r}. Fix it")
    return None


def _parse_line(text: str, line: int, base: str, problems: list[str]) -> EvalQuery | None:
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        problems.append(
            f"not valid JSON at column {exc.colno}: {exc.msg}. "
            "Write one JSON object per line (lines starting with # are comments)"
        )
        return None
    if not isinstance(obj, dict):
        problems.append(f'expected a JSON object, got {_type(obj)}. Write {{"query": ...}}')
        return None
    _keys(obj, problems)
    text_in, image, audio = _inputs(obj, base, problems)
    relevant, modality = _relevant(obj, base, problems), _modality(obj, problems)
    qid = _string(obj, "id", problems) or f"line {line}"
    return EvalQuery(line, qid, text_in, image, audio, relevant, modality)


def _read(path: str) -> list[str]:
    try:
        with open(path, encoding="utf-8") as f:
            return f.read().splitlines()
    except FileNotFoundError:
        raise EvalFileError([f"{path}: no such query file. Check the path"]) from None
    except IsADirectoryError:
        raise EvalFileError([f"{path}: is a folder. Give the .jsonl query file"]) from None
    except UnicodeDecodeError as exc:
        msg = f"{path}: not UTF-8 text (byte {exc.start}). Save the file as UTF-8"
        raise EvalFileError([msg]) from None
    except OSError as exc:
        raise EvalFileError([f"{path}: cannot be read ({exc.strerror}). Check it"]) from None


def load_queries(path: str | os.PathLike[str]) -> list[EvalQuery]:
    """Read and validate a query file; raise :class:`EvalFileError` listing every bad line."""
    name = os.fspath(path)
    base = os.path.dirname(_norm(name))
    queries: list[EvalQuery] = []
    problems: list[str] = []
    seen: dict[str, int] = {}
    for number, text in enumerate(_read(name), start=1):
        if not text.strip() or text.lstrip().startswith("#"):
            continue
        found: list[str] = []
        query = _parse_line(text, number, base, found)
        if query is not None and query.id in seen:
            found.append(f"id {query.id!r} is also used on line {seen[query.id]}. Make ids unique")
        problems.extend(f"{name}:{number}: {p}" for p in found)
        if query is not None and not found:
            seen[query.id] = number
            queries.append(query)
    if problems:
        raise EvalFileError(problems)
    if not queries:
        raise EvalFileError(
            [f'{name}: no queries. Add lines like {{"query": "...", "relevant": ["file"]}}']
        )
    return queries


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
        paths = {_norm(p) for p in (hit.path, *hit.copies)}
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
    return QueryResult(query, judged, tuple(h.path for h in hits[:10]), seconds, None, group)


def evaluate(
    queries: Sequence[EvalQuery],
    search: Callable[[EvalQuery], Sequence[RankedHit]],
    *,
    name: str = "default",
    modality_of: Callable[[EvalQuery], str | None] = lambda q: q.modality,
) -> EvalReport:
    """Run every query through ``search`` and judge its hits.

    A query's group is its ``modality`` if the file gives one, else ``modality_of(query)``,
    else "unknown". A search raising :class:`MmsearchError` counts as all zeros with its
    message kept; any other exception is a bug and propagates.
    """
    results = []
    for query in queries:
        group = query.modality or modality_of(query) or UNKNOWN
        results.append(_run_one(query, search, group))
    return EvalReport(name, results)


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
    return default if query.id == default else f"{query.id} ({default})"


def _error_lines(report: EvalReport) -> list[str]:
    failed = report.errors()
    if not failed:
        return []
    return [f"{_count(len(failed))} failed (counted as 0):"] + [
        f"  {_label(r.query)}: {r.error}" for r in failed
    ]


def _per_query_lines(result: QueryResult) -> list[str]:
    rank = result.first_relevant_rank
    lines = [
        f"{_label(result.query)} [{result.group}]  RR {result.reciprocal_rank:.3f}  "
        f"recall@10 {result.recall(10):.3f}  nDCG@10 {result.ndcg_10:.3f}  "
        f"first relevant: {rank if rank is not None else '-'}  {result.seconds:.2f}s"
    ]
    if result.error is not None:
        return [*lines, f"  error: {result.error}"]
    marks = ("*" if j >= 0 else " " for j in result.judged)
    return lines + [
        f"  {i:>2}{m} {p}" for i, (m, p) in enumerate(zip(marks, result.top_paths, strict=False), 1)
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
    return "\n".join(lines)
