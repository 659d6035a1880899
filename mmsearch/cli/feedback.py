"""``mmsearch feedback QUERY PATH --good/--bad``: a label for ``mmsearch tune``."""

from __future__ import annotations

import json
from pathlib import Path

import click

from mmsearch.cli.context import db_option, open_library


@click.command()
@click.argument("query", required=False)
@click.argument("path", required=False, type=click.Path(path_type=Path))
@click.option("--good/--bad", default=None, help="PATH is a right (or a wrong) answer to QUERY.")
@click.option("--list", "show", is_flag=True, help="List the stored feedback.")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@db_option
@click.pass_context
def feedback(ctx: click.Context, query: str | None, path: Path | None, good: bool | None,
             show: bool, as_json: bool) -> None:  # fmt: skip
    """Say whether PATH is a good answer to QUERY; `mmsearch tune` learns from it."""
    if show:
        with open_library(ctx, read_only=True) as lib:
            rows = lib.feedback()
        if as_json:
            shaped = [{"id": r.id, "query": r.query, "path": r.path, "good": r.good} for r in rows]
            click.echo(json.dumps({"feedback": shaped}))
        for r in [] if as_json else rows:
            click.echo(f"{'good' if r.good else 'bad ':<4}  {r.query!r}  {r.path}")
        return
    if query is None or path is None or good is None:
        raise click.UsageError("Give QUERY, PATH and --good or --bad (or --list).")
    with open_library(ctx) as lib:
        lib.add_feedback(query, path, good=good)
    click.echo(f"Noted: {path} is a {'good' if good else 'bad'} answer to {query!r}.")
