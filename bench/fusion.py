"""Benchmark: vector-only vs keyword-only vs fused search on the mixed corpus.

Builds the mixed corpus (``bench/mixed_corpus.py``: photos, espeak-ng recordings, documents
and 58 queries written blind) in a temporary folder, indexes its ``photos``, ``recordings``
and ``docs`` into a temporary catalog with the library's default encoder selection, then
runs every query under four configurations, all with k=10 and weak hits kept (the metrics
need full rankings, not only confident hits):

- ``vector``: the vector signal alone; ``keyword``: FTS5 BM25 alone;
- ``fused score``: both, summed calibrated scores (the default);
- ``fused rrf``: both, reciprocal-rank fusion.

It prints recall@1/5/10, MRR and nDCG@10 side by side, overall, per modality and per
query kind, and how each fusion compares with the better single signal, query by query.

This is not a test: it prints figures. Run from the repository root::

    .venv/bin/python bench/fusion.py                    # ~2 minutes, most of it indexing
    .venv/bin/python bench/fusion.py --corpus /tmp/mc --catalog /tmp/mc.db   # keep both
"""

from __future__ import annotations

import argparse
import datetime
import json
import logging
import math
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from mixed_corpus import build_corpus
from mixed_queries import QUERIES

from mmsearch import Library
from mmsearch.cli.search import eval_searcher
from mmsearch.errors import UsageError
from mmsearch.query.evaluation import (
    METRIC_NAMES,
    EvalQuery,
    EvalReport,
    Metrics,
    evaluate,
    load_queries,
)
from mmsearch.query.planner import SearchOptions

CONFIGS: tuple[tuple[str, SearchOptions], ...] = (
    ("vector", SearchOptions(k=10, keep_weak=True, signals=("vector",))),
    ("keyword", SearchOptions(k=10, keep_weak=True, signals=("keyword",))),
    ("fused score", SearchOptions(k=10, keep_weak=True)),
    ("fused rrf", SearchOptions(k=10, keep_weak=True, fusion="rrf")),
)
SINGLE = ("vector", "keyword")
FUSED = ("fused score", "fused rrf")
MODALITY_ORDER = ("image", "audio", "text")
KIND_ORDER = ("exact", "paraphrase", "visual", "mixed")
KIND_OF = {q.id: q.kind for q in QUERIES}
SUBFOLDERS = ("photos", "recordings", "docs")


def corpus_queries(corpus: Path | None, tmp: Path) -> Path:
    """The corpus's ``queries.jsonl``: built under ``tmp``, or in ``corpus`` if it has none."""
    dest = corpus if corpus is not None else tmp / "corpus"
    queries = dest / "queries.jsonl"
    if corpus is not None and queries.is_file():
        print(f"corpus: reusing {dest}")
        return queries
    print(f"corpus: building in {dest}")
    return build_corpus(dest)


def open_library(catalog: Path | None, tmp: Path, corpus: Path) -> Library:
    """The catalog given (indexed already, or indexed now), else a new one under ``tmp``."""
    path = catalog if catalog is not None else tmp / "catalog.db"
    lib = Library.open(path)
    if catalog is not None and path.is_file() and lib.catalog.active_space() is not None:
        print(f"catalog: reusing {path}")
        return lib
    print(f"indexing {', '.join(SUBFOLDERS)} of {corpus} into {path} ...", flush=True)
    report = lib.index(*(corpus / sub for sub in SUBFOLDERS))
    for line in report.summary_lines():
        print(f"  {line}")
    return lib


def check_indexed(lib: Library, queries: Sequence[EvalQuery]) -> None:
    """Refuse a reused catalog that does not hold the corpus's files (another build)."""
    missing = [q.relevant[0].path for q in queries if lib.media_type_of(q.relevant[0].path) is None]
    if missing:
        raise UsageError(
            f"{len(missing)} relevant files are not in the catalog {lib.db_path}, e.g. "
            f"{missing[0]}; give the --corpus that catalog was indexed from, or a new --catalog."
        )


def groups(report: EvalReport) -> dict[str, Metrics]:
    """Metrics overall, per modality (image, audio, text), then per query kind."""
    out = {f"overall ({len(report.results)})": report.overall()}
    modality = report.by_modality()
    for name in MODALITY_ORDER:
        if name in modality:
            out[f"modality {name} ({modality[name].queries})"] = modality[name]
    for kind in KIND_ORDER:
        results = [r for r in report.results if KIND_OF.get(r.query.id) == kind]
        if results:
            out[f"kind {kind} ({len(results)})"] = Metrics.of(results)
    return out


def table(reports: Sequence[EvalReport]) -> str:
    """The reports side by side: one column each, metric rows under each group."""
    rows = [["", *(r.name for r in reports)]]
    per_report = [groups(r) for r in reports]
    for group in per_report[0]:
        rows.append([group] + [""] * len(reports))
        for i, metric in enumerate(METRIC_NAMES):
            cells = [f"{g[group].values()[i]:.3f}" for g in per_report]
            rows.append([f"  {metric}", *cells])
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for first, *rest in rows:
        cells = [c.rjust(w) for c, w in zip(rest, widths[1:], strict=True)]
        lines.append("  ".join([first.ljust(widths[0]), *cells]))
    return "\n".join(lines)


