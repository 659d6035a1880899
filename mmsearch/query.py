"""Running a query: encode it, search the space's index, resolve hits through SQL.

Every hit is looked up in SQLite, so an id the index still holds for a file
that is gone never reaches the user. Hits are one per file, its best segment.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import select

from mmsearch.catalog.catalog import Catalog, SpaceInfo
from mmsearch.catalog.schema import Item, Root, Segment
from mmsearch.contracts import Encoder, ExtractSettings, Modality, Source
from mmsearch.encoding import encode_all
from mmsearch.errors import UsageError
from mmsearch.extraction import extract_file
from mmsearch.plugins import Registry
from mmsearch.report import display_path
from mmsearch.vectorstore import FaissStore, FloatArray

MEDIA_TYPES = ("image", "text", "audio", "video")
_OVERSAMPLE = 8


@dataclass(frozen=True, slots=True)
class Hit:
    """One result: a file, its best-matching segment, and the score."""

    path: str
    score: float
    modality: str
    kind: str
    start: float | None
    end: float | None
    text: str | None
    char_start: int | None
    char_end: int | None
    item_id: int
    segment_id: int

    def to_json(self) -> dict[str, Any]:
        """The stable JSON shape of a hit."""
        return {
            "path": self.path,
            "score": round(self.score, 6),
            "modality": self.modality,
            "segment": {
                "kind": self.kind,
                "start": self.start,
                "end": self.end,
                "text": self.text,
                "char_start": self.char_start,
                "char_end": self.char_end,
            },
            "item_id": self.item_id,
            "segment_id": self.segment_id,
        }


class QueryRunner:
    """Answers queries against one space."""

    def __init__(
        self,
        catalog: Catalog,
        registry: Registry,
        encoder: Encoder,
        space: SpaceInfo,
        store: FaissStore,
    ) -> None:
        self.catalog = catalog
        self.registry = registry
        self.encoder = encoder
        self.space = space
        self.store = store

    def run(
        self,
        *,
        text: str | None,
        example: str | os.PathLike[str] | None,
        k: int,
        media_type: str | None,
        within: bytes | None,
    ) -> list[Hit]:
        """The ``k`` best files, best first."""
        if k < 1:
            raise UsageError(f"-k must be at least 1 (got {k}).")
        if media_type is not None and media_type not in MEDIA_TYPES:
            raise UsageError(f"Unknown type {media_type!r}; use one of {', '.join(MEDIA_TYPES)}.")
        vector = self.embed(text, example)
        return self.search(vector, k, media_type, within)

    def embed(self, text: str | None, example: str | os.PathLike[str] | None) -> FloatArray:
        """The query vector: the text's, the example's, or their normalised mean."""
        parts: list[FloatArray] = []
        if text is not None and text.strip():
            parts.append(self._encode("text", [text.strip()], "the query text"))
        if example is not None:
            parts.append(self._embed_example(os.fsencode(example)))
        if not parts:
            raise UsageError("Give a query text, or an example file with --image.")
        mean = np.mean(parts, axis=0)
        unit: FloatArray = (mean / np.linalg.norm(mean)).astype(np.float32)
        return unit

    def _encode(self, modality: Modality, contents: list[Any], what: str) -> FloatArray:
        if modality not in self.encoder.modalities:
            raise UsageError(
                f"This library's encoder '{self.encoder.encoder_id}' cannot embed {modality} "
                f"({what}); it handles {', '.join(sorted(self.encoder.modalities))}."
            )
        encoded = encode_all(self.encoder, modality, contents)
        errors = [e for e in encoded.errors if e]
        if errors:
            raise UsageError(f"Could not embed {what}: {errors[0]}")
        mean = encoded.vectors.mean(axis=0)
        unit: FloatArray = (mean / np.linalg.norm(mean)).astype(np.float32)
        return unit

    def _embed_example(self, path: bytes) -> FloatArray:
        shown = display_path(path)
        if not os.path.isfile(path):
            raise UsageError(f"The example file {shown} does not exist or is not a file.")
        settings = ExtractSettings().for_encoder(self.encoder)
        source = Source(path, shown, os.path.getsize(path), settings)
        extracted = extract_file(self.registry.extractors, source, self.registry.annotators)
        if extracted.status != "done":
            raise UsageError(f"Cannot use {shown} as an example: {extracted.detail}")
        modality = extracted.segments[0].modality
        contents = [s.content for s in extracted.segments if s.modality == modality]
        return self._encode(modality, contents, shown)

    def search(
        self, vector: FloatArray, k: int, media_type: str | None, within: bytes | None
    ) -> list[Hit]:
        """Nearest segments, resolved and filtered through SQL, one per file."""
        fetch = k * _OVERSAMPLE
        while True:
            ids, scores = self.store.search(vector, fetch)
            hits = self._resolve(ids, scores, media_type, within)
            if len(hits) >= k or fetch >= self.store.ntotal:
                return hits[:k]
            # Filters or many segments per file left too few: look further.
            fetch *= 4

    def _resolve(
        self,
        ids: np.ndarray[Any, Any],
        scores: FloatArray,
        media_type: str | None,
        within: bytes | None,
    ) -> list[Hit]:
        score_of = dict(zip(ids.tolist(), scores.tolist(), strict=True))
        rows = self._fetch_rows(list(score_of), media_type)
        best: dict[int, Hit] = {}
        for row in rows:
            full = row.root_path.rstrip(b"/") + b"/" + row.relpath
            if within is not None and not _is_within(full, within):
                continue
            hit = Hit(
                path=display_path(full),
                score=float(score_of[row.id]),
                modality=row.media_type or "unknown",
                kind=row.kind,
                start=row.start,
                end=row.end,
                text=row.text,
                char_start=row.char_start,
                char_end=row.char_end,
                item_id=row.item_id,
                segment_id=row.id,
            )
            if row.item_id not in best or hit.score > best[row.item_id].score:
                best[row.item_id] = hit
        return sorted(best.values(), key=lambda h: (-h.score, h.path))

    def _fetch_rows(self, segment_ids: list[int], media_type: str | None) -> list[Any]:
        rows: list[Any] = []
        with self.catalog.engine.connect() as conn:
            for start in range(0, len(segment_ids), 900):
                stmt = (
                    select(
                        Segment.id,
                        Segment.kind,
                        Segment.start,
                        Segment.end,
                        Segment.text,
                        Segment.char_start,
                        Segment.char_end,
                        Segment.item_id,
                        Item.relpath,
                        Item.media_type,
                        Root.path.label("root_path"),
                    )
                    .join(Item, Item.id == Segment.item_id)
                    .join(Root, Root.id == Item.root_id)
                    .where(Segment.id.in_(segment_ids[start : start + 900]))
                    .where(Item.status == "done")
                )
                if media_type is not None:
                    stmt = stmt.where(Item.media_type == media_type)
                rows.extend(conn.execute(stmt))
        return rows


def _is_within(path: bytes, folder: bytes) -> bool:
    folder = folder.rstrip(b"/")
    return path == folder or path.startswith(folder + b"/")
