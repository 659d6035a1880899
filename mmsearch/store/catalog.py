"""Reading and writing the catalog: the SQL the engine needs, in one place."""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np
from sqlalchemy import Connection, Engine, Select, delete, func, insert, select, text, update
from sqlalchemy.exc import SQLAlchemyError

from mmsearch.contracts import Encoder, FloatArray, IdArray
from mmsearch.errors import CatalogError
from mmsearch.faults import fault_point
from mmsearch.store.catalog_file import damaged, is_damage, open_catalog_engine
from mmsearch.store.schema import Item, ItemExtractor, Root, Segment, Setting, Space, Vector
from mmsearch.store.space_digests import DigestTracker, start_digest

ACTIVE_SPACE = "active_space"
_VECTOR_CHUNK = 20_000
SQL_CHUNK = 900
"""Ids per ``IN (...)`` list: under SQLite's old limit of 999 bound parameters."""

CATALOG_ID_KEY = "catalog_id"
"""The setting that holds the catalog's UUID (vector indexes are tied to it)."""


@dataclass(frozen=True, slots=True)
class KnownItem:
    """What the catalog remembers of a file, enough to decide whether to re-read it."""

    id: int
    relpath: bytes
    size: int
    mtime_ns: int
    status: str
    content_hash: str | None
    reason: str | None = None
    skip_key: str | None = None
    """For a skipped item, the fingerprint of what it was skipped under."""
    media_type: str | None = None
    extractor: str | None = None
    """The extractor that identified the file."""


@dataclass(frozen=True, slots=True)
class ExtractorRun:
    """How one extractor did on one file: what the catalog keeps per (item, extractor)."""

    extractor: str
    version: str
    status: str  # done | skipped | failed
    reason: str | None = None
    detail: str | None = None


@dataclass(frozen=True, slots=True)
class StoredSegment:
    """A segment as the catalog holds it."""

    id: int
    ordinal: int
    kind: str
    modality: str
    text: str | None
    start: float | None
    end: float | None
    char_start: int | None
    char_end: int | None
    extractor: str | None = None
    """The extractor that made it (None only in catalogs from before extractors were kept)."""


@dataclass(frozen=True, slots=True)
class SpaceInfo:
    """One embedding space as stored."""

    id: int
    key: str
    encoder_id: str
    checkpoint: str
    dim: int
    preprocessing_version: str
    generation: int


@dataclass(frozen=True, slots=True)
class NewSegment:
    """A segment ready to store, with its vector."""

    ordinal: int
    kind: str
    modality: str
    text: str | None
    start: float | None
    end: float | None
    char_start: int | None
    char_end: int | None
    vector: FloatArray | None
    """Its vector in the space the write is for; None where that space does not take its
    modality (a sound in a library's image/text space)."""
    extractor: str | None = None
    others: Mapping[int, FloatArray] = field(default_factory=dict)
    """Its vectors in the library's other spaces written by the same run, by space id."""

    def vectors(self, space_id: int) -> dict[int, FloatArray]:
        """Every vector it carries, by space id (``space_id``: the write's space)."""
        found = dict(self.others)
        if self.vector is not None:
            found[space_id] = self.vector
        return found


@dataclass(frozen=True, slots=True)
class Written:
    """What one :meth:`Catalog.write_items` stored: what the vector indexes must follow."""

    replaced: list[int]
    """Segment ids deleted, with their vectors in every space."""
    added: dict[int, tuple[IdArray, FloatArray]]
    """New (segment ids, vectors) by space id."""

    @property
    def count(self) -> int:
        """How many vectors were stored, in all spaces."""
        return sum(len(ids) for ids, _ in self.added.values())


@dataclass(frozen=True, slots=True)
class ItemRecord:
    """A processed file ready to store: its outcome and, when done, its segments."""

    relpath: bytes
    display: str
    size: int
    mtime_ns: int
    content_hash: str | None
    media_type: str | None
    extractor: str | None
    status: str
    reason: str | None = None
    detail: str | None = None
    segments: tuple[NewSegment, ...] = ()
    existing_id: int | None = None
    skip_key: str | None = None
    runs: tuple[ExtractorRun, ...] = ()
    """The extractors that ran on the file this time, and how each did."""
    rerun: frozenset[str] | None = None
    """None: every segment and run of an existing item is replaced. Else only those of the
    named extractors; the other extractors' segments stay."""


