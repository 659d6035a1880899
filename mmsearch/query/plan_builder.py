"""Turning a parsed query, example files and options into a :class:`QueryPlan`."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from mmsearch.contracts import Reranker
from mmsearch.errors import UsageError
from mmsearch.query.filtersql import ItemFilter
from mmsearch.query.keyword import content_words
from mmsearch.query.planner import (
    Example,
    PlannedPart,
    PlannedReranker,
    PlannedSpace,
    QueryPlan,
    SearchOptions,
    adapter_note,
)
from mmsearch.query.querylang import ParsedQuery
from mmsearch.query.spacesearch import SpaceSearch


def choose_rerankers(available: Mapping[str, Reranker], options: SearchOptions) -> list[Reranker]:
    """The rerankers a query runs: the defaults, plus those asked for, minus those turned off."""
    for name in (*options.rerank, *options.no_rerank):
        if name not in available:
            known = ", ".join(sorted(available)) or "none"
            raise UsageError(
                f"Unknown reranker {name!r} (installed: {known}); `mmsearch plugins` lists them."
            )
    chosen = [
        r
        for name, r in available.items()
        if (r.default or name in options.rerank) and name not in options.no_rerank
    ]
    return sorted(chosen, key=lambda r: (r.order, r.name))


def build_plan(
    parsed: ParsedQuery,
    examples: Sequence[Example],
    item_filter: ItemFilter,
    spaces: Mapping[str, SpaceSearch],
    rerankers: Sequence[Reranker],
    options: SearchOptions,
    keyword_threshold: float,
) -> QueryPlan:
    """The plan of one query; raises :class:`UsageError` when there is nothing to search for."""
    parts = [
        PlannedPart(label=p.text, weight=p.weight, negative=p.negative, text=p.text)
        for p in parsed.parts
    ]
    parts += [
        PlannedPart(
            label=f"example {os.path.basename(e.path)}",
            weight=e.weight,
            negative=e.negative,
            example=os.path.abspath(e.path),
        )
        for e in examples
    ]
    if not any(not p.negative for p in parts):
        raise UsageError(
            "Nothing to search for: give some words or an example file "
            "(negatives such as -people only push results down; filters only narrow them)."
        )
    planned_spaces = [
        PlannedSpace(
            label=label,
            space_id=s.space.id,
            encoder=s.space.encoder_id,
            dim=s.space.dim,
            vectors=s.store.ntotal,
            threshold=s.calibration.threshold(),
            by_modality=tuple((m, t, p) for m, (t, p) in s.calibration.modality_bars().items()),
            gaps=tuple(
                (m, bar)
                for m in sorted(s.calibration.nulls)
                if (bar := s.calibration.gap_bar(m)) is not None
            ),
            adapter=s.adapter.name if s.adapter is not None else None,
        )
        for label, s in spaces.items()
    ]
    plan = QueryPlan(
        source=parsed.source or None,
        parts=parts,
        keywords=tuple(content_words(parsed.keywords)),
        negative_keywords=parsed.negative_keywords,
        item_filter=item_filter,
        spaces=planned_spaces,
        rerankers=[PlannedReranker(r.name, r.order, r.description) for r in rerankers],
        options=options,
        keyword_threshold=keyword_threshold,
    )
    plan.notes.extend(n for n in (adapter_note(s) for s in planned_spaces) if n)
    if "keyword" in options.signals and not parsed.keywords:
        plan.notes.append("no words to match by keyword (examples only): vector signal only")
    return plan
