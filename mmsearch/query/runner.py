"""Running a query plan: embed, retrieve, rerank, fuse, threshold, explain.

Retrieval gathers candidate files from each signal: per space, the nearest
segments in its FAISS index (only among the segments the SQL filters allow,
when there are filters), and the best BM25 matches of the keyword search.
Every candidate is then loaded with all its segments, and the rerankers and
fusion decide the order (see :mod:`mmsearch.query.ranking`). Every hit is resolved
through SQL, so a file gone from the catalog never comes back.
"""

from __future__ import annotations

import dataclasses
import os
import sqlite3
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from mmsearch.contracts import Reranker, SegmentFilter
from mmsearch.errors import UsageError
from mmsearch.index.report import display_path
from mmsearch.query.calibration import keyword_calibrated
from mmsearch.query.explain import build_why, snippet
from mmsearch.query.fusion import fuse
from mmsearch.query.gate import gap_key, is_confident, is_probable, modality_key, stands_clear
from mmsearch.query.hits import Hit
from mmsearch.query.keyword import KeywordRow, KeywordStats, search_keywords, tokens
from mmsearch.query.planner import QueryPlan
from mmsearch.query.pushdown import pushable, search_pushed
from mmsearch.query.ranking import (
    FUSION_ORDER,
    KEYWORD,
    Candidate,
    QueryPart,
    RerankContext,
    SegmentMatch,
    Signal,
    positive_mean,
    vector_signal,
)
from mmsearch.query.spacesearch import SpaceSearch
from mmsearch.store.catalog import Catalog, chunks

KEYWORD_THRESHOLD = 0.84
"""A keyword match is confident from here: at most a 1-in-5 chance that a random segment
holds the same words (and most of the query's words must be there, see fusion)."""


@dataclass(slots=True)
class SearchResult:
    """The hits of one query, its plan, and whether anything matched confidently."""

    hits: list[Hit]
    plan: QueryPlan
    confident: bool
    best_weak: Hit | None = None
    """When nothing was confident: the best of what was found, for the message."""
    timings: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The stable JSON shape of a query's answer."""
        return {
            "query": {
                "text": self.plan.source,
                "examples": [p.example for p in self.plan.parts if p.example],
                "k": self.plan.options.k,
            },
            "confident": self.confident,
            "results": [hit.to_json() for hit in self.hits],
            "best_weak": self.best_weak.to_json() if self.best_weak else None,
            "plan": self.plan.to_json(),
            "timings_ms": {k: round(v * 1000, 2) for k, v in self.timings.items()},
        }


