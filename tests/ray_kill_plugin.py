"""A test plugin for Ray workers (MMSEARCH_PLUGIN_MODULES): kills its own worker once.

The first text segment holding ``KILL-WORKER`` makes the worker process SIGKILL itself,
the first time only (a flag file, created exclusively, says it happened): Ray must restart
the actor and run that batch again.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from typing import ClassVar

from mmsearch import Annotator, Segment, Source, hookimpl


class KillWorker(Annotator):
    """Kills the process it runs in on the marker, once."""

    name: ClassVar[str] = "kill-worker"
    kinds: ClassVar[frozenset[str]] = frozenset({"text"})

    def annotate(self, segment: Segment, source: Source) -> Segment:
        flag = os.environ.get("MMSEARCH_TEST_KILL_FLAG")
        if flag and segment.text and "KILL-WORKER" in segment.text:
            try:
                os.close(os.open(flag, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
            except FileExistsError:
                return segment
            os.kill(os.getpid(), signal.SIGKILL)
        return segment


@hookimpl
def register_annotators(register: Callable[[Annotator], None]) -> None:
    """Provide the annotator."""
    register(KillWorker())
