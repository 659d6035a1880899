"""The public Python API: open a library, index folders, query it, ask for its status."""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from mmsearch.contracts import (
    MEDIA_TYPES,
    CatalogVectors,
    Encoder,
    ExtractSettings,
    IndexTarget,
    Reranker,
    VectorIndex,
    VectorStore,
)
from mmsearch.errors import EncoderUnavailableError, MmsearchError, UsageError
from mmsearch.faults import fault_point
from mmsearch.index.indexer import IndexOptions, OtherSpace, Progress, RootIndexer, RunContext
from mmsearch.index.pipeline import runnable_extractors
from mmsearch.index.progress import ProgressCallback, tracker_for
from mmsearch.index.report import IndexReport
from mmsearch.plugins import Registry, load_plugins
from mmsearch.query.calibration import Calibration
from mmsearch.query.filtersql import ItemFilter
from mmsearch.query.hits import Hit
from mmsearch.query.plan_builder import build_plan, choose_rerankers
from mmsearch.query.planner import Example, QueryPlan, SearchOptions, check_examples
from mmsearch.query.pushdown import pushable
from mmsearch.query.querylang import Filters, parse_query
from mmsearch.query.runner import KEYWORD_THRESHOLD, PlanRunner, SearchResult
from mmsearch.query.spacesearch import (
    QueryCache,
    SpaceSearch,
    active_adapter,
    load_calibration,
)
from mmsearch.status import LibraryStatus, collect_status
from mmsearch.store.catalog import Catalog, SpaceInfo
from mmsearch.store.catch_up import catch_up
from mmsearch.store.companion_spaces import add_companion, companion_spaces
from mmsearch.store.locations import default_catalog_path, index_folder, lock_path
from mmsearch.store.locking import writer_lock
from mmsearch.store.segment_fields import (
    record_store_options,
    recorded_store_options,
    segment_fields,
)
from mmsearch.store.space_digests import refresh_digest, space_digest

if TYPE_CHECKING:
    from mmsearch.store.tuning import AdapterRow, FeedbackRow
    from mmsearch.tune.run import Judgement, TuneReport

log = logging.getLogger("mmsearch")

STORE_SETTING = "vector_store"
"""The catalog setting that records the library's vector store."""
DEFAULT_STORE = "faiss"


