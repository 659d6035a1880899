"""The ``mmsearch`` command: a thin click layer over :class:`mmsearch.Library`."""

from mmsearch.cli.app import cli, main

__all__ = ["cli", "main"]