def compare(fused: EvalReport, single: EvalReport) -> dict[str, Any]:
    """Fused against one single-signal report, by reciprocal rank per query (same order)."""
    better: list[dict[str, Any]] = []
    worse: list[dict[str, Any]] = []
    same: list[dict[str, Any]] = []
    for rf, rs in zip(fused.results, single.results, strict=True):
        delta = rf.reciprocal_rank - rs.reciprocal_rank
        entry = {"id": rf.query.id, "single": round(rs.reciprocal_rank, 4),
                 "fused": round(rf.reciprocal_rank, 4)}  # fmt: skip
        if math.isclose(delta, 0.0, abs_tol=1e-9):
            same.append(entry)
        else:
            (better if delta > 0 else worse).append(entry)
    return {
        "fused": fused.name,
        "single": single.name,
        "mrr_delta": round(fused.overall().mrr - single.overall().mrr, 6),
        "better": better,
        "worse": worse,
        "same": [e["id"] for e in same],
    }


def verdict_lines(verdict: dict[str, Any]) -> list[str]:
    """The one-line verdict, then the queries it lost, with RR single -> fused."""
    name = verdict["fused"].removeprefix("fused ")
    lines = [
        f"fused ({name}) vs best single signal ({verdict['single']}): "
        f"MRR {verdict['mrr_delta']:+.3f}; better on {len(verdict['better'])} queries, "
        f"worse on {len(verdict['worse'])}, same on {len(verdict['same'])}"
    ]
    for label in ("worse", "better"):
        listed = ", ".join(f"{e['id']} {e['single']:.2f}->{e['fused']:.2f}" for e in verdict[label])
        if listed:
            lines.append(f"  {label}: {listed}")
    return lines


def machine() -> dict[str, Any]:
    """Date, cores and load average, for figures taken on a shared machine."""
    return {
        "date": datetime.date.today().isoformat(),
        "cpus": os.cpu_count(),
        "load": [round(x, 2) for x in os.getloadavg()],
    }


def run(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    """Build or reuse corpus and catalog, run the four configurations, print the figures."""
    queries_file = corpus_queries(args.corpus, tmp)
    queries = load_queries(queries_file)
    with open_library(args.catalog, tmp, queries_file.parent) as lib:
        check_indexed(lib, queries)
        space = lib.catalog.active_space()
        assert space is not None  # indexed above, or checked by open_library
        print(f"space: {space.encoder_id} {space.checkpoint or '(default)'} {space.dim}-d")
        reports = []
        for name, options in CONFIGS:
            started = time.perf_counter()
            reports.append(evaluate(queries, eval_searcher(lib, options), name=name))
            print(f"ran {name}: {len(queries)} queries in {time.perf_counter() - started:.1f}s")
    info = machine()
    print(f"\n{info['date']}, {info['cpus']} CPUs, load {' '.join(map(str, info['load']))}")
    print(f"mixed corpus, {len(queries)} queries; k=10, weak hits kept\n")
    print(table(reports))
    by_name = {r.name: r for r in reports}
    best = max(SINGLE, key=lambda n: by_name[n].overall().mrr)
    verdicts = [compare(by_name[f], by_name[best]) for f in FUSED]
    print()
    for verdict in verdicts:
        print("\n".join(verdict_lines(verdict)))
    for report in reports:
        for failed in report.errors():
            print(f"{report.name}: {failed.query.id} failed (counted as 0): {failed.error}")
    return {
        "machine": info,
        "space": {"encoder": space.encoder_id, "checkpoint": space.checkpoint, "dim": space.dim},
        "configs": {name: options.to_json() for name, options in CONFIGS},
        "reports": [r.to_json() for r in reports],
        "by_group": {r.name: {g: m.to_json() for g, m in groups(r).items()} for r in reports},
        "kinds": KIND_OF,
        "verdicts": verdicts,
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line, run the benchmark, optionally write the figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--corpus", type=Path, help="reuse (or build once in) this corpus folder")
    parser.add_argument("--catalog", type=Path, help="reuse (or index once into) this catalog")
    parser.add_argument("--json", type=Path, help="write every figure to this JSON file")
    args = parser.parse_args(argv)
    if args.catalog is not None and args.catalog.is_file() and args.corpus is None:
        parser.error("--catalog reuses an indexed catalog; give the --corpus it was indexed from")
    # The library says here which encoders it passed over (e.g. open-clip without weights).
    logging.basicConfig(level=logging.WARNING, format="%(name)s: %(message)s")
    try:
        with tempfile.TemporaryDirectory(prefix="mmsearch-fusion-") as tmp:
            figures = run(args, Path(tmp))
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.json is not None:
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
        print(f"\nfigures written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
