"""Would `mmsearch tune` gain from fitting a per-signal fusion weight? (measured: no)

The default fusion sums each signal's calibrated score. This re-ranks each query's top 30
files (the engine's own fused score, with the keyword signal's share changed from 1 to w)
and asks whether a w chosen on labels beats w = 1 on labels it did not see: 5-fold by
query within each label set (the fold's best w on the other four folds), and w fitted on
the 50 tune labels then used on the corpus's 58 queries (same library, other phrasings).

Run from the repository root on a built mixed corpus and catalog (bench/gate_tune.py copies
the label files into the corpus folder)::

    .venv/bin/python bench/tune_fusion_weights.py /tmp/mixed_corpus /tmp/mixed.db
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from mmsearch import Library
from mmsearch.query.evaluation import load_queries
from mmsearch.query.planner import SearchOptions

GRID = (0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0)
Candidates = list[tuple[float, float, bool]]
"""Per file: the engine's fused score, the keyword signal's calibrated score, relevant."""


def collect(lib: Library, queries: Path) -> list[Candidates]:
    """Each query's top 30 files, weak ones too."""
    rows = []
    for query in load_queries(queries):
        result = lib.search(query.text, options=SearchOptions(k=30, keep_weak=True))
        relevant = [r.path for r in query.relevant]
        rows.append([
            (hit.score,
             next((s["calibrated"] for s in hit.why["signals"] if s["signal"] == "keyword"), 0.0),
             any(hit.path == p or hit.path.endswith("/" + p) for p in relevant))
            for hit in result.hits
        ])  # fmt: skip
    return rows


def mrr(rows: list[Candidates], w: float) -> float:
    """MRR with the keyword signal weighted w instead of 1."""
    out = []
    for files in rows:
        right = np.array([r for _, _, r in files], dtype=bool)
        if not right.any():
            out.append(0.0)
            continue
        scores = np.array([s + (w - 1) * k for s, k, _ in files])
        out.append(1.0 / (1 + int((scores > scores[right].max()).sum())))
    return float(np.mean(out))


def fit(rows: list[Candidates]) -> float:
    """The grid's best w on these rows (ties go to the one nearest 1)."""
    return max(GRID, key=lambda w: (mrr(rows, w), -abs(w - 1)))


def main() -> None:
    corpus, catalog = Path(sys.argv[1]), Path(sys.argv[2])
    with Library.open(catalog) as lib:
        data = {"corpus queries (58)": collect(lib, corpus / "queries.jsonl"),
                "tune labels (50)": collect(lib, corpus / "labels.jsonl")}  # fmt: skip
    for name, rows in data.items():
        print(f"{name}: MRR by w  " + "  ".join(f"{w}: {mrr(rows, w):.3f}" for w in GRID))
        order = np.random.default_rng(0).permutation(len(rows))
        before, after, chosen = [], [], []
        for fold in np.array_split(order, 5):
            held = set(fold.tolist())
            w = fit([rows[i] for i in range(len(rows)) if i not in held])
            test = [rows[i] for i in fold]
            before.append(mrr(test, 1.0))
            after.append(mrr(test, w))
            chosen.append(w)
        print(f"  5-fold held out: w = 1 {np.mean(before):.3f} -> fitted {np.mean(after):.3f} "
              f"(w chosen per fold {chosen})")  # fmt: skip
    w = fit(data["tune labels (50)"])
    rows = data["corpus queries (58)"]
    print(f"fitted on the tune labels (w = {w}), used on the corpus queries: "
          f"MRR {mrr(rows, 1.0):.3f} -> {mrr(rows, w):.3f}")  # fmt: skip


if __name__ == "__main__":
    main()