_SPACE_COLUMNS = (
    Space.id,
    Space.key,
    Space.encoder_id,
    Space.checkpoint,
    Space.dim,
    Space.preprocessing_version,
    Space.generation,
)


def _select_spaces() -> Select[int, str, str, str, int, str, int]:
    return select(*_SPACE_COLUMNS).order_by(Space.id)


class Catalog:
    """The SQLite catalog at one path."""

    def __init__(self, path: Path, *, read_only: bool = False) -> None:
        """Open the catalog at ``path``: created and migrated, or with ``read_only`` only read.

        A read-only catalog creates nothing, migrates nothing and writes nothing.
        """
        self.path = path
        self.read_only = read_only
        self._stand_in_id: str | None = None
        try:
            self.engine: Engine = open_catalog_engine(path, read_only=read_only)
        except (OSError, SQLAlchemyError) as exc:
            if is_damage(exc):
                raise damaged(path, exc) from exc
            raise CatalogError(
                f"Cannot open the catalog {path}: {exc}. Check that its folder exists and is "
                "writable and that the file is an mmsearch catalog, or choose another with --db."
            ) from exc

    def close(self) -> None:
        """Release the connections."""
        self.engine.dispose()

    # -- roots and items --------------------------------------------------

    def ensure_root(self, path: bytes, display: str) -> int:
        """The id of the root at ``path``, added if new."""
        with self.engine.begin() as conn:
            found = conn.scalar(select(Root.id).where(Root.path == path))
            if found is not None:
                return int(found)
            stmt = insert(Root).values(path=path, display=display, added_at=time.time())
            return int(conn.execute(stmt).inserted_primary_key[0])  # type: ignore[index]

    def roots(self) -> list[tuple[int, bytes, str]]:
        """Every root: id, path bytes, display form."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(Root.id, Root.path, Root.display).order_by(Root.id))
            return [(r.id, r.path, r.display) for r in rows]

    def known_items(self, root_id: int) -> dict[bytes, KnownItem]:
        """Every item of a root, keyed by relative path."""
        columns = [getattr(Item, f.name) for f in fields(KnownItem)]  # in KnownItem's order
        stmt = select(*columns).where(Item.root_id == root_id)
        with self.engine.connect() as conn:
            return {row.relpath: KnownItem(*row) for row in conn.execute(stmt)}

    def segment_ids_of(self, conn: Connection, item_ids: Sequence[int]) -> list[int]:
        """Segment ids of the given items."""
        out: list[int] = []
        for chunk in chunks(item_ids):
            out.extend(conn.scalars(select(Segment.id).where(Segment.item_id.in_(chunk))))
        return out

    def remove_items(self, item_ids: Sequence[int]) -> list[int]:
        """Delete items (segments and vectors cascade); returns the removed segment ids."""
        with self.engine.begin() as conn:
            segment_ids = self.segment_ids_of(conn, item_ids)
            digests = DigestTracker(conn)
            digests.removing_segments(segment_ids)
            for chunk in chunks(item_ids):
                conn.execute(delete(Item).where(Item.id.in_(chunk)))
            digests.commit()
        return segment_ids

    def move_item(self, item_id: int, relpath: bytes, display: str, mtime_ns: int) -> None:
        """Point an item at its new path, keeping its segments and vectors."""
        with self.engine.begin() as conn:
            conn.execute(
                update(Item)
                .where(Item.id == item_id)
                .values(relpath=relpath, display=display, mtime_ns=mtime_ns)
            )

    def write_items(
        self,
        root_id: int,
        space_id: int,
        records: Sequence[ItemRecord],
        others: Sequence[int] = (),
    ) -> Written:
        """Store a batch of processed files in one transaction.

        ``space_id`` is the space the segments' ``vector`` is for; ``others`` the other
        spaces the run writes (their vectors are in ``NewSegment.others``). Returns the
        replaced segment ids (to drop from the vector indexes) and the new segment ids with
        their vectors, by space (to add to them).
        """
        new_ids: dict[int, list[int]] = {sid: [] for sid in (space_id, *others)}
        new_vectors: dict[int, list[FloatArray]] = {sid: [] for sid in new_ids}
        now = time.time()
        with self.engine.begin() as conn:
            digests = DigestTracker(conn)
            for sid in new_ids:
                digests.touch(sid)
            replaced = self._clear_replaced(conn, records, digests)
            for record in records:
                item_id = self._upsert_item(conn, root_id, record, now)
                self._insert_runs(conn, item_id, record.runs)
                first = self._next_ordinal(conn, item_id) if record.rerun is not None else 0
                ids = self._insert_segments(conn, item_id, space_id, record.segments, first)
                for sid, segment in zip(ids, record.segments, strict=True):
                    for space, vector in segment.vectors(space_id).items():
                        new_ids[space].append(sid)
                        new_vectors[space].append(vector)
            added = {sid: _stacked(new_ids[sid], new_vectors[sid]) for sid in new_ids}
            for sid, (ids_array, vectors) in added.items():
                digests.added(sid, ids_array, vectors)
            digests.commit()
            fault_point("mid-batch-transaction")
        return Written(replaced, added)

    def _clear_replaced(
        self, conn: Connection, records: Sequence[ItemRecord], digests: DigestTracker
    ) -> list[int]:
        """Delete what the records replace (segments, extractor runs); the segment ids.

        Every id is collected first and handed to ``digests`` before anything is deleted:
        the digest subtracts the vectors it is told about, so they must still be there.
        """
        whole = [r.existing_id for r in records if r.existing_id is not None and r.rerun is None]
        replaced = self.segment_ids_of(conn, whole)
        partial: list[tuple[int, list[str]]] = []
        for record in records:
            if record.existing_id is None or record.rerun is None:
                continue
            names = sorted(record.rerun)
            mine = (Segment.item_id == record.existing_id) & Segment.extractor.in_(names)
            replaced.extend(conn.scalars(select(Segment.id).where(mine)))
            partial.append((record.existing_id, names))
        digests.removing_segments(replaced)
        for chunk in chunks(whole):
            conn.execute(delete(Segment).where(Segment.item_id.in_(chunk)))
            conn.execute(delete(ItemExtractor).where(ItemExtractor.item_id.in_(chunk)))
        for item_id, names in partial:
            conn.execute(
                delete(Segment).where((Segment.item_id == item_id) & Segment.extractor.in_(names))
            )
            conn.execute(
                delete(ItemExtractor).where(
                    ItemExtractor.item_id == item_id, ItemExtractor.extractor.in_(names)
                )
            )
        return replaced

    def _next_ordinal(self, conn: Connection, item_id: int) -> int:
        """The ordinal after the item's kept segments, so new ones sort after them."""
        last = conn.scalar(select(func.max(Segment.ordinal)).where(Segment.item_id == item_id))
        return 0 if last is None else int(last) + 1

    def _insert_runs(self, conn: Connection, item_id: int, runs: Sequence[ExtractorRun]) -> None:
        if runs:
            conn.execute(
                insert(ItemExtractor).prefix_with("OR REPLACE"),
                [
                    {
                        "item_id": item_id,
                        "extractor": r.extractor,
                        "version": r.version,
                        "status": r.status,
                        "reason": r.reason,
                        "detail": r.detail,
                    }
                    for r in runs
                ],
            )

    def extractor_runs(self, root_id: int) -> dict[int, dict[str, ExtractorRun]]:
        """Each item's extractor runs under a root, by item id and extractor name."""
        stmt = (
            select(ItemExtractor)
            .join(Item, Item.id == ItemExtractor.item_id)
            .where(Item.root_id == root_id)
        )
        out: dict[int, dict[str, ExtractorRun]] = {}
        with self.engine.connect() as conn:
            for row in conn.execute(stmt):
                run = ExtractorRun(row.extractor, row.version, row.status, row.reason, row.detail)
                out.setdefault(row.item_id, {})[row.extractor] = run
        return out

    def _upsert_item(self, conn: Connection, root_id: int, record: ItemRecord, now: float) -> int:
        values = {
            "display": record.display,
            "size": record.size,
            "mtime_ns": record.mtime_ns,
            "content_hash": record.content_hash,
            "media_type": record.media_type,
            "extractor": record.extractor,
            "status": record.status,
            "reason": record.reason,
            "detail": record.detail,
            "skip_key": record.skip_key,
            "indexed_at": now,
        }
        if record.existing_id is not None:
            conn.execute(update(Item).where(Item.id == record.existing_id).values(**values))
            return record.existing_id
        stmt = insert(Item).values(root_id=root_id, relpath=record.relpath, **values)
        return int(conn.execute(stmt).inserted_primary_key[0])  # type: ignore[index]

    def _insert_segments(
        self,
        conn: Connection,
        item_id: int,
        space_id: int,
        segments: Sequence[NewSegment],
        first_ordinal: int = 0,
    ) -> list[int]:
        if not segments:
            return []
        rows = [
            {
                "item_id": item_id,
                "ordinal": first_ordinal + s.ordinal,
                "extractor": s.extractor,
                "kind": s.kind,
                "modality": s.modality,
                "start": s.start,
                "end": s.end,
                "char_start": s.char_start,
                "char_end": s.char_end,
                "text": s.text,
            }
            for s in segments
        ]
        result = conn.execute(
            insert(Segment).returning(Segment.id, sort_by_parameter_order=True), rows
        )
        ids = [int(row[0]) for row in result]
        vectors = [
            {"segment_id": sid, "space_id": space, "data": vector.tobytes()}
            for sid, s in zip(ids, segments, strict=True)
            for space, vector in s.vectors(space_id).items()
        ]
        if vectors:
            conn.execute(insert(Vector), vectors)
        return ids

    # -- filling a new space --------------------------------------------------

    def items_missing_space(
        self,
        space_id: int,
        root_id: int | None = None,
        modalities: Iterable[str] | None = None,
    ) -> set[int]:
        """Done items with at least one segment that has no vector in ``space_id``.

        With ``modalities``, only segments of those modalities count: the ones the space
        takes (a sound space holds no vectors of photos, and misses none).
        """
        sql = (
            "SELECT DISTINCT s.item_id FROM segments s JOIN items i ON i.id = s.item_id "
            "LEFT JOIN vectors v ON v.segment_id = s.id AND v.space_id = :space "
            "WHERE v.segment_id IS NULL AND i.status = 'done'"
        )
        params: dict[str, object] = {"space": space_id}
        if root_id is not None:
            sql += " AND i.root_id = :root"
            params["root"] = root_id
        if modalities is not None:
            sql += " AND s.modality IN (SELECT value FROM json_each(:modalities))"
            params["modalities"] = json.dumps(sorted(modalities))
        with self.engine.connect() as conn:
            return {int(r[0]) for r in conn.execute(text(sql), params)}

    def stored_segments(self, item_ids: Sequence[int]) -> dict[int, list[StoredSegment]]:
        """The segments of the given items as stored, in order."""
        out: dict[int, list[StoredSegment]] = {}
        columns = (
            Segment.item_id,
            Segment.id,
            Segment.ordinal,
            Segment.kind,
            Segment.modality,
            Segment.text,
            Segment.start,
            Segment.end,
            Segment.char_start,
            Segment.char_end,
            Segment.extractor,
        )
        with self.engine.connect() as conn:
            for chunk in chunks(item_ids):
                stmt = (
                    select(*columns)
                    .where(Segment.item_id.in_(chunk))
                    .order_by(Segment.item_id, Segment.ordinal)
                )
                for row in conn.execute(stmt):
                    out.setdefault(row.item_id, []).append(
                        StoredSegment(
                            row.id,
                            row.ordinal,
                            row.kind,
                            row.modality,
                            row.text,
                            row.start,
                            row.end,
                            row.char_start,
                            row.char_end,
                            row.extractor,
                        )
                    )
        return out

    def add_vectors(self, space_id: int, segment_ids: Sequence[int], vectors: FloatArray) -> None:
        """Store vectors of existing segments in a space (filling a new space)."""
        if not segment_ids:
            return
        with self.engine.begin() as conn:
            digests = DigestTracker(conn)
            digests.removing_vectors(space_id, segment_ids)  # OR REPLACE drops any old one
            conn.execute(
                insert(Vector).prefix_with("OR REPLACE"),
                [
                    {"segment_id": sid, "space_id": space_id, "data": vector.tobytes()}
                    for sid, vector in zip(segment_ids, vectors, strict=True)
                ],
            )
            digests.added(space_id, np.asarray(segment_ids, dtype=np.int64), vectors)
            digests.commit()

    def set_active_space(self, space_id: int) -> None:
        """Make ``space_id`` the space queries use."""
        with self.engine.begin() as conn:
            key = conn.scalar(select(Space.key).where(Space.id == space_id))
            conn.execute(delete(Setting).where(Setting.key == ACTIVE_SPACE))
            conn.execute(insert(Setting).values(key=ACTIVE_SPACE, value=key))

    def setting(self, key: str) -> str | None:
        """A catalog-wide setting's value, or None."""
        with self.engine.connect() as conn:
            value = conn.scalar(select(Setting.value).where(Setting.key == key))
        return None if value is None else str(value)

    def set_setting(self, key: str, value: str) -> None:
        """Store a catalog-wide setting, replacing any previous value."""
        with self.engine.begin() as conn:
            conn.execute(delete(Setting).where(Setting.key == key))
            conn.execute(insert(Setting).values(key=key, value=value))

    def catalog_id(self) -> str:
        """This catalog's identity, a UUID made on first use (every process agrees on it).

        A read-only catalog without one (its setting deleted by hand) gets a stand-in
        for this process only: no index file carries it, so none is trusted.
        """
        found = self.setting(CATALOG_ID_KEY)
        if found is None and self.read_only:
            self._stand_in_id = self._stand_in_id or f"unidentified-{uuid.uuid4().hex}"
            return self._stand_in_id
        if found is None:
            with self.engine.begin() as conn:
                conn.execute(
                    insert(Setting)
                    .prefix_with("OR IGNORE")
                    .values(key=CATALOG_ID_KEY, value=uuid.uuid4().hex)
                )
            found = self.setting(CATALOG_ID_KEY)
        assert found is not None
        return found

    @property
    def identified(self) -> bool:
        """False while :meth:`catalog_id` is a stand-in: index files are not saved under it."""
        return self._stand_in_id is None

    @contextmanager
    def sqlite(self) -> Iterator[sqlite3.Connection]:
        """A pooled connection's raw sqlite3 handle, for the query path's hand-written SQL."""
        with self.engine.connect() as conn:
            raw = conn.connection.dbapi_connection
            assert isinstance(raw, sqlite3.Connection)
            yield raw

    def media_type_of(self, path: bytes) -> str | None:
        """The media type of the indexed file at ``path`` (absolute bytes), if any."""
        with self.engine.connect() as conn:
            for root_id, root in conn.execute(select(Root.id, Root.path)):
                prefix = root.rstrip(b"/") + b"/"
                if path.startswith(prefix):
                    found = conn.scalar(
                        select(Item.media_type).where(
                            Item.root_id == root_id, Item.relpath == path[len(prefix) :]
                        )
                    )
                    if found is not None:
                        return str(found)
        return None

    def segment_ids_by_modality(self, space_id: int) -> dict[str, IdArray]:
        """The ids of the segments with a vector in a space, grouped by segment modality."""
        grouped: dict[str, list[int]] = {}
        stmt = (
            select(Vector.segment_id, Segment.modality)
            .join(Segment, Segment.id == Vector.segment_id)
            .where(Vector.space_id == space_id)
        )
        with self.engine.connect() as conn:
            for segment_id, modality in conn.execute(stmt):
                grouped.setdefault(str(modality), []).append(int(segment_id))
        return {m: np.asarray(ids, dtype=np.int64) for m, ids in grouped.items()}

    # -- spaces and vectors -----------------------------------------------

    def active_space(self) -> SpaceInfo | None:
        """The space queries use, or None for a catalog that has indexed nothing yet."""
        with self.engine.connect() as conn:
            key = conn.scalar(select(Setting.value).where(Setting.key == ACTIVE_SPACE))
            if key is None:
                return None
            row = conn.execute(_select_spaces().where(Space.key == key)).one_or_none()
            return SpaceInfo(*row) if row else None

    def ensure_space(self, encoder: Encoder, *, activate: bool) -> SpaceInfo:
        """The space of ``encoder``'s output, created if new, optionally made active."""
        key = encoder.space_key
        with self.engine.begin() as conn:
            if conn.scalar(select(Space.id).where(Space.key == key)) is None:
                created = conn.execute(
                    insert(Space).values(
                        key=key,
                        encoder_id=encoder.encoder_id,
                        checkpoint=encoder.checkpoint,
                        dim=encoder.dim,
                        preprocessing_version=encoder.preprocessing_version,
                        created_at=time.time(),
                        generation=0,
                    )
                )
                start_digest(conn, int(created.inserted_primary_key[0]))  # type: ignore[index]
            if activate:
                conn.execute(delete(Setting).where(Setting.key == ACTIVE_SPACE))
                conn.execute(insert(Setting).values(key=ACTIVE_SPACE, value=key))
            return SpaceInfo(*conn.execute(_select_spaces().where(Space.key == key)).one())

    def spaces(self) -> list[SpaceInfo]:
        """Every space in the catalog."""
        with self.engine.connect() as conn:
            return [SpaceInfo(*row) for row in conn.execute(_select_spaces())]

    def space_generation(self, space_id: int) -> int:
        """The space's generation alone: one primary-key lookup, cheap enough for every query."""
        with self.engine.connect() as conn:
            return int(conn.scalar(select(Space.generation).where(Space.id == space_id)) or 0)

    def space_state(self, space_id: int) -> tuple[int, int]:
        """The space's generation and vector count, read in one snapshot."""
        with self.engine.connect() as conn:
            generation = conn.scalar(select(Space.generation).where(Space.id == space_id))
            count = conn.scalar(
                select(func.count()).select_from(Vector).where(Vector.space_id == space_id)
            )
        return int(generation or 0), int(count or 0)

    def vector_batches(self, space_id: int, dim: int) -> Iterator[tuple[IdArray, FloatArray]]:
        """All vectors of a space, in chunks, for rebuilding its index."""
        stmt = (
            select(Vector.segment_id, Vector.data)
            .where(Vector.space_id == space_id)
            .execution_options(yield_per=_VECTOR_CHUNK)
        )
        with self.engine.connect() as conn:
            for rows in conn.execute(stmt).partitions():
                ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
                data = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32)
                yield ids, data.reshape(len(rows), dim)

    def vector_ids(self, space_id: int) -> IdArray:
        """The ids of the segments with a vector in the space, ascending."""
        with self.sqlite() as conn:
            rows = conn.execute(
                "SELECT segment_id FROM vectors WHERE space_id = ? ORDER BY segment_id",
                (space_id,),
            ).fetchall()
        return np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))

    def vectors_for(self, space_id: int, segment_ids: Iterable[int]) -> dict[int, FloatArray]:
        """Stored vectors of the given segments in one space."""
        out: dict[int, FloatArray] = {}
        # Plain sqlite3: every query reads its candidates' vectors here, and SQLAlchemy's
        # row handling cost more than the reads themselves (about 3 ms per 400 vectors).
        with self.sqlite() as conn:
            for chunk in chunks(list(segment_ids)):
                marks = ",".join("?" * len(chunk))
                sql = (
                    "SELECT segment_id, data FROM vectors "
                    f"WHERE space_id = ? AND segment_id IN ({marks})"
                )
                for sid, data in conn.execute(sql, [space_id, *chunk]):
                    out[int(sid)] = np.frombuffer(data, dtype=np.float32)
        return out


def _stacked(ids: list[int], vectors: list[FloatArray]) -> tuple[IdArray, FloatArray]:
    rows: FloatArray = (
        np.vstack(vectors).astype(np.float32) if vectors else np.empty((0, 0), dtype=np.float32)
    )
    return np.asarray(ids, dtype=np.int64), rows


def chunks(values: Sequence[int], size: int = SQL_CHUNK) -> Iterator[Sequence[int]]:
    """``values`` in slices small enough for one ``IN (...)`` list."""
    for start in range(0, len(values), size):
        yield values[start : start + size]
