"""One index run over one root: scan, compare with the catalog, extract, encode, store.

Results are committed in bounded batches, so a killed run loses at most one
batch and a rerun picks up the files not yet committed. When the run's space
is new to the library, files already indexed get vectors in it too, from the
text the catalog holds where it can, so the old space keeps answering meanwhile.
"""

from __future__ import annotations

import logging
import os
from collections import defaultdict
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field

import numpy as np

from mmsearch.contracts import (
    Annotator,
    Encoder,
    Extractor,
    ExtractSettings,
    Segment,
    SkipFile,
    Source,
    VectorIndex,
)
from mmsearch.faults import fault_point
from mmsearch.index.executor import Executor, FileJob
from mmsearch.index.extraction import Extracted, content_hash, extract_file
from mmsearch.index.pipeline import BatchEncoder, Pending, Route, extract_in_order
from mmsearch.index.progress import ProgressTracker
from mmsearch.index.recovery import RETRIED_EVERY_RUN, must_reread, skip_key
from mmsearch.index.report import FileProblem, IndexReport, display_path
from mmsearch.index.rootguard import ROOT_UNAVAILABLE, RootState, identity_of, refusal
from mmsearch.index.scanner import ScannedFile, Scanner, ScanResult
from mmsearch.store.catalog import (
    Catalog,
    ExtractorRun,
    ItemRecord,
    KnownItem,
    NewSegment,
    SpaceInfo,
    StoredSegment,
)
from mmsearch.store.roots import root_identity, set_root_identity
from mmsearch.store.space_writer import SpaceWriter

log = logging.getLogger("mmsearch")

Progress = Callable[[int, int], None]
"""Called with (files done, files to do) as the run goes."""

FILE_TIMEOUT = 3600.0
"""Default seconds one file may take to read: far past any real file (a four-hour
recording transcribed on a slow CPU), there to end a hang, not to rush work."""


@dataclass(frozen=True, slots=True)
class IndexOptions:
    """How a run behaves; every field has a CLI flag."""

    settings: ExtractSettings = field(default_factory=ExtractSettings)
    follow_symlinks: bool = False
    include_hidden: bool = False
    retry_failed: bool = False
    retry_skipped: bool = False
    """Read skipped files again even when nothing they were skipped under has changed."""
    allow_empty_root: bool = False
    """Bring a root that is missing, empty or another folder in line anyway (drop entries)."""
    file_timeout: float | None = FILE_TIMEOUT
    """Seconds one file may take to extract before the run goes on without it; None: no limit."""
    commit_every: int = 64
    workers: int = max(1, min(4, os.cpu_count() or 1))
    executor: Executor | None = None
    """Where extraction and encoding run when not here (``--executor ray``); None: locally."""


@dataclass(slots=True)
class _Plan:
    todo: list[tuple[ScannedFile, KnownItem | None]]
    gone: dict[bytes, KnownItem]
    backfill: list[tuple[ScannedFile, KnownItem]] = field(default_factory=list)
    partial: list[tuple[ScannedFile, KnownItem, frozenset[str]]] = field(default_factory=list)
    """Indexed items that only some extractors must read again (new, changed or failed)."""
    known: int = 0
    """Items the catalog held under the root."""
    found: int = 0
    """Of those, how many the scan found at their path."""


@dataclass(frozen=True, slots=True)
class OtherSpace:
    """A space of the library that an index run writes beside its own (a sound space)."""

    space: SpaceInfo
    encoder: Encoder
    index: VectorIndex


