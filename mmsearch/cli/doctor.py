"""``mmsearch doctor``: versions, plugins, models, catalog, disk, server, torch, telemetry."""

from __future__ import annotations

import json
from pathlib import Path

import click

from mmsearch.cli.context import CONTEXT_SETTINGS, db_option, registry_for
from mmsearch.safe_text import terminal_safe

_MARK = {"ok": "ok  ", "warn": "WARN", "fail": "FAIL"}


@click.command(context_settings=CONTEXT_SETTINGS)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@db_option
@click.pass_context
def doctor(ctx: click.Context, as_json: bool) -> None:
    """Check this installation and catalog; exit 1 with the first thing to fix."""
    from mmsearch.doctor import run_checks
    from mmsearch.store.locations import default_catalog_path

    db = ctx.obj.get("db")
    db_path = Path(db).expanduser() if db else default_catalog_path()
    report = run_checks(registry_for(ctx), db_path.absolute())
    if as_json:
        click.echo(json.dumps(report.to_json()))
    else:
        for check in report.checks:
            click.echo(f"{_MARK[check.state]} {check.name}: {terminal_safe(check.summary)}")
            for detail in check.details:
                click.echo(f"       {terminal_safe(detail)}")
            if check.fix and check.state != "ok":
                click.echo(f"       fix: {terminal_safe(check.fix)}")
        first = report.first_problem
        if first is not None:
            click.echo(f"First thing to fix ({first.name}): {terminal_safe(first.fix or '')}")
        else:
            click.echo("Nothing to fix.")
    if not report.ok:
        ctx.exit(1)
