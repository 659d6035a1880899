"""``mmsearch serve``: the library behind a REST API and a page, models loaded once."""

from __future__ import annotations

import ipaddress
import logging
from pathlib import Path

import click

from mmsearch.cli.context import db_option, registry_for, store_option


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to bind; another than loopback needs --token.")  # fmt: skip
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True,
              help="Port to listen on (0: any free one).")  # fmt: skip
@click.option("--watch", multiple=True, type=click.Path(file_okay=False, path_type=Path),
              help="Keep this folder indexed as files change (repeatable).")  # fmt: skip
@click.option("--read-only", is_flag=True, help="Answer queries only: refuse index jobs.")
@click.option("--token", envvar="MMSEARCH_TOKEN",
              help="Require this token on every request (Authorization: Bearer).")  # fmt: skip
@click.option("--cors", multiple=True, metavar="ORIGIN",
              help="Allow this web origin to call the API (repeatable).")  # fmt: skip
@click.option("--allow-host", multiple=True, metavar="NAME",
              help="Also answer requests whose Host header is NAME (repeatable).")  # fmt: skip
@click.option("--max-upload-mb", type=click.FloatRange(min=0.001), default=50.0,
              show_default=True, help="Largest example upload accepted.")  # fmt: skip
@click.option(
    "--readers",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Queries answered at once, each by a reader with its own copy of the vector "
    "indexes (the models are shared and embed one query at a time); see docs/serve.md.",
)
@store_option
@db_option
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, watch: tuple[Path, ...], read_only: bool,
          token: str | None, cors: tuple[str, ...], allow_host: tuple[str, ...],
          max_upload_mb: float, readers: int) -> None:  # fmt: skip
    """Serve the library: REST API (/api/v1), the search page (/), live folders.

    Models load once and stay warm; `mmsearch query` and `status` find this server
    (a discovery file beside the catalog) and ask it. Stop with Ctrl-C.
    """
    from mmsearch.serve.server import serve as run
    from mmsearch.serve.state import Engine, ServeConfig
    from mmsearch.store.locations import default_catalog_path

    if not _loopback(host) and not token:
        raise click.UsageError(
            f"Binding {host} exposes the library beyond this machine: give --token TOKEN "
            "(or MMSEARCH_TOKEN), which every request must then carry."
        )
    if read_only and watch:
        raise click.UsageError("--watch indexes folders; it cannot go with --read-only.")
    for folder in watch:
        if not folder.is_dir():
            raise click.UsageError(
                f"--watch {folder}: not a folder; give a folder to keep indexed."
            )
    db = ctx.obj.get("db")
    db_path = Path(db if db is not None else default_catalog_path()).expanduser().absolute()
    if read_only and not db_path.exists():
        raise click.ClickException(
            f"No catalog at {db_path}; run `mmsearch index FOLDER` first, or give --db."
        )
    config = ServeConfig(
        db_path=db_path, host=host, port=port, token=token, read_only=read_only, cors=cors,
        allowed_hosts=allow_host, watch=tuple(p.absolute() for p in watch),
        store=ctx.obj.get("store"), max_upload_bytes=int(max_upload_mb * 1_000_000),
        readers=readers,
    )  # fmt: skip
    _log_requests()
    engine = Engine(config, registry_for(ctx))

    def listening(url: str) -> None:
        click.echo(f"mmsearch serving {db_path} at {url} (Ctrl-C stops)", err=True)

    try:
        run(config, engine, listening)
    except SystemExit as exc:  # uvicorn exits when it cannot bind
        raise click.ClickException(
            f"Could not listen on {host}:{port} (in use, or not an address here); "
            "choose another with --port."
        ) from exc
    except OSError as exc:
        raise click.ClickException(f"Could not serve on {host}:{port}: {exc}.") from exc


def _log_requests() -> None:
    """One line per request at INFO on stderr, whatever -v says for the rest."""
    logging.getLogger("mmsearch.serve").setLevel(logging.INFO)
