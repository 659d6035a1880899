"""Choosing an extractor for a file and running it, turning every failure into a reason."""

from __future__ import annotations

import errno
import hashlib
import logging
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

from mmsearch.contracts import Annotator, Extractor, Segment, SkipFile, Source
from mmsearch.index.oserrors import file_error
from mmsearch.store.catalog import ExtractorRun

log = logging.getLogger(__name__)

HEAD_BYTES = 512
_HASH_CHUNK = 1 << 20


@dataclass(slots=True)
class Extracted:
    """The outcome of reading one file: segments, or a skip/failure reason."""

    content_hash: str | None = None
    extractor: Extractor | None = None
    """The extractor that identified the file (its media type is the item's)."""
    segments: list[Segment] = field(default_factory=list)
    status: str = "done"  # done | skipped | failed
    reason: str | None = None
    detail: str | None = None
    once: bool = False
    """The detail is the same for every file with this reason: print it once."""
    made_by: list[str] = field(default_factory=list)
    """The name of the extractor of each segment, parallel to ``segments``."""
    runs: list[ExtractorRun] = field(default_factory=list)
    """Each extractor that ran on the file, and how it did."""
    rerun: frozenset[str] | None = None
    """None: the whole file was read. Else only these extractors ran; the item keeps the
    segments of the others."""


def content_hash(source: Source) -> tuple[str, bytes]:
    """The file's BLAKE2b-256 hex digest and its first bytes, in one read.

    Opened with :meth:`Source.open`: a file swapped for a FIFO since the scan is
    skipped, not waited on.
    """
    digest = hashlib.blake2b(digest_size=32)
    with source.open() as handle:
        head = handle.read(HEAD_BYTES)
        digest.update(head)
        while chunk := handle.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest(), head


def _extension(path: bytes) -> str:
    name = path.rsplit(b"/", 1)[-1]
    if b"." not in name:
        return ""
    return name.rsplit(b".", 1)[-1].decode("ascii", "replace").lower()


def choose_extractor(extractors: Sequence[Extractor], head: bytes, path: bytes) -> Extractor:
    """The extractor for a file: by content first, then by extension. Raises SkipFile."""
    ext = _extension(path)
    for extractor in extractors:
        if extractor.identifies_by_content and extractor.sniff(head):
            if extractor.media_type == "video" and (audio := _named_audio(extractors, ext)):
                # MP4/Matroska heads look the same for sound only and for film: a phone's
                # voice memo is a plain "isom" MP4 named .m4a. Its name says which it is.
                return audio
            return extractor
    by_extension = [e for e in extractors if ext and ext in e.extensions]
    for extractor in by_extension:
        if not extractor.identifies_by_content:
            return extractor
    if by_extension:
        kind = by_extension[0].media_type
        raise SkipFile(
            "wrong extension",
            f"named .{ext} but its content is not a known {kind} format; "
            "it may be damaged or misnamed: open it to check, or rename it",
        )
    label = f".{ext} files" if ext else "files without an extension"
    raise SkipFile(
        "unsupported type",
        f"no installed plugin reads {label}; see `mmsearch plugins` for what is supported",
    )


def _named_audio(extractors: Sequence[Extractor], ext: str | None) -> Extractor | None:
    """The audio extractor that claims this extension by name alone, if one does."""
    for extractor in extractors:
        by_name = ext and ext in extractor.extensions and not extractor.identifies_by_content
        if by_name and extractor.media_type == "audio":
            return extractor
    return None


def annotate(
    annotators: Sequence[Annotator], segments: list[Segment], source: Source
) -> list[Segment]:
    """Run every annotator over the segments of its kinds; a failing one changes nothing."""
    out: list[Segment] = []
    for segment in segments:
        for annotator in annotators:
            if segment.kind not in annotator.kinds:
                continue
            try:
                segment = annotator.annotate(segment, source)
            except Exception as exc:  # an annotation is a bonus, never a reason to lose a file
                log.warning(
                    "annotator %s failed on %s: %s: %s",
                    annotator.name,
                    source.display,
                    type(exc).__name__,
                    exc,
                )
        out.append(segment)
    return out


_ACCESS_ERRORS = frozenset(
    {errno.EACCES, errno.EPERM, errno.EIO, errno.ENOENT, errno.ELOOP, errno.ENAMETOOLONG}
)


