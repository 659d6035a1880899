"""A loaded FAISS index brought in step with the catalog by the vectors that changed.

A server's reader holds a space's index in memory while an index job commits batch after
batch; every commit bumps the space's generation. Reloading then means the index file,
which the writer saves at the end of its run, so until then a reload is a rebuild from
the catalog: every vector read back from SQLite (about 10 s at 100,000 vectors on 2 cores,
per reader, per commit). Catching up instead reads the space's ids (one column), adds the
few vectors it lacks and drops the ones the catalog no longer has, then trusts the result
only if its digest equals the catalog's (:mod:`mmsearch.store.digest`): a vector changed in
place, or a commit that landed while it read, makes the digests differ, and the caller
reloads as before.
"""

from __future__ import annotations

import numpy as np

from mmsearch.contracts import VectorIndex
from mmsearch.store.catalog import Catalog, SpaceInfo
from mmsearch.store.digest import format_digest
from mmsearch.store.faiss_index import FaissIndex
from mmsearch.store.space_digests import space_digest

MAX_SHARE = 0.25
"""Past this share of the space changed, a reload is as cheap: it is left to the caller."""


def catch_up(index: VectorIndex, catalog: Catalog, space: SpaceInfo) -> bool:
    """Apply the catalog's additions and removals to ``index``; True when it now holds
    exactly the catalog's vectors (digests equal) and carries the generation read first.

    False leaves ``index`` in an unknown state: the caller must reload it. Only the FAISS
    store follows its digest in memory through every add and remove; other stores (Milvus
    repairs itself against the catalog in ``sync``) are always left to the reload.
    """
    if not isinstance(index, FaissIndex) or index.digest is None:
        return False  # it cannot prove what it holds
    generation = catalog.space_generation(space.id)  # first: the contents are at least this
    wanted = catalog.vector_ids(space.id)
    held = np.fromiter(index.ids(), dtype=np.int64)
    missing = np.setdiff1d(wanted, held, assume_unique=True)
    extra = np.setdiff1d(held, wanted, assume_unique=True)
    if len(missing) + len(extra) > max(1_000, MAX_SHARE * len(wanted)):
        return False
    index.remove(extra)
    rows = catalog.vectors_for(space.id, missing.tolist())
    if len(rows) != len(missing):
        return False  # removed while it read: the digests would differ anyway
    if rows:
        ids = np.fromiter(rows, dtype=np.int64, count=len(rows))
        index.add(ids, np.stack([rows[int(i)] for i in ids]))
    expected = space_digest(catalog, space.id)
    if expected is None or format_digest(index.digest) != expected:
        return False
    index.generation = generation
    return True