@dataclass(slots=True)
class RunContext:
    """What every root of one ``index`` call shares."""

    catalog: Catalog
    extractors: Sequence[Extractor]
    annotators: Sequence[Annotator]
    encoder: Encoder
    space: SpaceInfo
    index: VectorIndex
    options: IndexOptions
    report: IndexReport
    exclude: frozenset[bytes] = frozenset()
    others: Sequence[OtherSpace] = ()
    """The library's other spaces this run writes: each takes the segments of the
    modalities its encoder embeds (:attr:`Encoder.takes`)."""
    said_once: set[str] = field(default_factory=set)
    tracker: ProgressTracker | None = None
    """Told the stage and counts as work finishes (:mod:`mmsearch.index.progress`)."""
    encode_lock: AbstractContextManager[object] | None = None
    """Held around each encoder call: the library's, which a server's query readers share,
    so a query waits for one batch's inference instead of fighting it for the cores."""
    skip_key: str = field(init=False, default="")
    """Fingerprint of what a skip in this run depends on (see :mod:`mmsearch.index.recovery`)."""

    def __post_init__(self) -> None:
        opts = self.options
        self.skip_key = skip_key(opts.settings, self.extractors, opts.file_timeout)


class RootIndexer:
    """Indexes one root into one space."""

    def __init__(self, run: RunContext) -> None:
        self.ctx = run
        self.catalog = run.catalog
        others = {o.space.id: o.index for o in run.others}
        self.writer = SpaceWriter(run.catalog, run.space.id, run.index, others)
        self.options = run.options
        self.report = run.report
        self.batch_encoder = BatchEncoder(
            run.encoder, [Route(o.space.id, o.encoder) for o in run.others], run.encode_lock
        )
        self._missing: dict[int | None, set[int]] = {}
        """Per space written (None: the run's own), the done items lacking vectors in it."""

    def run(self, root: bytes, progress: Progress | None = None) -> None:
        """Bring the catalog in line with the files under ``root``."""
        if self.ctx.tracker is not None:
            self.ctx.tracker.scanning(display_path(root))
        root_id = self.catalog.ensure_root(root, display_path(root))
        current = identity_of(root)
        if current is None:
            self._missing_root(root, root_id)
            return
        scanner = Scanner(
            root,
            follow_symlinks=self.options.follow_symlinks,
            include_hidden=self.options.include_hidden,
            exclude=self.ctx.exclude,
        )
        scan = scanner.scan()
        for problem in scan.problems:
            self._skip(_join(root, problem.relpath), problem.reason, problem.detail)
        plan = self._plan(root_id, scan.files, scan.unreadable_dirs)
        if self._refused(root, root_id, current, scan, plan):
            return
        self._detect_moves(root, plan)
        self._remove(plan.gone)
        work = [_Work(scanned, existing) for scanned, existing in plan.todo]
        work += [_Work(scanned, item, backfill=True) for scanned, item in plan.backfill]
        work += [_Work(scanned, item, only=names) for scanned, item, names in plan.partial]
        if self.ctx.tracker is not None:
            self.ctx.tracker.planned(len(work))
        self._process(root, root_id, work, progress)

    # -- is the root there? -------------------------------------------------

    def _missing_root(self, root: bytes, root_id: int) -> None:
        known = self.catalog.known_items(root_id)
        state = RootState(display_path(root), len(known), 0, 0, None, None)
        if self.options.allow_empty_root:
            self._remove(known)
        elif (message := refusal(state)) is not None:
            self._refuse(root, message)

    def _refused(
        self, root: bytes, root_id: int, current: str, scan: ScanResult, plan: _Plan
    ) -> bool:
        """Refuse a root that looks unmounted or replaced; else remember its folder."""
        if b"" in scan.unreadable_dirs:
            return False  # reported already, and nothing under it is removed
        recorded = root_identity(self.catalog, root_id)
        state = RootState(
            display_path(root), plan.known, plan.found, len(scan.files), recorded, current
        )
        message = None if self.options.allow_empty_root else refusal(state)
        if message is not None:
            self._refuse(root, message)
            return True
        if recorded != current:
            set_root_identity(self.catalog, root_id, current)
        return False

    def _refuse(self, root: bytes, message: str) -> None:
        problem = FileProblem(display_path(root), ROOT_UNAVAILABLE, message, raw_path=root)
        self.report.unavailable.append(problem)
        log.error("%s: %s", ROOT_UNAVAILABLE, message)

    # -- planning ----------------------------------------------------------

    def _plan(self, root_id: int, files: list[ScannedFile], unreadable: list[bytes]) -> _Plan:
        known = self.catalog.known_items(root_id)
        count = len(known)
        self._missing = self._items_missing(root_id)
        missing = set().union(*self._missing.values())
        runs = self.catalog.extractor_runs(root_id)
        todo: list[tuple[ScannedFile, KnownItem | None]] = []
        backfill: list[tuple[ScannedFile, KnownItem]] = []
        partial: list[tuple[ScannedFile, KnownItem, frozenset[str]]] = []
        for scanned in files:
            item = known.pop(scanned.relpath, None)
            stale = frozenset() if item is None else self._stale(item, runs.get(item.id, {}))
            if item is None or not self._unchanged(item, scanned):
                todo.append((scanned, item))
            elif stale:
                # Read again by the extractors that are new, changed or failed; the rest stand.
                # Not yet in this space either: read it whole, once.
                if item.id in missing:
                    todo.append((scanned, item))
                else:
                    partial.append((scanned, item, stale))
            elif item.id in missing:
                backfill.append((scanned, item))  # indexed, but not yet in this space
            else:
                self.report.unchanged += 1
        # Whatever is left was not found, except under folders we could not read.
        prefixes = tuple(p + b"/" for p in unreadable if p)
        hidden_everything = b"" in unreadable
        gone = {
            rel: item
            for rel, item in known.items()
            if not hidden_everything and not rel.startswith(prefixes)
        }
        return _Plan(todo, gone, backfill, partial, known=count, found=count - len(known))

    def _items_missing(self, root_id: int) -> dict[int | None, set[int]]:
        """Per space this run writes, the items with segments it takes but has no vector of."""
        ctx = self.ctx
        spaces: list[tuple[int | None, SpaceInfo, Encoder]] = [(None, ctx.space, ctx.encoder)]
        spaces += [(o.space.id, o.space, o.encoder) for o in ctx.others]
        return {
            key: self.catalog.items_missing_space(space.id, root_id, encoder.takes)
            for key, space, encoder in spaces
        }

    def _stale(self, item: KnownItem, runs: dict[str, ExtractorRun]) -> frozenset[str]:
        """The extractors of a done item that must run on it again: new, changed, or failed."""
        if item.status != "done":
            return frozenset()
        return frozenset(
            e.name for e in self._extractors_of(item) if self._must_rerun(e, runs.get(e.name))
        )

    def _must_rerun(self, extractor: Extractor, run: ExtractorRun | None) -> bool:
        """New to the item, at another version, or failed or skipped where asked to retry."""
        if run is None or run.version != extractor.version:
            return True
        opts = self.options
        if run.status == "failed":
            return opts.retry_failed
        return run.status == "skipped" and (opts.retry_skipped or run.reason in RETRIED_EVERY_RUN)

    def _extractors_of(self, item: KnownItem) -> list[Extractor]:
        """The installed extractors that read an item: the one that identified it, companions."""
        return [
            e
            for e in self.ctx.extractors
            if e.name == item.extractor
            or (item.media_type is not None and item.media_type in e.contributes_to)
        ]

    def _unchanged(self, item: KnownItem, scanned: ScannedFile) -> bool:
        if item.size != scanned.size or item.mtime_ns != scanned.mtime_ns:
            return False
        opts = self.options
        retry = {"retry_failed": opts.retry_failed, "retry_skipped": opts.retry_skipped}
        return not must_reread(item, self.ctx.skip_key, **retry)

    def _detect_moves(self, root: bytes, plan: _Plan) -> None:
        """A new file with the content of a vanished one is that file, moved: keep its vectors."""
        by_size: dict[int, list[KnownItem]] = defaultdict(list)
        for item in plan.gone.values():
            if item.status == "done" and item.content_hash:
                by_size[item.size].append(item)
        if not by_size:
            return
        remaining: list[tuple[ScannedFile, KnownItem | None]] = []
        for scanned, existing in plan.todo:
            match = None
            if existing is None and by_size.get(scanned.size):
                match = self._same_content(_join(root, scanned.relpath), by_size[scanned.size])
            if match is None:
                remaining.append((scanned, existing))
                continue
            by_size[scanned.size].remove(match)
            del plan.gone[match.relpath]
            self.catalog.move_item(
                match.id, scanned.relpath, display_path(scanned.relpath), scanned.mtime_ns
            )
            fault_point("after-move-commit")
            self.report.moved += 1
        plan.todo = remaining

    def _same_content(self, path: bytes, candidates: list[KnownItem]) -> KnownItem | None:
        source = Source(path, display_path(path), candidates[0].size, self.options.settings)
        try:
            digest, _ = content_hash(source)
        except (OSError, SkipFile):
            return None  # not readable now: it is read (and the reason said) as a new file
        return next((c for c in candidates if c.content_hash == digest), None)

    def _remove(self, gone: dict[bytes, KnownItem]) -> None:
        if not gone:
            return
        self.writer.remove_items([item.id for item in gone.values()])
        self.report.removed += len(gone)

    # -- processing --------------------------------------------------------

    def _process(
        self, root: bytes, root_id: int, work: list[_Work], progress: Progress | None
    ) -> None:
        stored = self.catalog.stored_segments(
            [w.existing.id for w in work if w.backfill and w.existing is not None]
        )
        if self.options.executor is not None:
            self._process_elsewhere(root, root_id, work, stored, progress)
            return
        batch: list[Pending] = []
        extracted = extract_in_order(
            work,
            lambda w: self._extract(root, w, stored),
            self.options.workers,
            budget=self.options.file_timeout,
        )
        for done, (item, outcome) in enumerate(extracted, start=1):
            batch.append(
                Pending(
                    item.scanned, item.existing, outcome, backfill=item.backfill, only=item.only
                )
            )
            if len(batch) >= self.options.commit_every:
                self._commit(root, root_id, batch)
                batch = []
            if progress is not None:
                progress(done, len(work))
        if batch:
            self._commit(root, root_id, batch)

    def _process_elsewhere(
        self,
        root: bytes,
        root_id: int,
        work: list[_Work],
        stored: dict[int, list[StoredSegment]],
        progress: Progress | None,
    ) -> None:
        """Extract and encode through the run's executor (Ray); commit here, in batches.

        The tracker hears the workers' "extracted" and "embedded" as they happen; a file
        also counts as extracted once its results are back (a batch retried after a worker
        died reports twice, so the count is kept within the files of the root)."""
        assert self.options.executor is not None
        jobs = [self._job(root, w, stored) for w in work]
        ready: list[Pending] = []
        done, every = 0, self.options.commit_every
        settings = self.options.settings
        tracker = self.ctx.tracker
        extracted = 0

        def heard(kind: str, files: int) -> None:
            nonlocal extracted
            if kind == "extracted" and progress is not None:
                extracted = min(len(work), extracted + files)
                progress(extracted, len(work))
            elif kind == "embedded" and tracker is not None:
                tracker.embedding(files)

        listening = progress is not None or tracker is not None
        for encoded in self.options.executor.process(
            jobs, self.ctx.encoder, settings, heard if listening else None
        ):
            done += len(encoded)
            if progress is not None and extracted < done:
                extracted = done
                progress(extracted, len(work))
            ready.extend(encoded)
            while len(ready) >= every:
                self._commit(root, root_id, ready[:every], encoded=True)
                ready = ready[every:]
        if ready:
            self._commit(root, root_id, ready, encoded=True)

    def _job(self, root: bytes, work: _Work, stored: dict[int, list[StoredSegment]]) -> FileJob:
        reused = None
        if work.backfill and work.existing is not None:
            reused = _from_stored(stored.get(work.existing.id, []), work.existing.extractor)
        path = _join(root, work.scanned.relpath)
        return FileJob(path, work.scanned, work.existing, work.backfill, work.only, reused)

    def _extract(
        self, root: bytes, work: _Work, stored: dict[int, list[StoredSegment]]
    ) -> Extracted:
        if work.backfill and work.existing is not None:
            reused = _from_stored(stored.get(work.existing.id, []), work.existing.extractor)
            if reused is not None:
                return reused  # text is in the catalog: no need to read the file again
        path = _join(root, work.scanned.relpath)
        source = Source(path, display_path(path), work.scanned.size, self.options.settings)
        return extract_file(self.ctx.extractors, source, self.ctx.annotators, work.only)

    def _record(self, root: bytes, pending: Pending) -> ItemRecord:
        extracted, scanned = pending.extracted, pending.scanned
        status, reason, detail = extracted.status, extracted.reason, extracted.detail
        segments: tuple[NewSegment, ...] = ()
        runs = tuple(extracted.runs)
        path = _join(root, scanned.relpath)
        if status == "done" and pending.error and extracted.rerun is not None:
            # Only some extractors ran: theirs fail, the others' segments stand.
            runs = tuple(
                ExtractorRun(r.extractor, r.version, "failed", "encoder error", pending.error)
                for r in runs
            )
        elif status == "done" and pending.error:
            status, reason, detail = "failed", "encoder error", pending.error
        elif status == "done":
            segments = pending.new_segments()
        self._tell(path, status, reason or status, detail or "", extracted.once)
        if status == "done":
            self._tell_shortfalls(path, _shortfalls(runs, extracted))
        extractor = extracted.extractor
        return ItemRecord(
            relpath=scanned.relpath,
            display=display_path(scanned.relpath),
            size=scanned.size,
            mtime_ns=scanned.mtime_ns,
            content_hash=extracted.content_hash,
            media_type=extractor.media_type if extractor else None,
            extractor=extractor.name if extractor else None,
            status=status,
            reason=reason,
            detail=detail,
            segments=segments,
            existing_id=pending.existing.id if pending.existing else None,
            skip_key=self.ctx.skip_key if status == "skipped" else None,
            runs=runs if status == "done" else (),
            rerun=extracted.rerun if status == "done" else None,
        )

    def _tell_shortfalls(self, path: bytes, runs: list[ExtractorRun]) -> None:
        """Say which extractors a done file lacks: it is indexed without their segments."""
        shown = display_path(path)
        for run in runs:
            detail = f"indexed without {run.extractor}'s part: {run.detail or run.reason}"
            self.report.partial.append(FileProblem(shown, run.reason or run.status, detail, path))
            log.warning("partly indexed %s: %s", shown, detail)

    def _commit(
        self, root: bytes, root_id: int, batch: list[Pending], *, encoded: bool = False
    ) -> None:
        tracker = self.ctx.tracker
        if not encoded:
            if tracker is not None:
                tracker.embedding(len(batch))
            self.batch_encoder.encode(batch)
        if tracker is not None:
            tracker.committing()
        fresh = [
            p
            for p in batch
            if not (p.backfill and self._backfill(root, p))
            and not (p.only is not None and self._kept_as_was(root, p))
        ]
        records = [self._record(root, pending) for pending in fresh]
        self.report.segments += self.writer.write_items(root_id, records)
        self.report.indexed += sum(1 for r in records if r.status == "done")
        if tracker is not None:
            tracker.committed(len(batch))

    def _kept_as_was(self, root: bytes, pending: Pending) -> bool:
        """A partial rerun that could not read the file (timeout, unreadable) changes nothing."""
        if pending.extracted.status == "done":
            return False
        reason = pending.extracted.reason or "skipped"
        detail = f"{pending.extracted.detail or reason}; what was indexed of it is kept"
        self._tell(_join(root, pending.scanned.relpath), "skipped", reason, detail, False)
        return True

    def _backfill(self, root: bytes, pending: Pending) -> bool:
        """Add this space's vectors to an indexed item; False if it must be redone instead."""
        assert pending.existing is not None
        if not pending.ok:
            # It read fine before: keep what the other spaces have, say why, try next run.
            detail = pending.error or pending.extracted.detail or ""
            self._tell(
                _join(root, pending.scanned.relpath),
                "skipped",
                pending.extracted.reason or "encoder error",
                detail,
                False,
            )
            return True
        stored = self.catalog.stored_segments([pending.existing.id]).get(pending.existing.id, [])
        pairs = _match_stored(stored, pending.extracted.made_by, pending.existing.extractor)
        if pairs is None:
            return False  # it changed under the same size and mtime: index it afresh
        for target, lacking in self._missing.items():
            if pending.existing.id not in lacking:
                continue  # that space has its vectors already: adding them again would repeat
            found = pending.vectors_in(target)
            mine = [(segment_id, i) for segment_id, i in pairs if i in found]
            if mine:
                vectors = np.stack([found[i] for _, i in mine])
                self.writer.add_vectors([segment_id for segment_id, _ in mine], vectors, target)
        self.report.reembedded += 1
        return True

    def _tell(self, path: bytes, status: str, reason: str, detail: str, once: bool) -> None:
        """Record a skipped or failed file in the report, and say so on stderr."""
        if status == "done":
            return
        shown = display_path(path)
        problem = FileProblem(shown, reason, detail, path)
        if status == "failed":
            self.report.failed.append(problem)
            log.warning("failed %s: %s", shown, detail)
            return
        self.report.skipped.append(problem)
        if once and reason in self.ctx.said_once:
            log.info("skipped %s: %s (as above)", shown, reason)
            return
        self.ctx.said_once.add(reason)
        level = logging.INFO if reason == "unsupported type" else logging.WARNING
        log.log(level, "skipped %s: %s", shown, detail)

    def _skip(self, path: bytes, reason: str, detail: str) -> None:
        self._tell(path, "skipped", reason, detail, False)


