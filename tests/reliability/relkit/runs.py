"""Running ``mmsearch index``: killed at a fault point in a subprocess, or to the end in-process.

The killed run is a real process (a ``SIGKILL`` must not take pytest with it);
runs meant to finish go through the same click command in-process
(``CliRunner``), with the same options and plugins, without a second's start-up.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from crashes import tail

from mmsearch.cli import cli
from mmsearch.faults import FAULT_VARIABLE
from relkit.alt_encoder import MODULE as ALT_MODULE

KIT_PATH = Path(__file__).resolve().parent.parent
"""tests/reliability: on the subprocess's path, so it can load ``relkit.alt_encoder``."""
RUN_TIMEOUT_S = 600.0
"""Only a hang gets near this: a killed run of this suite takes a few seconds."""

APPROXIMATE = {
    "MMSEARCH_FAISS_EXACT_MAX": "50",
    "MMSEARCH_FAISS_NLIST": "8",
    "MMSEARCH_FAISS_M": "8",
}
"""A tiny threshold and small lists, so a few hundred files take the approximate path."""


def index_args(db: Path, media: Path, extra: Sequence[str] = ()) -> list[str]:
    """The command line after ``mmsearch``: index ``media`` into ``db``, JSON summary."""
    return ["--db", str(db), "index", str(media), "--json", *extra]


ALT_PLUGIN = {"MMSEARCH_PLUGIN_MODULES": ALT_MODULE}
"""Runs that fill a second space load its encoder by name (which costs every run about
a second: finding a module's distribution reads every installed package's file list)."""


def plugin_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The variables of a run: the hash encoder, and ``extra``."""
    return {"MMSEARCH_ENCODER": "hash", **(extra or {})}


@dataclass(frozen=True, slots=True)
class KilledRun:
    """How a run that was meant to be killed ended."""

    returncode: int
    stderr: str

    @property
    def killed(self) -> bool:
        """Whether it died by SIGKILL at a fault point (and not otherwise)."""
        return self.returncode == -signal.SIGKILL and "mmsearch: fault point" in self.stderr


def run_killed(args: Sequence[str], fault: str, env: Mapping[str, str], logs: Path) -> KilledRun:
    """Run ``mmsearch ARGS`` in a subprocess with ``MMSEARCH_FAULT=fault``."""
    child = dict(os.environ)
    child.update(plugin_env(env))
    child[FAULT_VARIABLE] = fault
    child["PYTHONPATH"] = os.pathsep.join([str(KIT_PATH), *filter(None, [child.get("PYTHONPATH")])])
    child.pop("MMSEARCH_DB", None)
    logs.mkdir(parents=True, exist_ok=True)
    err = logs / "killed.err"
    with (logs / "killed.out").open("wb") as stdout, err.open("wb") as stderr:
        proc = subprocess.run(
            [sys.executable, "-c", "from mmsearch.cli import main; main()", *args],
            env=child,
            stdout=stdout,
            stderr=stderr,
            timeout=RUN_TIMEOUT_S,
            check=False,
        )
    return KilledRun(proc.returncode, tail(err, 6000))


@contextmanager
def _logger_kept() -> Iterator[None]:
    """Put the ``mmsearch`` logger back after the CLI set it up on CliRunner's streams."""
    logger = logging.getLogger("mmsearch")
    saved = (list(logger.handlers), logger.level, logger.propagate)
    try:
        yield
    finally:
        logger.handlers[:], logger.level, logger.propagate = saved[0], saved[1], saved[2]


def run_cli(args: Sequence[str], env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Run ``mmsearch ARGS`` in-process to the end; its JSON summary. Fails on a non-zero exit."""
    with _logger_kept():
        result = CliRunner().invoke(cli, list(args), env=plugin_env(env), catch_exceptions=True)
    if result.exit_code != 0:
        raise AssertionError(
            f"mmsearch {' '.join(args)} exited {result.exit_code}:\n"
            f"{result.output[-4000:]}\n{result.exception!r}"
        )
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))
