"""What every command shares: the context settings, the plugin registry, the open library."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import click
from click.core import ParameterSource

from mmsearch.errors import MmsearchError, UsageError
from mmsearch.safe_text import terminal_safe_lines

if TYPE_CHECKING:
    from mmsearch.index.executor import Executor
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
    # `plugins` and `doctor` report failures themselves.
    if not obj.get("warned") and ctx.info_name not in ("plugins", "doctor"):
        obj["warned"] = True
        for info in registry.failures:
            click.echo(
                f"warning: plugin {info.name} is not loaded: {info.error} (see `mmsearch plugins`)",
                err=True,
            )
    return registry


@contextmanager
def open_library(ctx: click.Context, *, read_only: bool = False) -> Iterator[Library]:
    """Open the library for a command, turning its errors into exit codes.

    ``read_only`` for commands that only read (``status``, ``query``): they never
    create, upgrade or write the catalog.
    """
    import sqlite3

    from sqlalchemy.exc import SQLAlchemyError

    from mmsearch.library import Library

    path: Path | None = None
    try:
        opened = Library.open(
            ctx.obj.get("db"),
            registry=registry_for(ctx),
            store=ctx.obj.get("store"),
            read_only=read_only,
            store_options=ctx.obj.get("store_options"),
        )
        path = opened.db_path
        with opened as lib:
            yield lib
    except UsageError as exc:
        raise click.UsageError(terminal_safe_lines(str(exc))) from exc  # may name files
    except MmsearchError as exc:
        raise click.ClickException(terminal_safe_lines(str(exc))) from exc
    except (SQLAlchemyError, sqlite3.DatabaseError) as exc:
        raise click.ClickException(terminal_safe_lines(_catalog_failure(exc, path))) from exc


def _catalog_failure(exc: Exception, path: Path | None) -> str:
    """What to say when SQLite fails under a command: damaged, or another failure."""
    from mmsearch.store.catalog_file import damaged, is_damage

    if path is not None and is_damage(exc):
        return str(damaged(path, getattr(exc, "orig", exc)))
    named = f" {path}" if path else ""
    return (
        f"The catalog{named} could not be read or written: {exc.__class__.__name__}: "
        f"{getattr(exc, 'orig', exc)}. Files already indexed are safe; check free disk "
        "space and permissions, then run again."
    )


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


def _remember_milvus_uri(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value:
        obj = ctx.ensure_object(dict)
        obj.setdefault("store_options", {})["uri"] = value
        obj.setdefault("store", "milvus")  # a Milvus address means the Milvus store


milvus_uri_option = click.option(
    "--milvus-uri",
    metavar="URI",
    envvar="MMSEARCH_MILVUS_URI",
    expose_value=False,
    callback=_remember_milvus_uri,
    help="Milvus for --store milvus: a local file (Milvus Lite) or http://host:19530 "
    "(token: MMSEARCH_MILVUS_TOKEN); recorded for the library. Default: a Lite file beside "
    "the catalog.",
)
"""``--milvus-uri URI``: where the Milvus store keeps the library's collections."""


def _remember_db(ctx: click.Context, param: click.Parameter, value: Path | None) -> None:
    """Keep ``--db`` from before or after the command; a typed one beats ``MMSEARCH_DB``."""
    if value is None:
        return
    obj = ctx.ensure_object(dict)
    if ctx.get_parameter_source(param.name or "db") is not ParameterSource.COMMANDLINE:
        obj.setdefault("db", value)
        return
    typed: Path | None = obj.get("db_typed")
    if typed is not None and os.path.abspath(typed) != os.path.abspath(value):
        raise click.UsageError(
            f"--db is given twice, as {typed} and as {value}; give it once (before or after "
            "the command).",
            ctx,
        )
    obj["db"] = obj["db_typed"] = value


db_option = click.option(
    "--db",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="MMSEARCH_DB",
    expose_value=False,
    callback=_remember_db,
    help="Catalog file, before or after the command. Default: $MMSEARCH_HOME/catalog.db, "
    "else the user data folder.",
)
"""``--db PATH`` (``MMSEARCH_DB``): the catalog a command opens, accepted on the group and
on each command that opens a library."""


def _remember_executor(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    if value:
        ctx.ensure_object(dict)[param.name or "executor"] = value


executor_option = click.option(
    "--executor",
    type=click.Choice(["local", "ray"]),
    envvar="MMSEARCH_EXECUTOR",
    expose_value=False,
    callback=_remember_executor,
    help="Where extraction and embedding run: here (local, default) or as a Ray Data job "
    "(pip install 'mmsearch[ray]'; workers must see the files at the same paths).",
)
ray_address_option = click.option(
    "--ray-address",
    metavar="ADDR",
    envvar="MMSEARCH_RAY_ADDRESS",
    expose_value=False,
    callback=_remember_executor,
    help="The Ray cluster for --executor ray (e.g. ray://head:10001); default: a local one.",
)


def executor_for(ctx: click.Context) -> Executor | None:
    """The executor ``--executor`` asked for; None runs locally. Imports ray only for ray."""
    obj = ctx.ensure_object(dict)
    if obj.get("executor", "local") == "local":
        if obj.get("ray_address"):
            raise click.UsageError("--ray-address needs --executor ray.", ctx)
        return None
    from mmsearch.index.ray_executor import RayExecutor

    return RayExecutor(obj.get("ray_address"))