@dataclass(frozen=True, slots=True)
class _Work:
    scanned: ScannedFile
    existing: KnownItem | None
    backfill: bool = False
    only: frozenset[str] | None = None
    """Run only these extractors on it, keeping the other extractors' segments."""


NOTHING_THERE = frozenset({"no speech", "no audio", "silent", "no content"})
"""Skip reasons that say the file holds nothing of that kind: no shortfall to report."""


def _shortfalls(runs: tuple[ExtractorRun, ...], extracted: Extracted) -> list[ExtractorRun]:
    """What a done file lacks: extractors that failed, or the identifying one that skipped.

    A companion that skips (a video without sound has no speech) lacks nothing, and nor
    does a file that holds nothing of the identifying one's kind (a dog barking has no
    speech for whisper; its sound windows are the file).
    """
    primary = extracted.extractor.name if extracted.extractor else None
    return [
        r
        for r in runs
        if r.status == "failed"
        or (r.status == "skipped" and r.extractor == primary and r.reason not in NOTHING_THERE)
    ]


def _from_stored(stored: list[StoredSegment], primary: str | None) -> Extracted | None:
    """Rebuild a text-only item's segments from the catalog, or None if it has others."""
    if not stored or any(s.modality != "text" or s.text is None for s in stored):
        return None
    segments = [
        Segment(s.kind, "text", s.text, s.text, s.start, s.end, s.char_start, s.char_end)
        for s in stored
    ]
    return Extracted(segments=segments, made_by=[s.extractor or primary or "" for s in stored])


def _match_stored(
    stored: list[StoredSegment], made_by: list[str], primary: str | None
) -> list[tuple[int, int]] | None:
    """Pair stored segment ids with freshly extracted segments, extractor by extractor.

    Each extractor's segments are matched in order; None when any extractor gave
    another number of them than the catalog holds (the file changed unseen).
    """
    fresh: dict[str, list[int]] = defaultdict(list)
    for i, name in enumerate(made_by):
        fresh[name].append(i)
    kept: dict[str, list[int]] = defaultdict(list)
    for segment in stored:
        kept[segment.extractor or primary or ""].append(segment.id)
    if kept.keys() != fresh.keys() or any(len(kept[k]) != len(fresh[k]) for k in kept):
        return None
    return [pair for name in kept for pair in zip(kept[name], fresh[name], strict=True)]


def _join(root: bytes, rel: bytes) -> bytes:
    return root.rstrip(b"/") + b"/" + rel if rel and rel != b"." else root
