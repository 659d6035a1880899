"""One space as a query sees it: its encoder, its index, its calibration, its cache."""

from __future__ import annotations

import logging
import os
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy.exc import SQLAlchemyError

from mmsearch.contracts import Encoder, ExtractSettings, IdArray, Modality, Source, VectorIndex
from mmsearch.errors import UsageError
from mmsearch.faults import fault_point
from mmsearch.index.encoding import encode_all
from mmsearch.index.extraction import extract_file
from mmsearch.index.report import display_path
from mmsearch.plugins import Registry
from mmsearch.query.adapter import NamedAdapter, QueryAdapter
from mmsearch.query.calibration import PROBES, Calibration, measure, random_probes
from mmsearch.store.catalog import Catalog, SpaceInfo
from mmsearch.store.tuning import adapters

FloatArray = npt.NDArray[np.float32]
log = logging.getLogger("mmsearch")

CACHE_SIZE = 256


@dataclass(slots=True)
class QueryCache:
    """Recently embedded query texts and example files, per space (least recently used out)."""

    size: int = CACHE_SIZE
    entries: OrderedDict[Hashable, FloatArray] = field(default_factory=OrderedDict)

    def get(self, key: Hashable) -> FloatArray | None:
        """The cached vector, marked as just used."""
        found = self.entries.get(key)
        if found is not None:
            self.entries.move_to_end(key)
        return found

    def put(self, key: Hashable, vector: FloatArray) -> None:
        """Remember a vector, forgetting the oldest beyond ``size``."""
        self.entries[key] = vector
        self.entries.move_to_end(key)
        while len(self.entries) > self.size:
            self.entries.popitem(last=False)


def calibration_key(space: SpaceInfo) -> str:
    """The settings key a space's calibration is stored under."""
    return f"calibration:{space.key}"


def load_calibration(
    catalog: Catalog, space: SpaceInfo, encoder: Encoder, store: VectorIndex
) -> Calibration:
    """The space's stored calibration, measured (and stored) again when stale."""
    raw = catalog.setting(calibration_key(space))
    stored = Calibration.from_json(raw) if raw else None
    if stored is not None and not stored.stale(store.ntotal):
        return stored
    by_modality = catalog.segment_ids_by_modality(space.id)

    def vectors_of(ids: npt.NDArray[np.int64]) -> FloatArray:
        found = catalog.vectors_for(space.id, ids.tolist())
        rows = [found[i] for i in ids.tolist() if i in found]
        return np.stack(rows) if rows else np.empty((0, space.dim), dtype=np.float32)

    calibration = measure(
        store, probe_vectors(encoder), by_modality, vectors_of, lambda ids: items_of(catalog, ids)
    )
    fault_point("calibration-measured")
    try:
        catalog.set_setting(calibration_key(space), calibration.to_json())
    except SQLAlchemyError as exc:  # a read-only catalog still answers, measuring each time
        log.debug("Could not store the calibration of %s: %s", space.key, exc)
    return calibration


def items_of(catalog: Catalog, segment_ids: Sequence[int]) -> dict[int, int]:
    """Segment id -> the id of its file, for the calibration's probe leads."""
    from sqlalchemy import select

    from mmsearch.store.catalog import chunks
    from mmsearch.store.schema import Segment

    out: dict[int, int] = {}
    with catalog.engine.connect() as conn:
        for chunk in chunks(segment_ids):
            stmt = select(Segment.id, Segment.item_id).where(Segment.id.in_(list(chunk)))
            out.update((int(sid), int(item)) for sid, item in conn.execute(stmt))
    return out


def active_adapter(catalog: Catalog, space_id: int) -> NamedAdapter | None:
    """The space's active query adapter (``mmsearch tune``), if any."""
    for row in adapters(catalog, space_id):
        if row.active:
            return NamedAdapter(row.name, QueryAdapter.from_bytes(row.data))
    return None


def probe_vectors(encoder: Encoder) -> FloatArray:
    """The probe texts in the encoder's space, or random directions if it cannot embed text."""
    if "text" not in encoder.modalities:
        return random_probes(encoder.dim)
    encoded = encode_all(encoder, "text", list(PROBES))
    good = [i for i, error in enumerate(encoded.errors) if not error]
    return np.ascontiguousarray(encoded.vectors[good], dtype=np.float32)


