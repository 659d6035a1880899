"""One index run over one root: scan, compare with the catalog, extract, encode, store.

Files are read in a thread pool (decoders release the GIL) while the main
thread encodes, and results are committed in bounded batches, so a killed run
loses at most one batch and a rerun picks up the files not yet committed.
"""

from __future__ import annotations

import logging
import os
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from mmsearch.catalog.catalog import Catalog, ItemRecord, KnownItem, NewSegment, SpaceInfo
from mmsearch.contracts import Encoder, Extractor, ExtractSettings, Source
from mmsearch.encoding import encode_all
from mmsearch.extraction import Extracted, content_hash, extract_file
from mmsearch.report import FileProblem, IndexReport, display_path
from mmsearch.scanner import ScannedFile, Scanner
from mmsearch.vectorstore import FaissStore, FloatArray, IdArray

log = logging.getLogger("mmsearch")

Progress = Callable[[int, int], None]
"""Called with (files done, files to do) as the run goes."""


@dataclass(frozen=True, slots=True)
class IndexOptions:
    """How a run behaves; every field has a CLI flag."""

    settings: ExtractSettings = field(default_factory=ExtractSettings)
    follow_symlinks: bool = False
    include_hidden: bool = False
    retry_failed: bool = False
    commit_every: int = 64
    workers: int = max(1, min(4, os.cpu_count() or 1))


@dataclass(slots=True)
class _Pending:
    """A file read and waiting to be encoded and committed."""

    scanned: ScannedFile
    existing: KnownItem | None
    extracted: Extracted
    error: str | None = None
    vectors: dict[int, FloatArray] = field(default_factory=dict)


@dataclass(slots=True)
class _Plan:
    todo: list[tuple[ScannedFile, KnownItem | None]]
    gone: dict[bytes, KnownItem]


