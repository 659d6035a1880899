"""The public Python API: open a library, index folders, query it, ask for its status."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from mmsearch.catalog.catalog import Catalog, SpaceInfo
from mmsearch.contracts import Encoder, ExtractSettings
from mmsearch.errors import EncoderUnavailableError, UsageError
from mmsearch.indexer import IndexOptions, Progress, RootIndexer
from mmsearch.locations import default_catalog_path, index_folder, lock_path
from mmsearch.locking import writer_lock
from mmsearch.plugins import Registry, load_plugins
from mmsearch.query import Hit, QueryRunner
from mmsearch.report import IndexReport
from mmsearch.status import LibraryStatus, collect_status
from mmsearch.vectorstore import FaissStore

log = logging.getLogger("mmsearch")


class Library:
    """A catalog of indexed folders and the vector indexes built from it.

    >>> lib = Library.open()                     # doctest: +SKIP
    >>> report = lib.index("./media")            # doctest: +SKIP
    >>> hits = lib.query("a red car", k=10)      # doctest: +SKIP
    """

    def __init__(self, db_path: Path, registry: Registry) -> None:
        self.db_path = db_path
        self.registry = registry
        self.catalog = Catalog(db_path)
        self._stores: dict[int, FaissStore] = {}

    @classmethod
    def open(
        cls, path: str | os.PathLike[str] | None = None, *, registry: Registry | None = None
    ) -> Library:
        """Open (creating if needed) the catalog at ``path``, or at the default location."""
        db_path = Path(path).expanduser() if path is not None else default_catalog_path()
        if db_path.is_dir():
            raise UsageError(
                f"{db_path} is a folder; give the catalog's file path, e.g. {db_path}/catalog.db"
            )
        return cls(db_path.absolute(), registry if registry is not None else load_plugins())

    def close(self) -> None:
        """Release the catalog's connections."""
        self.catalog.close()

    def __enter__(self) -> Library:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- spaces and stores --------------------------------------------------

    def encoder_for(self, space: SpaceInfo) -> Encoder:
        """The installed encoder that writes ``space``; raises if none does."""
        encoder = self.registry.encoder(space.encoder_id)
        if encoder is None or encoder.space_key != space.key:
            raise EncoderUnavailableError(
                f"This library's vectors were made by encoder '{space.encoder_id}' "
                f"({space.checkpoint or 'default weights'}, {space.dim}-d), which no installed "
                "plugin provides now. Install the plugin that provides it "
                "(see `mmsearch plugins`), or index into a new catalog with --db."
            )
        return encoder

    def _space_for_indexing(self, encoder_id: str | None) -> tuple[Encoder, SpaceInfo]:
        active = self.catalog.active_space()
        if active is not None and encoder_id in (None, active.encoder_id):
            return self.encoder_for(active), active
        if active is not None:
            raise UsageError(
                f"This library uses encoder '{active.encoder_id}'; switching a library to "
                f"'{encoder_id}' is not supported yet. Use a new catalog (--db) for it."
            )
        encoder = (
            self.registry.encoder(encoder_id) if encoder_id else self.registry.default_encoder()
        )
        if encoder is None:
            known = ", ".join(sorted(self.registry.encoders)) or "none"
            wanted = f"encoder '{encoder_id}'" if encoder_id else "any encoder"
            raise EncoderUnavailableError(
                f"No installed plugin provides {wanted} (installed: {known}). "
                "Install an encoder plugin; `mmsearch plugins` lists what is loaded."
            )
        return encoder, self.catalog.ensure_space(encoder, activate=True)

    def store(self, space: SpaceInfo) -> FaissStore:
        """The space's vector index, loaded from its cache or rebuilt from the catalog."""
        store = self._stores.get(space.id)
        # Every change to a space's vectors bumps its generation (SQL triggers), and a store
        # is only stamped with a generation it matches (load, rebuild, save), so a cached
        # store at the current generation is current. Counting the vectors is O(n) (about
        # 5 ms per query at 100,000 vectors), so it is left to the reload below.
        if store is not None and store.generation == self.catalog.space_generation(space.id):
            return store
        generation, count = self.catalog.space_state(space.id)
        store = FaissStore(
            index_folder(self.db_path) / f"space-{space.id}.faiss", space.id, space.dim
        )
        rebuilt = store.load_or_rebuild(
            generation, count, lambda: self.catalog.vector_batches(space.id, space.dim)
        )
        if rebuilt and count:
            self._save(store, space)
        self._stores[space.id] = store
        return store

    def _save(self, store: FaissStore, space: SpaceInfo) -> None:
        generation, count = self.catalog.space_state(space.id)
        if store.ntotal != count:
            # The in-memory index drifted from SQL (a failed add); SQL wins.
            store.rebuild(lambda: self.catalog.vector_batches(space.id, space.dim), generation)
        try:
            store.save(generation)
        except OSError as exc:
            log.warning(
                "Could not save the vector index %s (%s); it will be rebuilt next time.",
                store.path,
                exc,
            )

    # -- indexing -------------------------------------------------------------

    def index(
        self,
        *roots: str | os.PathLike[str],
        encoder: str | None = None,
        settings: ExtractSettings | None = None,
        options: IndexOptions | None = None,
        progress: Progress | None = None,
    ) -> IndexReport:
        """Index the folders ``roots``: new and changed files are read, gone ones removed."""
        if not roots:
            raise UsageError("Give at least one folder to index.")
        resolved = [_root_bytes(root) for root in roots]
        opts = options or IndexOptions()
        if settings is not None:
            opts = IndexOptions(**{**_fields(opts), "settings": settings})
        report = IndexReport()
        started = time.perf_counter()
        with writer_lock(lock_path(self.db_path)):
            enc, space = self._space_for_indexing(encoder)
            report.space = f"{space.encoder_id} ({space.dim}-d)"
            store = self.store(space)
            try:
                for root in resolved:
                    RootIndexer(
                        self.catalog,
                        self.registry.extractors,
                        enc,
                        space,
                        store,
                        opts,
                        report,
                        exclude=self._own_files(),
                    ).run(root, progress)
            finally:
                self._save(store, space)
        report.seconds = time.perf_counter() - started
        return report

    def _own_files(self) -> frozenset[bytes]:
        base = os.fsencode(self.db_path)
        return frozenset(
            {
                base,
                base + b"-wal",
                base + b"-shm",
                os.fsencode(lock_path(self.db_path)),
                os.fsencode(index_folder(self.db_path)),
            }
        )

    # -- querying ---------------------------------------------------------------

    def query(
        self,
        text: str | None = None,
        *,
        example: str | os.PathLike[str] | None = None,
        k: int = 10,
        media_type: str | None = None,
        within: str | os.PathLike[str] | None = None,
    ) -> list[Hit]:
        """The ``k`` best files for a text or an example file, best first, one hit per file."""
        space = self.catalog.active_space()
        if space is None:
            return []
        runner = QueryRunner(
            self.catalog, self.registry, self.encoder_for(space), space, self.store(space)
        )
        return runner.run(
            text=text,
            example=example,
            k=k,
            media_type=media_type,
            within=_root_bytes(within, must_be_dir=False) if within else None,
        )

    def status(self) -> LibraryStatus:
        """Roots, item counts, spaces and the health of each vector index."""
        return collect_status(self.catalog, self.db_path)


def _fields(options: IndexOptions) -> dict[str, Any]:
    return {name: getattr(options, name) for name in options.__dataclass_fields__}


def _root_bytes(path: str | os.PathLike[str], *, must_be_dir: bool = True) -> bytes:
    raw = os.fsencode(os.path.abspath(os.fsdecode(os.fspath(path))))
    if must_be_dir and not os.path.isdir(raw):
        what = "does not exist" if not os.path.exists(raw) else "is not a folder"
        raise UsageError(f"{os.fsdecode(raw)} {what}; give a folder to index.")
    return raw


__all__: Sequence[str] = ("Library",)
