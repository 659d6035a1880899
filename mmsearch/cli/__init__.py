"""The ``mmsearch`` command: a thin click layer over :class:`mmsearch.Library`.

The entry point first offers the arguments to the warm CLI's fast path
(:mod:`mmsearch.serve.fastpath`): a query or status a running server answers is printed
before click and the command modules are imported. Everything else runs the full CLI.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mmsearch.cli.app import cli


def main() -> None:
    """Entry point of the ``mmsearch`` script."""
    from mmsearch.serve.fastpath import answer

    code = answer(sys.argv[1:])
    if code is not None:
        sys.exit(code)
    from mmsearch.cli.app import main as full_cli

    full_cli()


def __getattr__(name: str) -> Any:
    if name == "cli":  # loaded on use: the fast path must not import click
        from mmsearch.cli.app import cli

        return cli
    raise AttributeError(f"module 'mmsearch.cli' has no attribute {name!r}")


__all__ = ["cli", "main"]