def _record_error(outcome: Extracted, exc: Exception, source: Source) -> None:
    if isinstance(exc, OSError) and exc.errno in _ACCESS_ERRORS:
        outcome.status = "skipped"
        outcome.reason, outcome.detail = file_error(exc, source.path)
        return
    # Anything else, a decoder's OSError included, is the extractor failing on this file.
    name = outcome.extractor.name if outcome.extractor else "extractor"
    log.debug("extractor %s raised on %s", name, source.display, exc_info=True)
    outcome.status, outcome.reason = "failed", "extractor error"
    outcome.detail = f"{name} raised {type(exc).__name__}: {exc}; report it to the plugin's authors"


def companions(extractors: Sequence[Extractor], primary: Extractor) -> list[Extractor]:
    """The other extractors that add segments to a file ``primary`` identified, by name."""
    found = [e for e in extractors if e is not primary and primary.media_type in e.contributes_to]
    return sorted(found, key=lambda e: e.name)


def extract_file(
    extractors: Sequence[Extractor],
    source: Source,
    annotators: Sequence[Annotator] = (),
    only: Collection[str] | None = None,
) -> Extracted:
    """Hash, identify, extract and annotate one file; never raises for a bad file.

    Every extractor for the file runs (the one that identified it, then its
    companions); with ``only``, just those named, for a file whose other
    extractors' segments are kept. A file is done when any extractor gave
    segments; the others' skips and failures are kept in ``runs``.
    """
    outcome = Extracted(rerun=None if only is None else frozenset(only))
    try:
        outcome.content_hash, head = content_hash(source)
        if not head:
            raise SkipFile("empty file", "the file is empty (0 bytes)")
        outcome.extractor = choose_extractor(extractors, head, source.path)
        chain = [outcome.extractor, *companions(extractors, outcome.extractor)]
        for extractor in chain:
            if only is None or extractor.name in only:
                _run_one(extractor, source, annotators, outcome)
        _settle(outcome)
    except SkipFile as skip:
        outcome.status, outcome.reason, outcome.detail = "skipped", skip.reason, skip.detail
        outcome.once = skip.once
    except _Unreadable as unreadable:
        outcome.status = "skipped"
        outcome.reason, outcome.detail = file_error(unreadable.error, source.path)
    except Exception as exc:  # a plugin bug must cost one file, not the run
        _record_error(outcome, exc, source)
    if outcome.status != "done":
        outcome.segments, outcome.made_by = [], []
    return outcome


class _Unreadable(Exception):
    """The file itself could not be read (permissions, I/O): no extractor can do better."""

    def __init__(self, error: OSError) -> None:
        super().__init__(str(error))
        self.error = error


def _run_one(
    extractor: Extractor, source: Source, annotators: Sequence[Annotator], outcome: Extracted
) -> None:
    """Run one extractor, adding its segments and its run to ``outcome``."""
    status, reason, detail = "done", None, None
    try:
        segments = list(extractor.extract(source))
        if not segments:
            raise SkipFile("no content", "the file holds nothing to index")
        if annotators:
            segments = annotate(annotators, segments, source)
        outcome.segments.extend(segments)
        outcome.made_by.extend([extractor.name] * len(segments))
    except SkipFile as skip:
        status, reason, detail = "skipped", skip.reason, skip.detail
        outcome.once = outcome.once or (skip.once and extractor is outcome.extractor)
    except OSError as exc:
        if exc.errno in _ACCESS_ERRORS:
            raise _Unreadable(exc) from exc
        status, reason, detail = "failed", "extractor error", _raised(extractor.name, exc, source)
    except Exception as exc:  # one extractor's bug costs only its own segments
        status, reason, detail = "failed", "extractor error", _raised(extractor.name, exc, source)
    outcome.runs.append(ExtractorRun(extractor.name, extractor.version, status, reason, detail))


def _settle(outcome: Extracted) -> None:
    """The file's status from its runs: done if any gave segments, else the first one's."""
    if outcome.segments or (outcome.rerun is not None and outcome.runs):
        return  # a partial rerun keeps the item done: the other extractors' segments stand
    first = outcome.runs[0] if outcome.runs else None
    if first is None:
        return
    outcome.status = first.status
    outcome.reason, outcome.detail = first.reason, first.detail


def _raised(name: str, exc: Exception, source: Source) -> str:
    log.debug("extractor %s raised on %s", name, source.display, exc_info=True)
    return f"{name} raised {type(exc).__name__}: {exc}; report it to the plugin's authors"
