"""``mmsearch store rebuild``: refill the vector store from the catalog."""

from __future__ import annotations

import click

from mmsearch.cli.context import CONTEXT_SETTINGS, db_option, open_library, store_option


@click.group("store", context_settings=CONTEXT_SETTINGS)
def store_group() -> None:
    """The vector store of a library (FAISS files, Milvus collections)."""


@store_group.command("rebuild")
@store_option
@db_option
@click.pass_context
def rebuild(ctx: click.Context) -> None:
    """Rebuild every space's vector index from the catalog (the catalog is the truth)."""
    with open_library(ctx) as lib:
        done = lib.rebuild_indexes()
        for space, count in done:
            click.echo(
                f"space {space.encoder_id} ({space.dim}-d): {count} vectors in {lib.store_name}"
            )
        if not done:
            click.echo("The catalog has no spaces yet; nothing to rebuild.")
