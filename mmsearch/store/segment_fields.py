"""The scalar fields of segments (item, media type, mtime) for stores that filter natively."""

from __future__ import annotations

import json
from collections.abc import Mapping

import numpy as np

from mmsearch.contracts import IdArray, SegmentFields
from mmsearch.store.catalog import Catalog, chunks

STORE_OPTIONS_SETTING = "vector_store_options"
"""The catalog setting that records the store's options (``--milvus-uri``) for the library."""


def segment_fields(catalog: Catalog, ids: IdArray) -> SegmentFields:
    """The fields of these segment ids, in their order; an id the catalog lacks gets item -1."""
    found: dict[int, tuple[int, str, int]] = {}
    wanted = [int(i) for i in ids]
    with catalog.sqlite() as conn:
        for chunk in chunks(wanted):
            marks = ",".join("?" * len(chunk))
            rows = conn.execute(
                "SELECT s.id, s.item_id, i.media_type, i.mtime_ns FROM segments s "
                f"JOIN items i ON i.id = s.item_id WHERE s.id IN ({marks})",
                list(chunk),
            )
            found.update((sid, (item, media or "", mtime or 0)) for sid, item, media, mtime in rows)
    picked = [found.get(i, (-1, "", 0)) for i in wanted]
    return SegmentFields(
        np.asarray([p[0] for p in picked], dtype=np.int64),
        tuple(p[1] for p in picked),
        np.asarray([p[2] for p in picked], dtype=np.int64),
    )


def recorded_store_options(catalog: Catalog) -> dict[str, str]:
    """The store options the library recorded (empty when none)."""
    raw = catalog.setting(STORE_OPTIONS_SETTING)
    return {str(k): str(v) for k, v in json.loads(raw).items()} if raw else {}


def record_store_options(catalog: Catalog, options: Mapping[str, str]) -> None:
    """Record ``options`` as the library's (they replace the recorded ones)."""
    catalog.set_setting(STORE_OPTIONS_SETTING, json.dumps(dict(sorted(options.items()))))
