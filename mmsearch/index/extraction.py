"""Choosing an extractor for a file and running it, turning every failure into a reason."""

from __future__ import annotations

import errno
import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from mmsearch.contracts import Annotator, Extractor, Segment, SkipFile, Source
from mmsearch.index.oserrors import file_error

log = logging.getLogger(__name__)

HEAD_BYTES = 512
_HASH_CHUNK = 1 << 20


@dataclass(slots=True)
class Extracted:
    """The outcome of reading one file: segments, or a skip/failure reason."""

    content_hash: str | None = None
    extractor: Extractor | None = None
    segments: list[Segment] = field(default_factory=list)
    status: str = "done"  # done | skipped | failed
    reason: str | None = None
    detail: str | None = None
    once: bool = False
    """The detail is the same for every file with this reason: print it once."""


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
    for extractor in extractors:
        if extractor.identifies_by_content and extractor.sniff(head):
            return extractor
    ext = _extension(path)
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


def extract_file(
    extractors: Sequence[Extractor], source: Source, annotators: Sequence[Annotator] = ()
) -> Extracted:
    """Hash, identify, extract and annotate one file; never raises for a bad file."""
    outcome = Extracted()
    try:
        outcome.content_hash, head = content_hash(source)
        if not head:
            raise SkipFile("empty file", "the file is empty (0 bytes)")
        outcome.extractor = choose_extractor(extractors, head, source.path)
        outcome.segments = list(outcome.extractor.extract(source))
        if not outcome.segments:
            raise SkipFile("no content", "the file holds nothing to index")
        if annotators:
            outcome.segments = annotate(annotators, outcome.segments, source)
    except SkipFile as skip:
        outcome.status, outcome.reason, outcome.detail = "skipped", skip.reason, skip.detail
        outcome.once = skip.once
    except Exception as exc:  # a plugin bug must cost one file, not the run
        _record_error(outcome, exc, source)
    if outcome.status != "done":
        outcome.segments = []
    return outcome