class SpaceSearch:
    """Embeds queries into one space and searches its index."""

    def __init__(
        self,
        label: str,
        space: SpaceInfo,
        encoder: Encoder,
        store: VectorIndex,
        calibration: Calibration,
        catalog: Catalog,
        registry: Registry,
        cache: QueryCache,
        encode_lock: AbstractContextManager[object] | None = None,
    ) -> None:
        self.label = label
        self.space = space
        self.encoder = encoder
        self.store = store
        self.calibration = calibration
        self.catalog = catalog
        self.registry = registry
        self.cache = cache
        self.encode_lock: AbstractContextManager[object] = encode_lock or nullcontext()
        """Held while the encoder runs (the library's, shared by a server's readers)."""
        self.adapter: NamedAdapter | None = None
        """The tuned query adapter, applied to query texts (never to stored vectors)."""
        self.optional = False
        """Searched by default beside the active space: an example whose segments its
        encoder cannot embed leaves it out instead of failing the query."""

    def embed_text(self, text: str) -> FloatArray | None:
        """The text's unit vector, or None when this space's encoder does not embed text.

        With an active adapter, the adapted vector: tune fits it on text queries only.
        """
        if "text" not in self.encoder.modalities:
            return None
        key = (self.space.key, "text", text)
        cached = self.cache.get(key)
        if cached is None:
            cached = self._encode("text", [text], f'the query text "{text}"')
            self.cache.put(key, cached)
        return cached if self.adapter is None else self.adapter.adapter.apply(cached)

    def embed_example(self, path: str, max_image_megapixels: float = 100.0) -> FloatArray | None:
        """The example file's unit vector (the mean of its segments' vectors).

        The segments of the first modality the encoder embeds count (a recording's sound
        windows for CLAP, its transcript for a text space). None when it embeds none of
        them and the space is :attr:`optional`.

        ``max_image_megapixels`` is the bomb cap, as for ``index`` (``query`` has the flag).
        """
        raw = os.fsencode(path)
        shown = display_path(raw)
        if not os.path.isfile(raw):
            raise UsageError(f"The example file {shown} does not exist or is not a file.")
        stat = os.stat(raw)
        key = (self.space.key, "example", os.path.abspath(raw), stat.st_size, stat.st_mtime_ns)
        cached = self.cache.get(key)
        if cached is not None:
            return cached
        settings = ExtractSettings(max_image_megapixels=max_image_megapixels)
        settings = settings.for_encoder(self.encoder)
        source = Source(raw, shown, stat.st_size, settings)
        extracted = extract_file(self.registry.extractors, source, self.registry.annotators)
        if extracted.status != "done" or not extracted.segments:
            raise UsageError(f"Cannot use {shown} as an example: {extracted.detail}")
        usable = [s.modality for s in extracted.segments if s.modality in self.encoder.modalities]
        if not usable and self.optional:
            return None
        modality = usable[0] if usable else extracted.segments[0].modality
        contents = [s.content for s in extracted.segments if s.modality == modality]
        vector = self._encode(modality, contents, shown)
        self.cache.put(key, vector)
        return vector

    def _encode(self, modality: Modality, contents: list[Any], what: str) -> FloatArray:
        if modality not in self.encoder.modalities:
            raise UsageError(
                f"The encoder '{self.encoder.encoder_id}' of space {self.label} cannot embed "
                f"{modality} ({what}); it handles {', '.join(sorted(self.encoder.modalities))}."
            )
        with self.encode_lock:
            encoded = encode_all(self.encoder, modality, contents)
        errors = [e for e in encoded.errors if e]
        if errors:
            raise UsageError(f"Could not embed {what}: {errors[0]}")
        mean = encoded.vectors.mean(axis=0)
        unit: FloatArray = (mean / np.linalg.norm(mean)).astype(np.float32)
        return unit

    def search(
        self, vector: FloatArray, depth: int, allowed: IdArray | None
    ) -> tuple[IdArray, FloatArray]:
        """Nearest segment ids and their similarities (exact among ``allowed`` when given)."""
        return self.store.search(vector, depth, allowed)

    def stored_vectors(self, segment_ids: Sequence[int]) -> dict[int, FloatArray]:
        """The stored float32 vectors of these segments in this space."""
        return self.catalog.vectors_for(self.space.id, segment_ids)
