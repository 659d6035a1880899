"""Which extra signals help the confidence gate: the lead of rank 1 over rank 2, agreement.

On the mixed corpus (bench/mixed_corpus.py) in the library's default space, every query of
the corpus (tuning set), of bench/gate/photos_heldout.jsonl (held aside) and of
bench/gate/no_answer.jsonl is run with the gate's lead rule off, then each variant re-levels
the rank-1 hit from what the hits' explanations carry:

- lead up (what ships): a weak rank-1 whose vector signal leads the best other file of its
  modality by the space's lead bar (the probes' median lead, ``--explain-plan``) and is at
  least 1.0 becomes probable;
- lead down: a confident rank-1 that leads by less than the bar (and has no keyword match
  with most of the query's words) becomes probable;
- agreement down: a confident rank-1 that the keyword signal matched but the vector signal
  did not rank first becomes probable;
- agreement up: a weak rank-1 that both signals rank first becomes probable.

Per modality of the query: right rank-1 shown (confident or probably) and confident;
no-answer queries refused (not confident); wrong rank-1 not confident. The shipped engine's
own levels are printed too (they must equal "lead up").

    .venv/bin/python bench/gate_signals.py /tmp/mixed_corpus /tmp/mixed.db
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import mmsearch.query.runner as runner
from mmsearch import Library
from mmsearch.query.evaluation import load_queries
from mmsearch.query.keyword import COVERAGE_FOR_CONFIDENCE
from mmsearch.query.planner import SearchOptions

HERE = Path(__file__).resolve().parent
FLOOR = 1.0  # mmsearch.query.calibration.PROBABLE_FLOOR
Row = dict[str, Any]


def _vector(hit: Any) -> dict[str, Any] | None:
    signals = [s for s in hit.why["signals"] if s["signal"] != "keyword"]
    return max(signals, key=lambda s: s["calibrated"]) if signals else None


def _keyword(hit: Any) -> dict[str, Any] | None:
    return next((s for s in hit.why["signals"] if s["signal"] == "keyword"), None)


def _beside(corpus: Path, queries: Path) -> Path:
    """A copy of a query file in the corpus folder, whose paths it names relative to it."""
    copy = corpus / queries.name
    shutil.copy(queries, copy)
    return copy


def collect(lib: Library, corpus: Path) -> list[Row]:
    """Every query's rank-1 facts, with the lead rule off and on."""
    sets = {
        "tuning": load_queries(corpus / "queries.jsonl"),
        "held": load_queries(_beside(corpus, HERE / "gate" / "photos_heldout.jsonl")),
        "no-answer": load_queries(HERE / "gate" / "no_answer.jsonl", no_answer=True),
    }
    rows: list[Row] = []
    shipped = runner.stands_clear
    options = SearchOptions(k=30, keep_weak=True)
    for name, queries in sets.items():
        for query in queries:
            text = query.text or ""
            runner.stands_clear = lambda *args: False  # type: ignore[assignment]
            result = lib.search(text, options=options)
            runner.stands_clear = shipped
            engine = lib.search(text, options=options).hits[0].level
            top, rest = result.hits[0], result.hits[1:]
            vector, keyword = _vector(top), _keyword(top)
            bars = dict(result.plan.spaces[0].gaps) if result.plan.spaces else {}
            rivals = [v["calibrated"] for h in rest if h.modality == top.modality
                      and (v := _vector(h)) is not None]  # fmt: skip
            relevant = [r.path for r in query.relevant] if query.relevant else []
            rows.append({
                "set": name, "modality": query.modality or lib.media_type_of(relevant[0]),
                "level": top.level, "engine": engine,
                "right": any(top.path == p or top.path.endswith("/" + p) for p in relevant)
                if relevant else None,
                "vector": vector["calibrated"] if vector else None,
                "vector_rank": vector["rank"] if vector else None,
                "keyword_rank": keyword["rank"] if keyword else None,
                "coverage": float(keyword.get("coverage") or 0.0) if keyword else 0.0,
                "lead": vector["calibrated"] - max(rivals) if vector and rivals else None,
                "bar": bars.get(top.modality),
            })  # fmt: skip
    return rows


def lead_up(r: Row) -> str:
    clear = r["lead"] is not None and r["bar"] is not None and r["lead"] >= r["bar"]
    ok = r["level"] == "weak" and clear and r["vector"] >= FLOOR
    return "probable" if ok else str(r["level"])


def lead_down(r: Row) -> str:
    short = r["lead"] is not None and r["bar"] is not None and r["lead"] < r["bar"]
    words = r["coverage"] >= COVERAGE_FOR_CONFIDENCE
    return "probable" if r["level"] == "confident" and short and not words else lead_up(r)


def agree_down(r: Row) -> str:
    split = r["keyword_rank"] is not None and r["vector_rank"] != 1
    return "probable" if r["level"] == "confident" and split else lead_up(r)


def agree_up(r: Row) -> str:
    both = r["keyword_rank"] == 1 and r["vector_rank"] == 1
    return "probable" if r["level"] == "weak" and both else lead_up(r)


def report(rows: list[Row], name: str, level: Callable[[Row], str]) -> None:
    cells = []
    for modality in ("text", "image", "audio"):
        right = [level(r) for r in rows if r["set"] == "tuning" and r["modality"] == modality
                 and r["right"]]  # fmt: skip
        refused = [level(r) != "confident" for r in rows
                   if r["set"] == "no-answer" and r["modality"] == modality]  # fmt: skip
        shown = sum(x != "weak" for x in right)
        sure = sum(x == "confident" for x in right)
        cells.append(f"{modality}: shown {shown}/{len(right)} confident {sure}/{len(right)} "
                     f"refused {sum(refused)}/{len(refused)}")  # fmt: skip
    wrong = [level(r) != "confident" for r in rows if r["set"] == "tuning" and r["right"] is False]
    held = [level(r) for r in rows if r["set"] == "held" and r["right"]]
    cells.append(f"wrong not confident {sum(wrong)}/{len(wrong)}")
    cells.append(f"held aside: shown {sum(x != 'weak' for x in held)}/{len(held)} "
                 f"confident {sum(x == 'confident' for x in held)}/{len(held)}")  # fmt: skip
    print(f"{name:16} " + " | ".join(cells), flush=True)


def main() -> None:
    corpus, catalog = Path(sys.argv[1]), Path(sys.argv[2])
    with Library.open(catalog) as lib:
        rows = collect(lib, corpus)
    report(rows, "no lead rule", lambda r: str(r["level"]))
    report(rows, "lead up (ships)", lead_up)
    report(rows, "engine", lambda r: str(r["engine"]))
    report(rows, "lead down", lead_down)
    report(rows, "agreement down", agree_down)
    report(rows, "agreement up", agree_up)


if __name__ == "__main__":
    main()
