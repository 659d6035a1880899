"""Keeps the catalog and a space's vector index in step: the one place both are written.

The catalog is written first and is the truth; the index follows. If the
process dies between the two, the index's generation no longer matches the
catalog's and it is rebuilt from the catalog on the next open, so nothing is
ever lost and a stale id never reaches a user.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from mmsearch.contracts import FloatArray, IdArray, VectorIndex
from mmsearch.faults import fault_point
from mmsearch.store.catalog import Catalog, ItemRecord


class SpaceWriter:
    """Writes one space's changes to the catalog, then to its vector index."""

    def __init__(self, catalog: Catalog, space_id: int, index: VectorIndex) -> None:
        self.catalog = catalog
        self.space_id = space_id
        self.index = index

    def remove_items(self, item_ids: Sequence[int]) -> None:
        """Forget these items, their segments and their vectors in every space."""
        if item_ids:
            removed = self.catalog.remove_items(item_ids)
            fault_point("after-remove-commit")
            self.index.remove(_ids(removed))

    def write_items(self, root_id: int, records: Sequence[ItemRecord]) -> int:
        """Store new or changed items with their segments' vectors; the number of vectors."""
        replaced, ids, vectors = self.catalog.write_items(root_id, self.space_id, records)
        fault_point("after-catalog-commit")
        self.index.remove(_ids(replaced))
        self.index.add(ids, vectors)
        return len(ids)

    def add_vectors(self, segment_ids: Sequence[int], vectors: FloatArray) -> None:
        """Give already stored segments their vectors in this space."""
        self.catalog.add_vectors(self.space_id, segment_ids, vectors)
        fault_point("after-backfill-commit")
        self.index.add(_ids(segment_ids), vectors)


def _ids(values: Sequence[int]) -> IdArray:
    return np.asarray(values, dtype=np.int64)
