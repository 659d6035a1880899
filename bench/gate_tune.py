"""The confidence gate and `mmsearch tune` on the mixed corpus: figures for bench/README.md.

Builds (or reuses) the mixed corpus of `bench/mixed_corpus.py` and a catalog of it in the
library's default space, then prints:

1. `mmsearch eval` of the corpus's 58 queries with `--no-answer bench/gate/no_answer.jsonl`
   (24 queries with no answer in the corpus): retrieval figures and the gate section;
2. the same for the held-aside photo queries `bench/gate/photos_heldout.jsonl` (15, never
   used to choose anything);
3. `tune` on `bench/tune/labels.jsonl` (50 labels, two phrasings per file), 5-fold held out
   by query, on a copy of the catalog; then the same labels with their files shuffled
   (seed 0), which must not activate.

Run from the repository root (about a minute on 2 cores, most of it indexing)::

    .venv/bin/python bench/gate_tune.py
    .venv/bin/python bench/gate_tune.py --corpus /tmp/mc --catalog /tmp/mc.db   # keep both
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fusion import corpus_queries, open_library

from mmsearch import Library
from mmsearch.cli.search import eval_searcher, parse_config
from mmsearch.query.evaluation import evaluate, format_report, load_queries

HERE = Path(__file__).resolve().parent


def gate_report(lib: Library, queries: Path, no_answer: Path | None, name: str) -> None:
    """One eval report with its gate section, as `mmsearch eval` prints it."""
    loaded = load_queries(queries)
    refusable = load_queries(no_answer, no_answer=True) if no_answer else []
    search = eval_searcher(lib, parse_config(""))
    report = evaluate(loaded, search, name=name, modality_of=lambda q: lib.media_type_of(
        q.relevant[0].path), no_answer=refusable)  # fmt: skip
    print(format_report(report), "\n", flush=True)


def shuffled(labels: Path, dest: Path) -> Path:
    """The label file with its relevant files shuffled among its lines (seed 0)."""
    lines = [json.loads(x) for x in labels.read_text().splitlines() if x.startswith("{")]
    files = [line["relevant"] for line in lines]
    random.Random(0).shuffle(files)
    dest.write_text("".join(json.dumps({**line, "relevant": f}) + "\n"
                            for line, f in zip(lines, files, strict=True)))  # fmt: skip
    return dest


def tune_report(catalog: Path, labels: Path, tmp: Path, name: str) -> None:
    """tune on a copy of the catalog, so the benchmark's catalog keeps no adapter."""
    copy = tmp / f"tune-{name}.db"
    shutil.copy(catalog, copy)
    with Library.open(copy) as lib:
        report = lib.tune(labels, name=name, use_feedback=False)
    f = report.figures
    print(f"tune {name}: {f.labels} labels over {f.queries} queries, {f.folds}-fold held out")
    print(f"  MRR      {f.mrr_before:.3f} -> {f.mrr_after:.3f} ({f.mrr_after - f.mrr_before:+.3f})")
    print(f"  recall@1 {f.recall_1_before:.3f} -> {f.recall_1_after:.3f}")
    print(f"  folds better {f.folds_better}, worse {f.folds_worse}; activated: {f.activate}\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, help="corpus folder (built there if empty)")
    parser.add_argument("--catalog", type=Path, help="catalog (indexed if new)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mmsearch-gate-") as name:
        tmp = Path(name)
        queries = corpus_queries(args.corpus, tmp)
        corpus = queries.parent
        for extra in (HERE / "gate" / "photos_heldout.jsonl", HERE / "tune" / "labels.jsonl"):
            shutil.copy(extra, corpus / extra.name)
        with open_library(args.catalog, tmp, corpus) as lib:
            catalog = lib.db_path
            gate_report(lib, queries, HERE / "gate" / "no_answer.jsonl", "mixed corpus")
            gate_report(lib, corpus / "photos_heldout.jsonl", None, "held-aside photos")
        tune_report(catalog, corpus / "labels.jsonl", tmp, "labels")
        tune_report(catalog, shuffled(corpus / "labels.jsonl", corpus / "shuffled.jsonl"), tmp,
                    "shuffled")  # fmt: skip


if __name__ == "__main__":
    main()
