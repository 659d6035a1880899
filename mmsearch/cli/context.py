"""What every command shares: the context settings, the plugin registry, the open library."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import click

from mmsearch.errors import MmsearchError, UsageError

if TYPE_CHECKING:
    from mmsearch.library import Library
    from mmsearch.plugins import Registry

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "auto_envvar_prefix": "MMSEARCH"}


def registry_for(ctx: click.Context) -> Registry:
    """The plugin registry of this invocation, loaded once; load failures warned once."""
    obj = ctx.ensure_object(dict)
    if "registry" not in obj:
        from mmsearch.plugins import load_plugins

        obj["registry"] = load_plugins()
    registry: Registry = obj["registry"]
    if not obj.get("warned") and ctx.info_name != "plugins":
        obj["warned"] = True
        for info in registry.failures:
            click.echo(
                f"warning: plugin {info.name} is not loaded: {info.error} (see `mmsearch plugins`)",
                err=True,
            )
    return registry


@contextmanager
def open_library(ctx: click.Context) -> Iterator[Library]:
    """Open the library for a command, turning its errors into exit codes."""
    from sqlalchemy.exc import SQLAlchemyError

    from mmsearch.library import Library

    try:
        opened = Library.open(
            ctx.obj.get("db"), registry=registry_for(ctx), store=ctx.obj.get("store")
        )
        with opened as lib:
            yield lib
    except UsageError as exc:
        raise click.UsageError(str(exc)) from exc
    except MmsearchError as exc:
        raise click.ClickException(str(exc)) from exc
    except SQLAlchemyError as exc:
        raise click.ClickException(
            f"The catalog could not be read or written: {exc.__class__.__name__}: "
            f"{getattr(exc, 'orig', exc)}. Files already indexed are safe; check free disk "
            "space and permissions, then run again."
        ) from exc


def _remember_store(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value:
        ctx.ensure_object(dict)["store"] = value


store_option = click.option(
    "--store",
    metavar="NAME",
    envvar="MMSEARCH_STORE",
    expose_value=False,
    callback=_remember_store,
    help="Vector store (default: the library's, else faiss); `index` records it for the library.",
)
"""``--store NAME``: the vector store a command uses (``mmsearch plugins`` lists them)."""
