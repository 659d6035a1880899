"""A test plugin (loaded with MMSEARCH_PLUGIN_MODULES) that kills a process mid-index.

Its annotator looks at text segments; the first one holding ``STOP-MILVUS`` makes it send
SIGKILL to the process group named by ``MMSEARCH_TEST_KILL_PGID``: the Milvus server,
stopped while the index run is between batches.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Callable
from typing import ClassVar

from mmsearch import Annotator, Segment, Source, hookimpl


class StopMilvus(Annotator):
    """Stops the Milvus server when it sees the marker."""

    name: ClassVar[str] = "stop-milvus"
    kinds: ClassVar[frozenset[str]] = frozenset({"text"})

    def annotate(self, segment: Segment, source: Source) -> Segment:
        pgid = os.environ.get("MMSEARCH_TEST_KILL_PGID")
        if pgid and segment.text and "STOP-MILVUS" in segment.text:
            with contextlib.suppress(ProcessLookupError):  # stopped by an earlier segment
                os.killpg(int(pgid), signal.SIGKILL)
        return segment


@hookimpl
def register_annotators(register: Callable[[Annotator], None]) -> None:
    """Provide the annotator."""
    register(StopMilvus())
