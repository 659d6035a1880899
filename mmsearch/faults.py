"""Named points in the write path where a crash test can kill the process.

``MMSEARCH_FAULT=NAME`` makes the process send itself ``SIGKILL`` the first
time it reaches the point ``NAME``; ``MMSEARCH_FAULT=NAME:N`` on its ``N``-th
time. The reliability suite (``tests/reliability``, see docs/reliability.md)
runs a real ``mmsearch index`` with it and checks that a rerun repairs
everything. The variable is read once, at import; unset, a fault point is one
comparison with ``None``.

Every point is listed in :data:`POINTS`, with where it sits and what a kill
there leaves behind; a test checks that each one is called in the code and
that the crash matrix covers it.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Mapping
from types import MappingProxyType

FAULT_VARIABLE = "MMSEARCH_FAULT"

POINTS: Mapping[str, str] = MappingProxyType(
    {
        "mid-migration": (
            "migrations/env.py: every migration has run, its transaction not yet committed"
        ),
        "after-move-commit": (
            "index/indexer.py, move detection: one move committed, later ones not yet made"
        ),
        "after-remove-commit": (
            "store/space_writer.py: vanished items deleted from the catalog, "
            "not yet from the vector index"
        ),
        "mid-batch-transaction": (
            "store/catalog.py, write_items: a batch's rows inserted, the transaction not committed"
        ),
        "after-catalog-commit": (
            "store/space_writer.py: a batch committed to the catalog, not yet added to the index"
        ),
        "after-backfill-commit": (
            "store/space_writer.py: vectors of a new space committed for a batch of indexed "
            "items, not yet added to its index"
        ),
        "cache-temp-written": (
            "store/faiss_file.py: the new index file written and fsynced under its temp name, "
            "before os.replace"
        ),
        "cache-replaced": (
            "store/faiss_file.py: the new index file renamed into place, its folder not fsynced"
        ),
        "ann-rows-written": (
            "store/faiss_ann.py: an approximate index's rows file in place, the index file "
            "naming it not yet written"
        ),
        "ann-file-written": (
            "store/faiss_index.py: an approximate index's file written, the rows files of "
            "earlier builds not yet deleted"
        ),
        "calibration-measured": (
            "query/spacesearch.py: a space's calibration measured after a run, not yet stored"
        ),
        "before-activate": (
            "library.py: a new space holds every file's vectors, not yet made the one queries use"
        ),
    }
)
"""Every fault point: its name, and where it is and what a kill there leaves behind."""


def _parse(raw: str | None) -> tuple[str, int] | None:
    if not raw:
        return None
    name, _, nth = raw.partition(":")
    if name not in POINTS:
        known = ", ".join(POINTS)
        raise ValueError(f"{FAULT_VARIABLE}={raw!r}: no fault point {name!r} (known: {known})")
    if nth and (not nth.isdigit() or int(nth) < 1):
        raise ValueError(f"{FAULT_VARIABLE}={raw!r}: after the colon, a hit number 1 or more")
    return name, int(nth) if nth else 1


_TARGET = _parse(os.environ.get(FAULT_VARIABLE))
_hits = 0


def fault_point(name: str) -> None:
    """Kill this process with SIGKILL here when ``MMSEARCH_FAULT`` names this point and hit."""
    global _hits
    if _TARGET is None or _TARGET[0] != name:
        return
    _hits += 1
    if _hits < _TARGET[1]:
        return
    # Said first, so a test can tell this kill from any other (a flush is all a kill spares).
    sys.stderr.write(f"mmsearch: fault point {name} (hit {_hits}): SIGKILL\n")
    sys.stderr.flush()
    os.kill(os.getpid(), signal.SIGKILL)


__all__ = ("FAULT_VARIABLE", "POINTS", "fault_point")
