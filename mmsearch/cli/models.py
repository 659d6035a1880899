"""``mmsearch models``: list, pull, export, import and verify model weights."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from mmsearch.cli.context import CONTEXT_SETTINGS, registry_for
from mmsearch.safe_text import terminal_safe, terminal_safe_lines

if TYPE_CHECKING:
    from mmsearch.contracts import ModelSpec
    from mmsearch.models import ModelStatus

_JSON = click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")


@contextmanager
def _model_errors() -> Iterator[None]:
    """A ModelError is exit 1 with its message, which names the files and what to do."""
    from mmsearch.models import ModelError

    try:
        yield
    except ModelError as exc:
        raise click.ClickException(terminal_safe_lines(str(exc))) from exc


def _size(n: int | None) -> str:
    if n is None:
        return "size unknown"
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000  # type: ignore[assignment]
    return f"{n} B"


def _spec(ctx: click.Context, name: str) -> ModelSpec:
    from mmsearch.models import find_model

    return find_model(registry_for(ctx), name)


@click.group("models", context_settings=CONTEXT_SETTINGS)
def models_group() -> None:
    """See, fetch, carry and check the model weights the installed plugins use."""


def _show(status: ModelStatus) -> None:
    spec = status.spec
    mark = " (default)" if spec.default else ""
    state = "here" if status.present else "not here"
    click.echo(f"{terminal_safe(spec.name)}{mark}: {spec.used_by}, {spec.description}")
    click.echo(f"  {state}: {terminal_safe(str(spec.folder or '-'))} ({_size(status.size_bytes)})")
    click.echo(f"  licence {spec.licence}; from {status.source}")
    if spec.unavailable:
        click.echo(f"  cannot run here: {terminal_safe_lines(spec.unavailable)}")
    else:
        click.echo("  can run here")


@models_group.command("list")
@_JSON
@click.pass_context
def list_models(ctx: click.Context, as_json: bool) -> None:
    """Every model the installed plugins know: where, size, licence, whether it can run."""
    from mmsearch.models import known_models, model_status

    statuses = [model_status(spec) for spec in known_models(registry_for(ctx))]
    if as_json:
        click.echo(json.dumps({"models": [s.to_json() for s in statuses]}))
        return
    for status in statuses:
        _show(status)
    if not statuses:
        click.echo("No installed plugin declares a model (`mmsearch plugins` lists them).")


def _progress_bar() -> Callable[[str, int, int | None], None] | None:
    """Progress on stderr while a file downloads, when it is a terminal."""
    if not sys.stderr.isatty():
        return None
    shown: dict[str, Any] = {}

    def update(path: str, done: int, total: int | None) -> None:
        bar = shown.get(path)
        if bar is None:
            for old in shown.values():
                old.render_finish()
            bar = click.progressbar(length=total or 0, label=path, file=sys.stderr)
            shown[path] = bar
        bar.update(done - bar.pos)

    return update


@models_group.command()
@click.argument("name")
@click.option("--force", is_flag=True, help="Download again even if it is here and checks out.")
@_JSON
@click.pass_context
def pull(ctx: click.Context, name: str, force: bool, as_json: bool) -> None:
    """Download model NAME into its folder, checking each file's sha256."""
    from mmsearch.models import pull as pull_model

    with _model_errors():
        spec = _spec(ctx, name)
        manifest = pull_model(spec, progress=None if as_json else _progress_bar(), force=force)
    if as_json:
        click.echo(json.dumps({"pulled": manifest.to_json(), "folder": str(spec.folder)}))
        return
    total = sum(e.size for e in manifest.files)
    click.echo(f"{name}: {len(manifest.files)} files, {_size(total)}, checked, in {spec.folder}")


@models_group.command("export")
@click.argument("name")
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@_JSON
@click.pass_context
def export_command(ctx: click.Context, name: str, folder: Path, as_json: bool) -> None:
    """Copy model NAME into FOLDER with a manifest of sha256 sums, to carry it elsewhere."""
    from mmsearch.models import export_model

    with _model_errors():
        manifest = export_model(_spec(ctx, name), folder)
    if as_json:
        click.echo(json.dumps({"exported": manifest.to_json(), "folder": str(folder)}))
        return
    click.echo(
        f"{name}: {len(manifest.files)} files in {terminal_safe(str(folder))}; on the other "
        f"machine run `mmsearch models import {terminal_safe(str(folder))}`"
    )


@models_group.command("import")
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@_JSON
@click.pass_context
def import_command(ctx: click.Context, folder: Path, as_json: bool) -> None:
    """Check FOLDER (written by `models export`) against its manifest and install it."""
    from mmsearch.models import find_model, import_model

    registry = registry_for(ctx)
    with _model_errors():
        manifest = import_model(folder, lambda name: find_model(registry, name))
        spec = find_model(registry, manifest.name)
    if as_json:
        click.echo(json.dumps({"imported": manifest.to_json(), "folder": str(spec.folder)}))
        return
    click.echo(
        f"{manifest.name}: {len(manifest.files)} files checked and installed in "
        f"{terminal_safe(str(spec.folder))}"
    )


@models_group.command()
@click.argument("names", nargs=-1)
@_JSON
@click.pass_context
def verify(ctx: click.Context, names: tuple[str, ...], as_json: bool) -> None:
    """Hash the files of NAMES (default: every model that is here) again; exit 1 on a mismatch."""
    from mmsearch.models import known_models, model_status, verify_model

    with _model_errors():
        if names:
            specs = [_spec(ctx, name) for name in names]
        else:
            specs = [s for s in known_models(registry_for(ctx)) if model_status(s).present]
    results = [verify_model(spec) for spec in specs]
    if as_json:
        click.echo(json.dumps({"models": [r.to_json() for r in results]}))
    else:
        for result in results:
            against = f" against {result.against}" if result.against else ""
            click.echo(f"{result.name}: {result.state} ({result.checked} files{against})")
            for problem in result.problems:
                click.echo(f"  {terminal_safe_lines(problem)}")
        if not results:
            click.echo("No model is on this machine yet (`mmsearch models list`).")
    if any(r.state in ("mismatch", "missing") for r in results):
        ctx.exit(1)
