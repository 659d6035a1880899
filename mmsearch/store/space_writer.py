"""Keeps the catalog and a space's vector index in step: the one place both are written.

The catalog is written first and is the truth; the index follows. If the
process dies between the two, the index's generation no longer matches the
catalog's and it is rebuilt from the catalog on the next open, so nothing is
ever lost and a stale id never reaches a user.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from mmsearch.contracts import FloatArray, IdArray, VectorIndex
from mmsearch.faults import fault_point
from mmsearch.store.catalog import Catalog, ItemRecord


class SpaceWriter:
    """Writes one run's changes to the catalog, then to the vector index of each space.

    ``space_id``/``index`` is the space the run is for; ``others`` the library's other
    spaces the same run writes (a sound space beside the image/text one), by space id.
    """

    def __init__(
        self,
        catalog: Catalog,
        space_id: int,
        index: VectorIndex,
        others: Mapping[int, VectorIndex] | None = None,
    ) -> None:
        self.catalog = catalog
        self.space_id = space_id
        self.index = index
        self.others = dict(others or {})

    @property
    def indexes(self) -> dict[int, VectorIndex]:
        """Every index this writer keeps in step, by space id."""
        return {self.space_id: self.index, **self.others}

    def remove_items(self, item_ids: Sequence[int]) -> None:
        """Forget these items, their segments and their vectors in every space."""
        if item_ids:
            removed = self.catalog.remove_items(item_ids)
            fault_point("after-remove-commit")
            for index in self.indexes.values():
                index.remove(_ids(removed))

    def write_items(self, root_id: int, records: Sequence[ItemRecord]) -> int:
        """Store new or changed items with their segments' vectors; the number of vectors."""
        written = self.catalog.write_items(root_id, self.space_id, records, tuple(self.others))
        fault_point("after-catalog-commit")
        for space_id, index in self.indexes.items():
            index.remove(_ids(written.replaced))
            ids, vectors = written.added[space_id]
            if len(ids):
                index.add(ids, vectors)
        return written.count

    def add_vectors(
        self, segment_ids: Sequence[int], vectors: FloatArray, space_id: int | None = None
    ) -> None:
        """Give already stored segments their vectors in this space (or in ``space_id``)."""
        space = self.space_id if space_id is None else space_id
        self.catalog.add_vectors(space, segment_ids, vectors)
        fault_point("after-backfill-commit")
        self.indexes[space].add(_ids(segment_ids), vectors)


def _ids(values: Sequence[int]) -> IdArray:
    return np.asarray(values, dtype=np.int64)