class RootIndexer:
    """Indexes one root into one space."""

    def __init__(
        self,
        catalog: Catalog,
        extractors: Sequence[Extractor],
        encoder: Encoder,
        space: SpaceInfo,
        store: FaissStore,
        options: IndexOptions,
        report: IndexReport,
        exclude: frozenset[bytes] = frozenset(),
    ) -> None:
        self.catalog = catalog
        self.extractors = extractors
        self.encoder = encoder
        self.space = space
        self.store = store
        self.options = options
        self.report = report
        self.exclude = exclude

    def run(self, root: bytes, progress: Progress | None = None) -> None:
        """Bring the catalog in line with the files under ``root``."""
        root_id = self.catalog.ensure_root(root, display_path(root))
        scanner = Scanner(
            root,
            follow_symlinks=self.options.follow_symlinks,
            include_hidden=self.options.include_hidden,
            exclude=self.exclude,
        )
        scan = scanner.scan()
        for problem in scan.problems:
            self._skip(_join(root, problem.relpath), problem.reason, problem.detail)
        plan = self._plan(root_id, scan.files, scan.unreadable_dirs)
        self._detect_moves(root, plan)
        self._remove(plan.gone)
        self._process(root, root_id, plan.todo, progress)

    # -- planning ----------------------------------------------------------

    def _plan(self, root_id: int, files: list[ScannedFile], unreadable: list[bytes]) -> _Plan:
        known = self.catalog.known_items(root_id)
        todo: list[tuple[ScannedFile, KnownItem | None]] = []
        for scanned in files:
            item = known.pop(scanned.relpath, None)
            if item is not None and self._unchanged(item, scanned):
                self.report.unchanged += 1
            else:
                todo.append((scanned, item))
        # Whatever is left was not found, except under folders we could not read.
        prefixes = tuple(p + b"/" for p in unreadable if p)
        hidden_everything = b"" in unreadable
        gone = {
            rel: item
            for rel, item in known.items()
            if not hidden_everything and not rel.startswith(prefixes)
        }
        return _Plan(todo, gone)

    def _unchanged(self, item: KnownItem, scanned: ScannedFile) -> bool:
        if item.size != scanned.size or item.mtime_ns != scanned.mtime_ns:
            return False
        return not (self.options.retry_failed and item.status == "failed")

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
            self.report.moved += 1
        plan.todo = remaining

    @staticmethod
    def _same_content(path: bytes, candidates: list[KnownItem]) -> KnownItem | None:
        try:
            digest, _ = content_hash(path)
        except OSError:
            return None
        return next((c for c in candidates if c.content_hash == digest), None)

    def _remove(self, gone: dict[bytes, KnownItem]) -> None:
        if not gone:
            return
        segment_ids = self.catalog.remove_items([item.id for item in gone.values()])
        self.store.remove(_ids(segment_ids))
        self.report.removed += len(gone)

    # -- processing --------------------------------------------------------

    def _process(
        self,
        root: bytes,
        root_id: int,
        todo: list[tuple[ScannedFile, KnownItem | None]],
        progress: Progress | None,
    ) -> None:
        batch: list[_Pending] = []
        for done, ((scanned, existing), extracted) in enumerate(
            self._extract_all(root, todo), start=1
        ):
            batch.append(_Pending(scanned, existing, extracted))
            if len(batch) >= self.options.commit_every:
                self._commit(root, root_id, batch)
                batch = []
            if progress is not None:
                progress(done, len(todo))
        if batch:
            self._commit(root, root_id, batch)

    def _extract_all(
        self, root: bytes, todo: list[tuple[ScannedFile, KnownItem | None]]
    ) -> Iterator[tuple[tuple[ScannedFile, KnownItem | None], Extracted]]:
        """Extract files in a thread pool, in order, with a bounded read-ahead."""
        window = max(2, self.options.workers * 2)
        with ThreadPoolExecutor(self.options.workers, thread_name_prefix="extract") as pool:
            pending: list[tuple[tuple[ScannedFile, KnownItem | None], Future[Extracted]]] = []
            for entry in todo:
                pending.append((entry, pool.submit(self._extract, root, entry[0])))
                if len(pending) >= window:
                    head, future = pending.pop(0)
                    yield head, future.result()
            for head, future in pending:
                yield head, future.result()

    def _extract(self, root: bytes, scanned: ScannedFile) -> Extracted:
        path = _join(root, scanned.relpath)
        source = Source(path, display_path(path), scanned.size, self.options.settings)
        return extract_file(self.extractors, source)

    def _encode(self, batch: list[_Pending]) -> None:
        """Encode every segment of a batch of files together, one call per modality.

        A segment that fails fails its whole file; the rest of the batch is kept.
        """
        by_modality: dict[str, list[tuple[_Pending, int]]] = defaultdict(list)
        for pending in batch:
            if pending.extracted.status == "done":
                for i, seg in enumerate(pending.extracted.segments):
                    by_modality[seg.modality].append((pending, i))
        for entries in by_modality.values():
            modality = entries[0][0].extracted.segments[entries[0][1]].modality
            contents = [p.extracted.segments[i].content for p, i in entries]
            encoded = encode_all(self.encoder, modality, contents)
            for (pending, i), vector, error in zip(
                entries, encoded.vectors, encoded.errors, strict=True
            ):
                if error and pending.error is None:
                    pending.error = error
                pending.vectors[i] = vector

    def _record(self, root: bytes, pending: _Pending) -> ItemRecord:
        extracted, scanned = pending.extracted, pending.scanned
        status, reason, detail = extracted.status, extracted.reason, extracted.detail
        segments: tuple[NewSegment, ...] = ()
        if status == "done" and pending.error:
            status, reason, detail = "failed", "encoder error", pending.error
        elif status == "done":
            segments = tuple(
                NewSegment(
                    i,
                    s.kind,
                    s.modality,
                    s.text,
                    s.start,
                    s.end,
                    s.char_start,
                    s.char_end,
                    pending.vectors[i],
                )
                for i, s in enumerate(extracted.segments)
            )
        path = _join(root, scanned.relpath)
        if status == "skipped":
            self._skip(path, reason or "skipped", detail or "")
        elif status == "failed":
            self.report.failed.append(
                FileProblem(display_path(path), reason or "failed", detail or "")
            )
            log.warning("failed %s: %s", display_path(path), detail)
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
        )

    def _commit(self, root: bytes, root_id: int, batch: list[_Pending]) -> None:
        self._encode(batch)
        records = [self._record(root, pending) for pending in batch]
        replaced, ids, vectors = self.catalog.write_items(root_id, self.space.id, records)
        self.store.remove(_ids(replaced))
        self.store.add(ids, vectors)
        self.report.indexed += sum(1 for r in records if r.status == "done")
        self.report.segments += len(ids)

    def _skip(self, path: bytes, reason: str, detail: str) -> None:
        shown = display_path(path)
        self.report.skipped.append(FileProblem(shown, reason, detail))
        level = logging.INFO if reason == "unsupported type" else logging.WARNING
        log.log(level, "skipped %s: %s", shown, detail)


def _join(root: bytes, rel: bytes) -> bytes:
    return root.rstrip(b"/") + b"/" + rel if rel and rel != b"." else root


def _ids(values: Sequence[int]) -> IdArray:
    return np.asarray(values, dtype=np.int64)
