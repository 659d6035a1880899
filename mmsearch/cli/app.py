"""The ``mmsearch`` command: a thin click layer over :class:`mmsearch.Library`.

Exit codes: 0 success (skipped files included), 1 failure, 2 usage error.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Any

import click

from mmsearch.cli.context import (
    CONTEXT_SETTINGS,
    db_option,
    executor_for,
    executor_option,
    milvus_uri_option,
    open_library,
    ray_address_option,
    registry_for,
    store_option,
)
from mmsearch.cli.doctor import doctor
from mmsearch.cli.feedback import feedback
from mmsearch.cli.models import models_group
from mmsearch.cli.scaffold import plugin_group
from mmsearch.cli.search import eval_command, query
from mmsearch.cli.serve import serve
from mmsearch.cli.store_cmd import store_group
from mmsearch.cli.tune import tune
from mmsearch.safe_text import SafeFormatter


def _setup_logging(verbose: int) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(SafeFormatter("%(message)s"))  # log lines name files
    logger = logging.getLogger("mmsearch")
    logger.handlers[:] = [handler]
    logger.setLevel(logging.DEBUG if verbose > 1 else logging.INFO if verbose else logging.WARNING)
    logger.propagate = False
    _escape_plugin_warnings()


class _PluginWarnings(logging.StreamHandler[Any]):
    """The root logger's handler while the CLI runs: plugins' warnings, escaped."""


def _escape_plugin_warnings() -> None:
    # Plugins log under their own names; without a handler on the root logger their
    # warnings (which name files) would reach stderr raw, through Python's last resort.
    root = logging.getLogger()
    root.handlers[:] = [h for h in root.handlers if not isinstance(h, _PluginWarnings)]
    handler = _PluginWarnings(sys.stderr)
    handler.setFormatter(SafeFormatter("%(message)s"))
    handler.setLevel(logging.WARNING)
    root.addHandler(handler)


@click.group(context_settings=CONTEXT_SETTINGS)
@db_option
@click.option("-v", "--verbose", count=True, help="Say more (-vv for debug output).")
@click.version_option(package_name="mmsearch")
@click.pass_context
def cli(ctx: click.Context, verbose: int) -> None:
    """Search your photos, recordings and documents by meaning."""
    _setup_logging(verbose)
    ctx.ensure_object(dict)


@cli.command()
@click.argument(
    "folders",
    nargs=-1,
    required=True,
    # Not exists=True: a root the library knows may be missing (an unmounted drive), and
    # the library says so (exit 1) instead of click calling it a usage error.
    type=click.Path(file_okay=False, path_type=Path),
)
@click.option(
    "--encoder",
    envvar="MMSEARCH_ENCODER",
    help="Encoder for this library (see `mmsearch plugins`); another than the library's "
    "adds a new space, filled by this run.",
)
@click.option(
    "--model",
    help="Model for the encoder: a name it knows, or a local weights file. Recorded as "
    "part of the library's space.",
)
@click.option(
    "--space",
    "spaces",
    multiple=True,
    metavar="ENCODER[=MODEL]",
    help="Also fill this encoder's space, beside the main one, from now on (repeatable): "
    "--space clap embeds sounds for text queries. Queries search it by default.",
)
@click.option(
    "--max-image-megapixels",
    type=click.FloatRange(min=0.01),
    default=100.0,
    show_default=True,
    help="Skip images larger than this (decompression bombs).",
)
@click.option(
    "--max-text-mb",
    type=click.FloatRange(min=0.001),
    default=50.0,
    show_default=True,
    help="Skip text files larger than this many megabytes.",
)
@click.option(
    "--chunk-chars",
    type=click.IntRange(min=50),
    default=1000,
    show_default=True,
    help="Target size of text chunks, in characters.",
)
@click.option(
    "--follow-symlinks",
    is_flag=True,
    help="Walk into symlinked folders (each folder at most once).",
)
@click.option(
    "--set",
    "plugin_options",
    multiple=True,
    metavar="KEY=VALUE",
    callback=lambda _ctx, _param, values: _parse_options(values),
    help="A plugin option, e.g. --set whisper_model=small (repeatable; see `mmsearch plugins`).",
)
@click.option("--include-hidden", is_flag=True, help="Also index dot-files and dot-folders.")
@click.option("--retry-failed", is_flag=True, help="Re-read files that failed last time.")
@click.option(
    "--retry-skipped",
    is_flag=True,
    help="Re-read skipped files too (they are re-read anyway when a cap, plugin option or "
    "plugin changes, and unreadable ones on every run).",
)
@click.option(
    "--allow-empty-root",
    is_flag=True,
    help="Index a folder that is missing, empty or another one than before (e.g. a drive "
    "not mounted) as it is, dropping its entries; without it such a folder is refused.",
)
@click.option(
    "--file-timeout",
    type=click.FloatRange(min=0),
    default=3600.0,
    show_default=True,
    metavar="SECONDS",
    help="Give up a file whose reading takes longer than this (a stuck drive); 0: no limit.",
)
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=64,
    show_default=True,
    help="Files committed per transaction.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@store_option
@milvus_uri_option
@executor_option
@ray_address_option
@db_option
@click.pass_context
def index(
    ctx: click.Context,
    folders: tuple[Path, ...],
    encoder: str | None,
    model: str | None,
    spaces: tuple[str, ...],
    max_image_megapixels: float,
    max_text_mb: float,
    chunk_chars: int,
    follow_symlinks: bool,
    plugin_options: dict[str, str],
    include_hidden: bool,
    retry_failed: bool,
    retry_skipped: bool,
    allow_empty_root: bool,
    file_timeout: float,
    batch_size: int,
    as_json: bool,
) -> None:
    """Scan FOLDERS, extract and embed new or changed files, drop deleted ones."""
    from mmsearch.contracts import ExtractSettings
    from mmsearch.index.indexer import IndexOptions

    options = IndexOptions(
        settings=ExtractSettings(
            max_image_megapixels=max_image_megapixels,
            max_text_bytes=int(max_text_mb * 1_000_000),
            text_chunk_chars=chunk_chars,
            options=plugin_options,
        ),
        follow_symlinks=follow_symlinks,
        include_hidden=include_hidden,
        retry_failed=retry_failed,
        retry_skipped=retry_skipped,
        allow_empty_root=allow_empty_root,
        file_timeout=file_timeout or None,
        commit_every=batch_size,
        executor=executor_for(ctx),
    )
    from mmsearch.cli.progress import terminal_progress

    with open_library(ctx) as lib, terminal_progress() as progress:
        report = lib.index(
            *folders,
            encoder=encoder,
            model=model,
            options=options,
            on_progress=progress,
            spaces=spaces,
        )
    if as_json:
        click.echo(json.dumps(report.to_json()))
    else:
        for line in report.summary_lines():
            click.echo(line)
    if report.unavailable:
        ctx.exit(1)  # each refused root was named on stderr, with what to do


def _parse_options(values: tuple[str, ...]) -> dict[str, str]:
    options: dict[str, str] = {}
    for value in values:
        key, sep, setting = value.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"{value!r} is not KEY=VALUE", param_hint="--set")
        options[key.strip()] = setting.strip()
    return options


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
@click.option("--no-server", is_flag=True, help="Read the catalog in this process even when "
              "`mmsearch serve` runs for it.")  # fmt: skip
@store_option
@db_option
@click.pass_context
def status(ctx: click.Context, as_json: bool, no_server: bool) -> None:
    """Show roots, item counts by type and status, spaces and index health."""
    from mmsearch.cli.render import status_lines
    from mmsearch.shapes import dumps, status_json

    shaped = None if no_server else _server_status(ctx)
    if shaped is None:
        with open_library(ctx, read_only=True) as lib:
            shaped = status_json(lib.status())
    if as_json:
        click.echo(dumps(shaped))
        return
    for line in status_lines(shaped):
        click.echo(line)


def _server_status(ctx: click.Context) -> dict[str, Any] | None:
    """The status a running server for this catalog gives, or None when none runs."""
    from mmsearch.serve import client

    server = client.find(ctx.obj.get("db"))
    return None if server is None else client.status(server)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print the plugin list as JSON.")
@click.pass_context
def plugins(ctx: click.Context, as_json: bool) -> None:
    """List installed plugins, what each provides, and any that failed to load."""
    registry = registry_for(ctx)
    infos = list(registry.plugins.values())
    if as_json:
        from mmsearch.shapes import dumps, plugins_json

        click.echo(dumps(plugins_json(registry)))
        return
    for info in infos:
        version = f" {info.version}" if info.version else ""
        if info.error:
            click.echo(f"{info.name}{version}: FAILED: {info.error}")
            continue
        provides = "; ".join(f"{kind}: {', '.join(ids)}" for kind, ids in info.provides.items())
        click.echo(f"{info.name}{version}: {provides or 'hooks ' + ', '.join(info.hooks)}")
    if not infos:
        click.echo("No plugins loaded. Check MMSEARCH_LOAD_PLUGINS, or install a plugin.")


cli.add_command(query)
cli.add_command(eval_command)
cli.add_command(feedback)
cli.add_command(tune)
cli.add_command(plugin_group)
cli.add_command(store_group)
cli.add_command(serve)
cli.add_command(models_group)
cli.add_command(doctor)


def _add_plugin_commands(group: click.Group) -> None:
    from mmsearch.plugins import add_commands, load_plugins

    registry = load_plugins()
    add_commands(registry, group)
    group.context_settings["obj"] = {"registry": registry}


def main() -> None:
    """Entry point of the ``mmsearch`` script."""
    if _command(sys.argv[1:]) not in _WITHOUT_PLUGIN_COMMANDS:
        _add_plugin_commands(cli)
    cli.main(prog_name="mmsearch")


_WITHOUT_PLUGIN_COMMANDS = frozenset({"query", "status"})
"""Commands that need no plugin's command registered: plugins load only if they are used
(``registry_for``), so a query that a running server answers never imports them."""


def _command(args: list[str]) -> str | None:
    """The command ``args`` name (the first word that is not a group option or its value)."""
    values = {"--db"}  # group options that take a value
    skip = False
    for arg in args:
        if skip:
            skip = False
        elif arg in values:
            skip = True
        elif not arg.startswith("-"):
            return arg
    return None