class PlanRunner:
    """Executes one plan against the catalog and the spaces' indexes."""

    def __init__(
        self,
        catalog: Catalog,
        plan: QueryPlan,
        spaces: dict[str, SpaceSearch],
        rerankers: Sequence[Reranker],
        keyword_counts: dict[str, int] | None = None,
    ) -> None:
        self.catalog = catalog
        self.keyword_counts = keyword_counts
        self.plan = plan
        self.spaces = spaces
        self.rerankers = sorted(rerankers, key=lambda r: (r.order, r.name))
        self.timings: dict[str, float] = {}
        self.raw_paths: dict[str, bytes] = {}
        """Each loaded candidate's path as bytes, by its shown path (for ``path_bytes_b64``)."""
        self._pushed: SegmentFilter | None = None
        """The type/date filter the stores evaluate themselves (mmsearch/query/pushdown.py)."""

    def run(self) -> SearchResult:
        """Execute the plan."""
        # The keyword search needs no embedding: it runs on its own connection while the
        # query is embedded and the vector index searched (SQLite, torch and FAISS all
        # release the GIL), which takes its ~10 ms at 100,000 segments off the critical path.
        with ThreadPoolExecutor(max_workers=1) as pool:
            keyword_rows = pool.submit(self._keyword_rows)
            with self._timed("embed"):
                parts = self._embed_parts()
            with self.catalog.sqlite() as conn:
                candidates = self._retrieve(conn, parts, keyword_rows)
        context = RerankContext(parts, self.spaces, self.plan.options.to_json())
        with self._timed("rerank"):
            ranked = self._rerank(candidates, context)
        return self._result(ranked)

    @contextmanager
    def _timed(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        yield
        self.timings[name] = self.timings.get(name, 0.0) + time.perf_counter() - started

    # -- embedding -----------------------------------------------------------

    def _embed_parts(self) -> list[QueryPart]:
        parts = []
        for planned in self.plan.parts:
            vectors: dict[str, npt.NDArray[np.float32]] = {}
            for label, space in self.spaces.items():
                vector = (
                    space.embed_text(planned.text)
                    if planned.text is not None
                    else space.embed_example(
                        planned.example or "", self.plan.options.max_image_megapixels
                    )
                )
                if vector is not None:
                    vectors[label] = vector
            if planned.example is not None and not vectors:
                labels = ", ".join(self.spaces)
                raise UsageError(
                    f"Cannot use {display_path(os.fsencode(planned.example))} as an example: "
                    f"no space searched ({labels}) embeds what it holds; give a file of a "
                    "kind the library indexes (`mmsearch status` lists its spaces)."
                )
            parts.append(QueryPart(planned.label, planned.weight, planned.negative, vectors))
        return parts

    # -- retrieval -----------------------------------------------------------

    def _keyword_rows(self) -> list[KeywordRow]:
        if not self.plan.uses_keywords:
            return []
        started = time.perf_counter()
        with self.catalog.sqlite() as conn:
            depth = self.plan.options.candidates * 3
            rows = search_keywords(conn, self.plan.keywords, self.plan.item_filter, depth)
        self.timings["keyword search (parallel)"] = time.perf_counter() - started
        return rows

    def _retrieve(
        self, conn: sqlite3.Connection, parts: list[QueryPart], keyword: Future[list[KeywordRow]]
    ) -> list[Candidate]:
        allowed: npt.NDArray[np.int64] | None = None
        indexes = [space.store for space in self.spaces.values()]
        self._pushed = pushable(self.plan.item_filter, indexes)
        if self.plan.item_filter.active and self._pushed is None:
            with self._timed("filter"):
                ids = self.plan.item_filter.allowed_segments(conn)
            self.plan.allowed_segments = len(ids)
            if not ids:
                return []
            allowed = np.asarray(ids, dtype=np.int64)
        found: dict[int, dict[str, Signal]] = {}
        if self.plan.uses_vectors:
            with self._timed("vector"):
                self._vector_arm(conn, parts, allowed, found)
        with self._timed("keyword wait"):
            keyword_rows = keyword.result()
        for item_id in _best_items(keyword_rows, self.plan.options.candidates):
            found.setdefault(item_id, {})
        with self._timed("load"):
            candidates, names = _load_candidates(conn, found, self.raw_paths)
        with self._timed("keyword judge"):
            self._judge_keywords(conn, candidates, keyword_rows, names)
        return candidates

    def _vector_arm(
        self,
        conn: sqlite3.Connection,
        parts: list[QueryPart],
        allowed: npt.NDArray[np.int64] | None,
        found: dict[int, dict[str, Signal]],
    ) -> None:
        depth = self.plan.options.candidates * 4
        for label, space in self.spaces.items():
            query = positive_mean(parts, label)
            if query is None:
                continue
            ids, sims = self._space_hits(conn, space, query, depth, allowed)
            item_of = _items_of(conn, ids.tolist())
            name = vector_signal(label)
            kept = 0
            for sid, sim in zip(ids.tolist(), sims.tolist(), strict=True):
                item, modality = item_of.get(sid, (None, ""))
                if item is None or name in found.get(item, {}):
                    continue
                if kept >= self.plan.options.candidates:
                    break
                calibrated = space.calibration.calibrate_one(sim, modality)
                found.setdefault(item, {})[name] = Signal(name, sim, calibrated, segment_id=sid)
                kept += 1

    def _space_hits(
        self,
        conn: sqlite3.Connection,
        space: SpaceSearch,
        query: npt.NDArray[np.float32],
        depth: int,
        allowed: npt.NDArray[np.int64] | None,
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
        """The space's nearest segments: type and date filters in the store when it can."""
        if self._pushed is not None:
            found = search_pushed(
                conn, self.plan.item_filter, space.store, query, depth, self._pushed
            )
            if found is not None:
                return found
            # The store's fields lag the catalog's: exact again, through the allow-list.
            allowed = np.asarray(self.plan.item_filter.allowed_segments(conn), dtype=np.int64)
            if self.plan.allowed_segments is None:  # once, however many spaces fell back
                self.plan.allowed_segments = len(allowed)
                self.plan.notes.append(
                    f"the {self.plan.store_filter or 'vector'} store's type/date fields lag "
                    "the catalog's for some hits (`mmsearch store rebuild` refreshes them): "
                    "filtered in SQL instead"
                )
            if not len(allowed):
                return allowed, np.empty(0, dtype=np.float32)
        return space.search(query, depth, allowed)

    def _judge_keywords(
        self,
        conn: sqlite3.Connection,
        candidates: list[Candidate],
        rows: list[KeywordRow],
        names: dict[int, str],
    ) -> None:
        """Score every candidate's segments against the query's words (not only BM25's top)."""
        negatives = [p for p in self.plan.parts if p.negative and p.text]
        if not candidates or (not self.plan.uses_keywords and not negatives):
            return
        words = list(self.plan.keywords) if self.plan.uses_keywords else []
        stats = KeywordStats(conn, [*words, *self.plan.negative_keywords], self.keyword_counts)
        by_segment = {row.segment_id: row for row in rows}
        for candidate in candidates:
            # Each segment's words, once; its keyword text also holds its file's path.
            name_tokens = set(tokens(names.get(candidate.item_id, "")))
            words_of = {
                sid: set(tokens(segment.text or "")) for sid, segment in candidate.segments.items()
            }
            if words:
                _keyword_signal(candidate, words, stats, by_segment, words_of, name_tokens)
            for part in negatives:
                present = name_tokens.union(*words_of.values())
                _push_down_words(candidate, part.text or "", part.weight, stats, present)

    # -- reranking and fusion -------------------------------------------------

    def _rerank(self, candidates: list[Candidate], context: RerankContext) -> list[Candidate]:
        before = [r for r in self.rerankers if r.order < FUSION_ORDER]
        after = [r for r in self.rerankers if r.order >= FUSION_ORDER]
        for reranker in before:
            candidates = reranker.rerank(candidates, context)
        for candidate in candidates:
            candidate.moment = _moment(candidate)
        candidates = fuse(candidates, self.plan.options.fusion, self._applicable)
        for reranker in after:
            candidates = reranker.rerank(candidates, context)
        return candidates

    def _applicable(self, candidate: Candidate) -> int:
        """How many of the query's signals could have found this file."""
        vectors = len(self.plan.spaces) if self.plan.uses_vectors else 0
        has_words = KEYWORD in candidate.signals or any(
            s.text and s.text.strip() for s in candidate.segments.values()
        )
        return vectors + int(self.plan.uses_keywords and has_words)

    def thresholds(self) -> dict[str, float]:
        """The confidence threshold of each signal."""
        chosen = self.plan.options.min_score
        out = {
            vector_signal(s.label): s.threshold if chosen is None else chosen
            for s in self.plan.spaces
        }
        out[KEYWORD] = self.plan.keyword_threshold if chosen is None else chosen
        if chosen is not None:
            return out  # --min-score: one bar for every signal, and no "probably"
        for space in self.plan.spaces:
            for modality, threshold, probable in space.by_modality:
                out[modality_key(vector_signal(space.label), modality)] = threshold
                out[modality_key(vector_signal(space.label), modality, True)] = probable
            for modality, gap in space.gaps:
                out[gap_key(vector_signal(space.label), modality)] = gap
        return out

    def _result(self, ranked: list[Candidate]) -> SearchResult:
        thresholds = self.thresholds()
        options = self.plan.options
        hits: list[Hit] = []
        best_weak: Hit | None = None
        adapters = {s.label: s.adapter for s in self.plan.spaces if s.adapter is not None}
        for rank, candidate in enumerate(ranked):
            confident = is_confident(candidate, thresholds)
            kept = confident or options.keep_weak
            if not kept and best_weak is not None:
                continue  # explanations are built only for what is shown
            why = build_why(candidate, thresholds, options.fusion, confident)
            if adapters:
                why["adapters"] = adapters
            probable = (
                rank == 0
                and not confident
                and (
                    is_probable(candidate, thresholds)
                    or stands_clear(candidate, ranked[1:], thresholds)
                )
            )
            hit = dataclasses.replace(_hit(candidate, why, self.raw_paths), probable=probable)
            if not confident and best_weak is None:
                best_weak = hit
            if kept:
                hits.append(hit)
            if len(hits) >= options.k:
                break
        any_confident = any(h.confident for h in hits)
        return SearchResult(
            hits=hits,
            plan=self.plan,
            confident=any_confident,
            best_weak=None if any_confident else best_weak,
            timings=self.timings,
        )


def _items_of(conn: sqlite3.Connection, segment_ids: list[int]) -> dict[int, tuple[int, str]]:
    """Segment id -> (item id, segment modality), for segments of files still indexed."""
    out: dict[int, tuple[int, str]] = {}
    for chunk in chunks(segment_ids):
        marks = ",".join("?" * len(chunk))
        sql = (
            "SELECT s.id, s.item_id, s.modality FROM segments s JOIN items i ON i.id = s.item_id "
            f"WHERE s.id IN ({marks}) AND i.status = 'done'"
        )
        for sid, item, modality in conn.execute(sql, list(chunk)):
            out[sid] = (item, modality)
    return out


def _best_items(rows: Sequence[KeywordRow], limit: int) -> list[int]:
    items: list[int] = []
    for row in rows:
        if row.item_id not in items:
            items.append(row.item_id)
            if len(items) >= limit:
                break
    return items


def _load_candidates(
    conn: sqlite3.Connection, found: dict[int, dict[str, Signal]], raw_paths: dict[str, bytes]
) -> tuple[list[Candidate], dict[int, str]]:
    """Candidates with their file's path and every segment, and their paths below the root.

    ``raw_paths`` gets each candidate's path bytes, by its shown path.
    """
    candidates: dict[int, Candidate] = {}
    names: dict[int, str] = {}
    item_ids = list(found)
    for chunk in chunks(item_ids):
        marks = ",".join("?" * len(chunk))
        sql = (
            "SELECT i.id, r.path, i.relpath, i.media_type, i.content_hash, i.display "
            "FROM items i JOIN roots r ON r.id = i.root_id "
            f"WHERE i.id IN ({marks}) AND i.status = 'done'"
        )
        for item_id, root, relpath, media_type, content_hash, name in conn.execute(sql, chunk):
            names[item_id] = name
            full = bytes(root).rstrip(b"/") + b"/" + bytes(relpath)
            shown = display_path(full)
            raw_paths[shown] = full
            candidate = Candidate(item_id, shown, media_type or "unknown", content_hash)
            candidate.signals = dict(found[item_id])
            candidates[item_id] = candidate
    for chunk in chunks(list(candidates)):
        marks = ",".join("?" * len(chunk))
        sql = (
            'SELECT id, item_id, kind, modality, start, "end", text, char_start, char_end '
            f"FROM segments WHERE item_id IN ({marks}) ORDER BY item_id, ordinal"
        )
        for sid, item_id, kind, modality, start, end, text, c_start, c_end in conn.execute(
            sql, chunk
        ):
            candidates[item_id].segments[sid] = SegmentMatch(
                sid, kind, modality, start, end, text, c_start, c_end
            )
    return list(candidates.values()), names


def _keyword_signal(
    candidate: Candidate,
    words: list[str],
    stats: KeywordStats,
    by_segment: dict[int, KeywordRow],
    words_of: dict[int, set[str]],
    name_tokens: set[str],
) -> None:
    best: tuple[float, float, int] | None = None
    best_match = None
    for sid, segment in candidate.segments.items():
        match = stats.judge(words, words_of[sid] | name_tokens)
        if not match.matched:
            continue
        segment.scores[KEYWORD] = match.calibrated
        key = (match.calibrated, match.coverage, -sid)
        if best is None or key > best:
            best, best_match = key, (sid, match)
    if best_match is None:
        return
    sid, match = best_match
    row = by_segment.get(sid)
    segment = candidate.segments[sid]
    in_text = words_of[sid]
    detail: dict[str, Any] = {
        "matched": list(match.matched),
        "coverage": round(match.coverage, 3),
        "in_file_name": [w for w in match.matched if not all(t in in_text for t in tokens(w))],
        "snippet": row.snippet if row and row.snippet else snippet(segment.text),
    }
    raw = row.bm25 if row else 0.0
    candidate.signals[KEYWORD] = Signal(KEYWORD, raw, match.calibrated, segment_id=sid,
                                        detail=detail)  # fmt: skip


def _push_down_words(
    candidate: Candidate, text: str, weight: float, stats: KeywordStats, present: set[str]
) -> None:
    """A negative part's words found in the file (``present``) lower its keyword score."""
    words = tokens(text)
    if not words:
        return
    if not all(w in present for w in words):
        return
    probability = 1.0
    for word in words:
        probability *= max(stats.frequency.get(word, 1), 1) / stats.total
    penalty = weight * keyword_calibrated(probability)
    if penalty <= 0:
        return
    signal = candidate.signals.get(KEYWORD)
    if signal is None:
        signal = Signal(KEYWORD, 0.0, 0.0, detail={"matched": [], "coverage": 0.0})
        candidate.signals[KEYWORD] = signal
    signal.calibrated -= penalty
    candidate.pushed_down.append(
        {"part": text, "signal": KEYWORD, "words": words, "penalty": round(penalty, 3)}
    )


def _moment(candidate: Candidate) -> int | None:
    """The segment of the strongest signal: what the hit shows."""
    carried = [s for s in candidate.signals.values() if s.segment_id in candidate.segments]
    if carried:
        return max(carried, key=lambda s: s.calibrated).segment_id
    return next(iter(candidate.segments), None)


def _hit(candidate: Candidate, why: dict[str, Any], raw_paths: dict[str, bytes]) -> Hit:
    segment = candidate.best_segment()
    return Hit(
        path=candidate.path,
        score=candidate.score,
        modality=candidate.media_type,
        kind=segment.kind if segment else "file",
        start=segment.start if segment else None,
        end=segment.end if segment else None,
        text=segment.text if segment else None,
        char_start=segment.char_start if segment else None,
        char_end=segment.char_end if segment else None,
        item_id=candidate.item_id,
        segment_id=segment.segment_id if segment else -1,
        confident=bool(why["confident"]),
        copies=tuple(candidate.copies),
        why=why,
        raw_path=raw_paths.get(candidate.path),
        raw_copies=tuple(raw_paths.get(copy) for copy in candidate.copies),
    )


def example_label(path: str) -> str:
    """How an example file is named in plans and explanations."""
    return f"example {os.path.basename(path)}"