class Library:
    """A catalog of indexed folders and the vector indexes built from it.

    >>> lib = Library.open()                     # doctest: +SKIP
    >>> report = lib.index("./media")            # doctest: +SKIP
    >>> hits = lib.query("a red car", k=10)      # doctest: +SKIP
    """

    def __init__(
        self,
        db_path: Path,
        registry: Registry,
        store: str | None = None,
        *,
        read_only: bool = False,
        store_options: Mapping[str, str] | None = None,
    ) -> None:
        self.db_path = db_path
        self.registry = registry
        self.catalog = Catalog(db_path, read_only=read_only)
        self._store_name = store
        self._store_options = dict(store_options or {})
        self._stores: dict[int, VectorIndex] = {}
        self._calibrations: dict[int, Calibration] = {}
        self._encoders: dict[str, Encoder] = {}
        self._encode_lock = threading.Lock()
        """Held while a query is embedded: shared with the encoders (share_encoders), so a
        server's readers embed one query at a time. On a CPU two inferences at once contend
        for the same cores in torch's and onnxruntime's spinning thread pools (measured with
        bench/serve_load.py: 8 clients' example-image queries took 20 s instead of 0.3 s)."""
        self._query_cache = QueryCache()
        # Word counts for keyword calibration, valid while the spaces' generations hold.
        self._keyword_counts: tuple[object, dict[str, int]] = ((), {})

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str] | None = None,
        *,
        registry: Registry | None = None,
        store: str | None = None,
        read_only: bool = False,
        store_options: Mapping[str, str] | None = None,
    ) -> Library:
        """Open (creating if needed) the catalog at ``path``, or at the default location.

        ``store`` names the vector store (``--store``) for this session, and
        ``store_options`` its settings (``--milvus-uri`` gives ``uri``); an index
        run records both as the library's defaults. ``read_only`` (``status``,
        ``query``) opens an existing catalog without creating, upgrading or
        writing it (a missing one raises :class:`~mmsearch.errors.CatalogMissingError`);
        vector index files beside it may still be rebuilt and saved.
        """
        db_path = Path(path).expanduser() if path is not None else default_catalog_path()
        if db_path.is_dir():
            raise UsageError(
                f"{db_path} is a folder; give the catalog's file path, e.g. {db_path}/catalog.db"
            )
        chosen = registry if registry is not None else load_plugins()
        return cls(
            db_path.absolute(), chosen, store, read_only=read_only, store_options=store_options
        )

    def close(self) -> None:
        """Release the vector indexes and the catalog's connections."""
        for index in self._stores.values():
            index.close()
        self._stores.clear()
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
        # One configured encoder per space for the library's life: `configure` may return
        # a new object (another checkpoint), whose weights would load again on every query.
        cached = self._encoders.get(space.key)
        if cached is not None:
            return cached
        encoder = self.registry.encoder(space.encoder_id)
        try:
            configured = encoder.configure(space.checkpoint) if encoder else None
        except ValueError:
            configured = None
        if configured is None or configured.space_key != space.key:
            raise EncoderUnavailableError(
                f"This library's vectors were made by encoder '{space.encoder_id}' "
                f"({space.checkpoint or 'default weights'}, {space.dim}-d), which no installed "
                "plugin provides now. Install the plugin that provides it "
                "(see `mmsearch plugins`), or index into a new catalog with --db."
            )
        self._encoders[space.key] = configured
        return configured

    def share_encoders(self, other: Library) -> None:
        """Use ``other``'s configured encoders (and their loaded weights) from now on.

        Two libraries open on one catalog, such as a server's readers and its writer,
        then hold one set of model weights instead of two, and embed one query at a time.
        """
        self._encoders = other._encoders
        self._encode_lock = other._encode_lock

    def choose_encoder(self, encoder_id: str | None = None, model: str | None = None) -> Encoder:
        """The encoder a run asked for, or the best one that can run here.

        Raises when a named encoder or model is unknown; when nothing was
        named, encoders that cannot run (no weights, no network) are passed
        over with one log line each saying why and what to do.
        """
        if encoder_id:
            found = self.registry.encoder(encoder_id)
            if found is None:
                known = ", ".join(sorted(self.registry.encoders)) or "none"
                raise UsageError(
                    f"No installed plugin provides encoder '{encoder_id}' (installed: {known}); "
                    "`mmsearch plugins` lists what is loaded."
                )
            candidates = [found]
        else:
            candidates = self.registry.encoders_by_priority()
        for candidate in candidates:
            try:
                encoder = candidate.configure(model) if model else candidate
            except ValueError as exc:
                if encoder_id:
                    raise UsageError(f"--model {model}: {exc}") from exc
                continue
            reason = encoder.unavailable_reason()
            if reason is None:
                return encoder
            if encoder_id or model:
                raise EncoderUnavailableError(reason)
            # A reason may be two lines, what is wrong and the command that fixes it: one
            # record each, as log lines are escaped to stay on one line.
            for line in f"Not using {encoder.encoder_id}: {reason}".splitlines():
                log.warning("%s", line)
        raise EncoderUnavailableError(
            "No installed encoder can run here"
            + (f" with --model {model}" if model else "")
            + ". Install an encoder plugin; `mmsearch plugins` lists what is loaded."
        )

    def _space_for_indexing(
        self, encoder_id: str | None, model: str | None
    ) -> tuple[Encoder, SpaceInfo]:
        active = self.catalog.active_space()
        if (
            active is not None
            and encoder_id in (None, active.encoder_id)
            and (model in (None, active.checkpoint))
        ):
            return self.encoder_for(active), active
        if active is not None and encoder_id is None:
            encoder_id = active.encoder_id  # --model alone: another model of the same encoder
        encoder = self.choose_encoder(encoder_id, model)
        space = self.catalog.ensure_space(encoder, activate=active is None)
        if active is not None and space.id != active.id:
            log.warning(
                "Filling the space %s (%d-d) for this library; queries keep using %s until "
                "every file has a vector in it.",
                encoder.encoder_id,
                encoder.dim,
                active.encoder_id,
            )
        return encoder, space

    @property
    def store_name(self) -> str:
        """The vector store in use: ``--store``, else the library's recorded one, else FAISS."""
        return self._store_name or self.catalog.setting(STORE_SETTING) or DEFAULT_STORE

    def vector_store(self) -> VectorStore:
        """The installed vector store this library uses; raises if no plugin provides it."""
        name = self.store_name
        found = self.registry.vector_stores.get(name)
        if found is None:
            known = ", ".join(sorted(self.registry.vector_stores)) or "none"
            raise UsageError(
                f"No installed plugin provides the vector store '{name}' (installed: {known}); "
                "install it, or choose another with --store (vectors are rebuilt from the "
                "catalog)."
            )
        return found

    def store(self, space: SpaceInfo) -> VectorIndex:
        """The space's vector index, loaded from its cache or rebuilt from the catalog."""
        index = self._stores.get(space.id)
        # Every change to a space's vectors bumps its generation (SQL triggers), and an index
        # is only stamped with a generation it matches (sync, rebuild, persist), so a cached
        # index at the current generation is current. Counting the vectors is O(n) (about
        # 5 ms per query at 100,000 vectors), so it is left to the reload below.
        if index is not None and index.generation == self.catalog.space_generation(space.id):
            return index
        if index is not None and catch_up(index, self.catalog, space):
            return index  # another process committed a few vectors: no full reload
        if index is not None:
            index.close()
        index = self._open_index(space)
        vectors = self._catalog_vectors(space)
        if index.sync(vectors) and vectors.count:
            self._save(index, space)
        self._stores[space.id] = index
        return index

    def _open_index(self, space: SpaceInfo) -> VectorIndex:
        target = IndexTarget(
            catalog_id=self.catalog.catalog_id(),
            space_id=space.id,
            space_key=space.key,
            dim=space.dim,
            folder=index_folder(self.db_path),
            options={**recorded_store_options(self.catalog), **self._store_options},
            fields=lambda ids: segment_fields(self.catalog, ids),
        )
        return self.vector_store().open_index(target)

    def _catalog_vectors(self, space: SpaceInfo) -> CatalogVectors:
        generation, count = self.catalog.space_state(space.id)
        return CatalogVectors(
            generation,
            count,
            lambda: self.catalog.vector_batches(space.id, space.dim),
            space_digest(self.catalog, space.id),
        )

    def _save(self, index: VectorIndex, space: SpaceInfo) -> None:
        vectors = self._catalog_vectors(space)
        if index.ntotal != vectors.count:
            index.rebuild(vectors)  # the index drifted from the catalog (a failed add): SQL wins
        if not self.catalog.identified:
            return  # saved under a stand-in id, the file would be refused next time anyway
        try:
            index.persist(vectors.generation)
        except OSError as exc:
            log.warning(
                "Could not save the vector index of space %d (%s); it will be rebuilt next time.",
                space.id,
                exc,
            )

    def _optimize(self, index: VectorIndex, space: SpaceInfo) -> None:
        try:
            index.optimize(self._catalog_vectors(space))
        except (OSError, MmsearchError, RuntimeError) as exc:
            log.warning(
                "Could not build the faster index of space %d (%s); the current one answers.",
                space.id,
                exc,
            )

    def rebuild_indexes(self) -> list[tuple[SpaceInfo, int]]:
        """Rebuild every space's vector index from the catalog (``mmsearch store rebuild``).

        Holds the writer lock, so no index run changes the catalog meanwhile. Returns each
        space with the number of vectors its index now holds.
        """
        done: list[tuple[SpaceInfo, int]] = []
        with writer_lock(lock_path(self.db_path)):
            self._record_store()
            for space in self.catalog.spaces():
                index = self._stores.pop(space.id, None) or self._open_index(space)
                vectors = self._catalog_vectors(space)
                index.rebuild(vectors)
                index.persist(vectors.generation)
                index.optimize(vectors)
                self._stores[space.id] = index
                done.append((space, vectors.count))
        return done

    # -- indexing -------------------------------------------------------------

    def index(
        self,
        *roots: str | os.PathLike[str],
        encoder: str | None = None,
        model: str | None = None,
        settings: ExtractSettings | None = None,
        options: IndexOptions | None = None,
        progress: Progress | None = None,
        on_progress: ProgressCallback | None = None,
        spaces: Sequence[str] = (),
    ) -> IndexReport:
        """Index the folders ``roots``: new and changed files are read, gone ones removed.

        ``encoder`` and ``model`` pick the space: a new library records the one
        chosen; for a library that has one, another adds a space, fills it, and
        makes it the one queries use once every file has a vector in it.

        ``spaces`` (``--space clap``, ``ENCODER=MODEL`` for a model) adds companion
        spaces: filled beside the main one by this run and every later one, each with the
        segments its encoder takes (:attr:`~mmsearch.contracts.Encoder.takes`: a CLAP
        space the sounds), and searched by every query.

        A root the library knows that is missing, empty, or another folder than
        before is not changed; it is listed in ``report.unavailable`` (the CLI
        exits 1) unless ``options.allow_empty_root``.

        ``on_progress`` is called on the indexing thread with an
        :class:`~mmsearch.index.progress.IndexProgress` (stage, files to read, extracted,
        committed, rate, ETA) each time work finishes; ``progress(committed, total)`` is
        the older two-number form of the same.
        """
        if not roots:
            raise UsageError("Give at least one folder to index.")
        # A known root that is gone (an unmounted drive) is the indexer's to refuse, not a typo.
        known = frozenset(path for _, path, _ in self.catalog.roots())
        resolved = [_root_bytes(root, known=known) for root in roots]
        opts = options or IndexOptions()
        if settings is not None:
            opts = dataclasses.replace(opts, settings=settings)
        report = IndexReport()
        tracker = tracker_for(on_progress, progress, len(resolved))
        started = time.perf_counter()
        if self.catalog.read_only:
            raise UsageError(
                f"The catalog {self.db_path} was opened read-only; open it without "
                "read_only=True to index."
            )
        with writer_lock(lock_path(self.db_path)):
            self._refresh_digests()
            enc, space = self._space_for_indexing(encoder, model)
            report.space = f"{space.encoder_id} ({space.dim}-d)"
            self._record_store()
            store = self.store(space)
            others = self._companions_for_run(space, spaces, opts)
            opts = dataclasses.replace(opts, settings=opts.settings.for_encoder(enc))
            encoders = [enc, *(o.encoder for o in others)]
            run = RunContext(
                catalog=self.catalog,
                extractors=runnable_extractors(self.registry.extractors, encoders),
                annotators=self.registry.annotators,
                encoder=enc,
                space=space,
                index=store,
                options=opts,
                report=report,
                exclude=self._own_files(),
                others=others,
                tracker=tracker,
                encode_lock=self._encode_lock,
            )
            written = [(space, enc, store), *((o.space, o.encoder, o.index) for o in others)]
            try:
                for root in resolved:
                    RootIndexer(run).run(root, tracker)
            finally:
                if tracker is not None:
                    tracker.finishing()
                for each_space, _, each_store in written:
                    self._save(each_store, each_space)
            for each_space, each_encoder, each_store in written:
                self._optimize(each_store, each_space)
                if report.indexed or report.reembedded or each_store.ntotal:
                    # Measured here, while the encoder is loaded, so the next query does not
                    # pay for it. load_calibration returns a stored one that still fits without
                    # touching the encoder, so a run that embedded nothing loads no model
                    # unless the stored calibration is missing or stale (a run killed before
                    # it was stored).
                    self._refresh_calibration(each_space, each_encoder, each_store)
            self._activate_when_complete(space, enc)
        if tracker is not None:
            tracker.done()
        report.seconds = time.perf_counter() - started
        return report

    def _companions_for_run(
        self, main: SpaceInfo, asked: Sequence[str], options: IndexOptions
    ) -> list[OtherSpace]:
        """Record the asked companion spaces; every companion this run can fill, opened."""
        for spec in asked:
            encoder_id, _, model = spec.partition("=")
            if not encoder_id.strip():
                raise UsageError(f"--space {spec!r}: give an encoder id, e.g. --space clap.")
            chosen = self.choose_encoder(encoder_id.strip(), model.strip() or None)
            if chosen.space_key == main.key:
                continue  # the main space is filled anyway
            companion = self.catalog.ensure_space(chosen, activate=False)
            self._encoders.setdefault(companion.key, chosen)
            if add_companion(self.catalog, companion.key):
                log.warning(
                    "Added the space %s (%d-d) for %s segments; every index run fills it "
                    "and every query searches it.",
                    chosen.encoder_id,
                    chosen.dim,
                    "/".join(sorted(chosen.takes)),
                )
        others: list[OtherSpace] = []
        for companion in companion_spaces(self.catalog):
            if companion.id == main.id:
                continue
            try:
                encoder = self.encoder_for(companion)
                reason = encoder.unavailable_reason()
            except EncoderUnavailableError as exc:
                reason = str(exc)
            if reason is not None:
                log.warning(
                    "Not filling the space %s in this run: %s", companion.encoder_id, reason
                )
                continue
            others.append(OtherSpace(companion, encoder, self.store(companion)))
        if others and options.executor is not None:
            names = ", ".join(o.space.encoder_id for o in others)
            raise UsageError(
                f"--executor {options.executor.name} fills one space, and this library also "
                f"fills {names} in every run; index without --executor."
            )
        return others

    def _refresh_digests(self) -> None:
        """Compute the digests the catalog lost (written by another program, or older code)."""
        for space in self.catalog.spaces():
            if space_digest(self.catalog, space.id) is None:
                log.info("Computing the vector digest of space %d (once).", space.id)
                refresh_digest(self.catalog, space.id, space.dim)

    def _record_store(self) -> None:
        """Make ``--store`` the library's default; its indexes are rebuilt from the catalog."""
        name = self._store_name
        if self._store_options and self._store_options != recorded_store_options(self.catalog):
            record_store_options(self.catalog, self._store_options)
            self._stores.clear()
        if name is None or name == self.catalog.setting(STORE_SETTING):
            return
        self.vector_store()  # refuse an unknown store before recording it
        self.catalog.set_setting(STORE_SETTING, name)
        self._stores.clear()

    def _refresh_calibration(self, space: SpaceInfo, encoder: Encoder, store: VectorIndex) -> None:
        with self._encode_lock:  # it may embed the probe texts
            self._calibrations[space.id] = load_calibration(self.catalog, space, encoder, store)

    def _activate_when_complete(self, space: SpaceInfo, encoder: Encoder) -> None:
        active = self.catalog.active_space()
        if active is None or active.id == space.id:
            return
        missing = self.catalog.items_missing_space(space.id, modalities=encoder.takes)
        if missing:
            log.warning(
                "%d indexed files are not yet in the space %s (other roots, or files that "
                "could not be read); queries keep using %s. Index those roots to finish.",
                len(missing),
                space.encoder_id,
                active.encoder_id,
            )
            return
        fault_point("before-activate")
        self.catalog.set_active_space(space.id)
        log.warning("Queries now use the space %s (%d-d).", space.encoder_id, space.dim)

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

    def search(
        self,
        query: str | None = None,
        *,
        examples: Sequence[Example | str | os.PathLike[str]] = (),
        filters: Filters | None = None,
        within: Sequence[str | os.PathLike[str]] = (),
        options: SearchOptions | None = None,
    ) -> SearchResult:
        """Run a query: words in the query language, example files, filters, options.

        ``query`` may hold weights, negatives, quoted phrases and filters
        (see :mod:`mmsearch.query.querylang`); ``filters`` and ``within`` add to
        those. Hits below the confidence threshold are left out unless
        ``options.keep_weak``; ``result.confident`` says whether any hit cleared it.
        """
        plan, spaces, rerankers = self._plan(query, examples, filters, within, options)
        if not spaces:
            return SearchResult(hits=[], plan=plan, confident=False)
        state = tuple((s.space.id, s.store.generation) for s in spaces.values())
        if self._keyword_counts[0] != state:
            self._keyword_counts = (state, {})
        return PlanRunner(self.catalog, plan, spaces, rerankers, self._keyword_counts[1]).run()

    def plan(
        self,
        query: str | None = None,
        *,
        examples: Sequence[Example | str | os.PathLike[str]] = (),
        filters: Filters | None = None,
        within: Sequence[str | os.PathLike[str]] = (),
        options: SearchOptions | None = None,
    ) -> QueryPlan:
        """The plan :meth:`search` would run, with the number of segments the filters allow."""
        plan, _spaces, _rerankers = self._plan(query, examples, filters, within, options)
        if plan.item_filter.active and plan.store_filter is None:
            with self.catalog.sqlite() as conn:
                plan.allowed_segments = len(plan.item_filter.allowed_segments(conn))
        return plan

    def _plan(
        self,
        query: str | None,
        examples: Sequence[Example | str | os.PathLike[str]],
        filters: Filters | None,
        within: Sequence[str | os.PathLike[str]],
        options: SearchOptions | None,
    ) -> tuple[QueryPlan, dict[str, SpaceSearch], list[Reranker]]:
        opts = (options or SearchOptions()).validated()
        parsed = parse_query(query or "")
        chosen = [e if isinstance(e, Example) else Example.parse(e) for e in examples]
        check_examples(chosen)
        merged = parsed.filters.merged(filters) if filters is not None else parsed.filters
        item_filter = ItemFilter(
            merged,
            tuple(_root_bytes(w, must_be_dir=False) for w in within),
            parsed.phrases,
        )
        spaces = self._query_spaces(opts.spaces)
        rerankers = choose_rerankers(self.registry.rerankers, opts)
        plan = build_plan(parsed, chosen, item_filter, spaces, rerankers, opts, KEYWORD_THRESHOLD)
        if pushable(item_filter, [s.store for s in spaces.values()]) is not None:
            plan.store_filter = self.store_name  # the store filters (mmsearch/query/pushdown.py)
        return plan, spaces, rerankers

    def _query_spaces(self, wanted: Sequence[str]) -> dict[str, SpaceSearch]:
        if not wanted:
            return self._default_spaces()
        spaces = self.catalog.spaces()
        chosen: dict[str, SpaceSearch] = {}
        for name in wanted:
            matches = [s for s in spaces if name in (str(s.id), s.encoder_id, s.key)]
            if not matches:
                known = ", ".join(f"{s.id} ({s.encoder_id})" for s in spaces) or "none"
                raise UsageError(
                    f"No space {name!r} in this library (spaces: {known}); "
                    "`mmsearch status` lists them."
                )
            for space in matches:
                label = space.encoder_id if len(matches) == 1 else f"{space.encoder_id}#{space.id}"
                chosen[label] = self._space_search(space)
        return chosen

    def _default_spaces(self) -> dict[str, SpaceSearch]:
        """Every space the index runs fill: the active one and its companions with vectors.

        A space being filled by a model switch, or one a switch replaced, is left out: it
        holds only some files, and the active space answers for them all.
        """
        active = self.catalog.active_space()
        if active is None:
            return {}
        chosen = {active.encoder_id: self._space_search(active)}
        for companion in companion_spaces(self.catalog):
            label = companion.encoder_id
            if companion.id == active.id or self.catalog.space_state(companion.id)[1] == 0:
                continue
            if label in chosen:
                label = f"{label}#{companion.id}"
            try:
                found = self._space_search(companion)
            except EncoderUnavailableError as exc:
                log.warning("Not searching the space %s: %s", companion.encoder_id, exc)
                continue
            chosen[label] = found
        if len(chosen) > 1:
            for found in chosen.values():
                found.optional = True  # an example one cannot embed (a photo for CLAP) skips it
        return chosen

    def _space_search(self, space: SpaceInfo) -> SpaceSearch:
        encoder = self.encoder_for(space)
        store = self.store(space)
        calibration = self._calibrations.get(space.id)
        if calibration is None or calibration.stale(store.ntotal):
            with self._encode_lock:  # it may embed the probe texts
                calibration = load_calibration(self.catalog, space, encoder, store)
            self._calibrations[space.id] = calibration
        found = SpaceSearch(
            space.encoder_id, space, encoder, store, calibration, self.catalog, self.registry,
            self._query_cache, self._encode_lock,
        )  # fmt: skip
        found.adapter = active_adapter(self.catalog, space.id)
        return found

    def query(
        self,
        text: str | None = None,
        *,
        example: str | os.PathLike[str] | None = None,
        k: int = 10,
        media_type: str | None = None,
        within: str | os.PathLike[str] | None = None,
        keep_weak: bool = True,
    ) -> list[Hit]:
        """The ``k`` best files for a text or an example file, best first, one hit per file.

        A shortcut for :meth:`search` that keeps weak hits by default (it
        returns a ranking, however poor); use :meth:`search` for confidence.
        """
        if not (text and text.strip()) and example is None:
            raise UsageError("Give a query text, or an example file with --image.")
        if media_type is not None and media_type not in MEDIA_TYPES:
            raise UsageError(f"Unknown type {media_type!r}; use one of {', '.join(MEDIA_TYPES)}.")
        filters = Filters(types=frozenset({media_type})) if media_type else None
        result = self.search(
            text,
            examples=[os.fspath(example)] if example is not None else [],
            filters=filters,
            within=[within] if within is not None else [],
            options=SearchOptions(k=k, keep_weak=keep_weak),
        )
        return result.hits

    # -- feedback and tuning (mmsearch/tune/) ------------------------------------

    def add_feedback(self, query: str, path: str | os.PathLike[str], *, good: bool) -> int:
        """Record that ``path`` is a good (or bad) answer to ``query``; a label for tune."""
        from mmsearch.store.tuning import add_feedback, item_id_of

        if not query.strip():
            raise UsageError("Give the query text the judgement is for.")
        raw = _root_bytes(path, must_be_dir=False)
        item = item_id_of(self.catalog, raw)
        if item is None:
            raise UsageError(
                f"{os.fsdecode(raw)} is not an indexed file in {self.db_path}; index its "
                "folder first (mmsearch index FOLDER), or check the path."
            )
        return add_feedback(self.catalog, query, item, good)

    def feedback(self) -> list[FeedbackRow]:
        """Every stored judgement, oldest first."""
        from mmsearch.store.tuning import feedback_rows

        return feedback_rows(self.catalog)

    def tune(
        self,
        labels: str | os.PathLike[str] | None = None,
        *,
        name: str = "default",
        use_feedback: bool = True,
        folds: int = 5,
        rank: int = 8,
        seed: int = 0,
    ) -> TuneReport:
        """Fit a query adapter for the active space from a label file and/or feedback.

        Reports k-fold held-out figures and stores the adapter as ``name``; it is
        activated only when held-out MRR improved (see :mod:`mmsearch.tune.crossval`).
        """
        from mmsearch.query.evalfile import load_queries
        from mmsearch.tune.run import judgements_from_feedback, judgements_from_queries, tune_space

        space = self.catalog.active_space()
        if space is None:
            raise UsageError("Nothing is indexed yet: run `mmsearch index FOLDER` first.")
        judgements: list[Judgement] = []
        skipped: list[str] = []
        if labels is not None:
            queries = load_queries(labels)
            judgements, skipped = judgements_from_queries(self.catalog, queries, os.fspath(labels))
        if use_feedback:
            judgements += judgements_from_feedback(self.feedback())
        report = tune_space(self.catalog, space, self.encoder_for(space), judgements,
                            name=name, folds=folds, rank=rank, seed=seed)  # fmt: skip
        report.skipped[:0] = skipped
        return report

    def adapters(self) -> list[AdapterRow]:
        """The stored query adapters of every space."""
        from mmsearch.store.tuning import adapters

        return adapters(self.catalog)

    def use_adapter(self, name: str | None) -> None:
        """Make ``name`` the active space's adapter (None: no adapter)."""
        from mmsearch.store.tuning import set_active

        space = self.catalog.active_space()
        if space is None:
            raise UsageError("Nothing is indexed yet: run `mmsearch index FOLDER` first.")
        if not set_active(self.catalog, space.id, name):
            known = ", ".join(a.name for a in self.adapters() if a.space_id == space.id) or "none"
            raise UsageError(f"No adapter {name!r} for space {space.id} (adapters: {known}).")

    def media_type_of(self, path: str | os.PathLike[str]) -> str | None:
        """The media type of an indexed file, or None if it is not in the catalog."""
        return self.catalog.media_type_of(_root_bytes(path, must_be_dir=False))

    def status(self) -> LibraryStatus:
        """Roots, item counts, spaces and the health of each vector index."""
        return collect_status(self.catalog, self.db_path, self.store_name, self._status_index)

    def _status_index(self, space: SpaceInfo) -> VectorIndex:
        return self._stores.get(space.id) or self._open_index(space)


def _root_bytes(
    path: str | os.PathLike[str], *, must_be_dir: bool = True, known: frozenset[bytes] = frozenset()
) -> bytes:
    raw = os.fsencode(os.path.abspath(os.fsdecode(os.fspath(path))))
    if must_be_dir and not os.path.isdir(raw) and raw not in known:
        what = "does not exist" if not os.path.exists(raw) else "is not a folder"
        raise UsageError(f"{os.fsdecode(raw)} {what}; give a folder to index.")
    return raw


__all__: Sequence[str] = ("Library",)
