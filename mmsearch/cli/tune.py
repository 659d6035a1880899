"""``mmsearch tune``: fit a query adapter from labels; ``--status``, ``--off``, ``--use``."""

from __future__ import annotations

import json
from pathlib import Path

import click

from mmsearch.cli.context import db_option, open_library


@click.command()
@click.argument("labels", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--name", default="default", show_default=True,
              help="Store the adapter under this name (one space may keep several).")  # fmt: skip
@click.option("--no-feedback", is_flag=True, help="Use only LABELS, not stored feedback.")
@click.option("--folds", type=click.IntRange(min=2), default=5, show_default=True,
              help="Cross-validation folds (split by query).")  # fmt: skip
@click.option("--rank", type=click.IntRange(min=1, max=64), default=8, show_default=True,
              help="Directions the adapter may move a query along.")  # fmt: skip
@click.option("--seed", type=int, default=0, show_default=True, help="Same seed, same adapter.")
@click.option("--status", "show_status", is_flag=True, help="List the stored adapters.")
@click.option("--off", is_flag=True, help="Turn the active space's adapter off.")
@click.option("--use", "use", help="Make this stored adapter the active one.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@db_option
@click.pass_context
def tune(ctx: click.Context, labels: Path | None, name: str, no_feedback: bool, folds: int,
         rank: int, seed: int, show_status: bool, off: bool, use: str | None,
         as_json: bool) -> None:  # fmt: skip
    """Learn from your labels: fit a query adapter for the active space.

    LABELS is an eval-format file (docs/querying.md); stored feedback
    (`mmsearch feedback`) is used too. Figures are k-fold held-out; the adapter
    is turned on only if held-out MRR improves. See docs/tuning.md.
    """
    if sum((show_status, off, use is not None)) > 1:
        raise click.UsageError("Give at most one of --status, --off, --use.")
    with open_library(ctx, read_only=show_status) as lib:
        if show_status:
            rows = [
                {"space": a.space_id, "name": a.name, "active": a.active,
                 "figures": json.loads(a.report).get("figures", {})}
                for a in lib.adapters()
            ]  # fmt: skip
            click.echo(json.dumps({"adapters": rows}) if as_json else _status_text(rows))
            return
        if off or use is not None:
            lib.use_adapter(use)
            click.echo(f"Adapter {use!r} is on." if use else "No adapter is on.")
            return
        report = lib.tune(labels, name=name, use_feedback=not no_feedback, folds=folds,
                          rank=rank, seed=seed)  # fmt: skip
    if as_json:
        click.echo(json.dumps(report.to_json()))
        return
    f = report.figures
    click.echo(
        f"space {report.space_id} ({report.encoder}): {f.labels} labels over {f.queries} "
        f"queries, {f.folds}-fold held-out\n"
        f"  MRR       {f.mrr_before:.3f} -> {f.mrr_after:.3f}\n"
        f"  recall@1  {f.recall_1_before:.3f} -> {f.recall_1_after:.3f}\n"
        f"  folds better {f.folds_better}, worse {f.folds_worse}"
    )
    for line in report.skipped:
        click.echo(f"skipped: {line}", err=True)
    if report.activated:
        click.echo(f"Adapter {report.name!r} stored and turned on (mmsearch tune --off undoes).")
    else:
        click.echo(
            f"Adapter {report.name!r} stored but NOT turned on: held-out MRR did not improve "
            "enough. Add more labels, or check that they are right."
        )


def _status_text(rows: list[dict[str, object]]) -> str:
    if not rows:
        return "No adapters. Fit one with `mmsearch tune LABELS.jsonl`."
    lines = []
    for row in rows:
        figures = row["figures"]
        assert isinstance(figures, dict)
        mrr = f"MRR {figures.get('mrr_before', 0):.3f} -> {figures.get('mrr_after', 0):.3f}"
        on = "on " if row["active"] else "off"
        lines.append(f"{on}  space {row['space']}  {row['name']}  ({mrr} held-out)")
    return "\n".join(lines)
