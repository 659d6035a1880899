"""PDF files read with pypdf: the text layer of each page, cut into chunks.

PDFs are read lazily from an open file, so a large scan costs its page tree,
not its images. Encrypted files are opened with the empty password when that
is all they need (owner-only restrictions are common); scans without a text
layer, damaged files and oversized documents are skipped with a reason.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import IO, TYPE_CHECKING, ClassVar

from mmsearch_text import looks_binary

from mmsearch import Extractor, ExtractSettings, MediaType, Segment, SkipFile, Source
from mmsearch_documents.chunks import segments

if TYPE_CHECKING:
    from pypdf import PdfReader

log = logging.getLogger(__name__)

MAX_PAGES = 2000
"""Default page limit (run option ``pdf_max_pages``)."""
_FLAG = "--set pdf_max_pages=N"
_CHECK = "open it in a PDF viewer to check, or re-download or re-export it"


def max_pages(settings: ExtractSettings) -> int:
    """The run's page limit; a bad value is one message for the run, not one per file."""
    raw = settings.options.get("pdf_max_pages", MAX_PAGES)
    try:
        limit = int(raw)
    except (TypeError, ValueError):
        limit = 0
    if limit < 1:
        raise SkipFile(
            "bad setting",
            f"pdf_max_pages must be a whole number of pages, at least 1 (got {raw!r}); "
            f"fix {_FLAG}. PDF files are not indexed in this run",
            once=True,
        )
    return limit


def _open(handle: IO[bytes]) -> PdfReader:
    """A pypdf reader over the open file; any parse failure means a damaged file."""
    # Imported here: pypdf takes 0.15 s to import, and `mmsearch --help` must stay instant.
    from pypdf import PdfReader

    # pypdf logs the damage it works around ("EOF marker not found") without naming the
    # file; the run's skip line says what matters, with the path, so keep only errors.
    logging.getLogger("pypdf").setLevel(logging.ERROR)

    try:
        return PdfReader(handle)
    except Exception as exc:  # pypdf fails on malformed input in many ways, all of them "damaged"
        raise _corrupt(exc) from exc


def _corrupt(exc: Exception) -> SkipFile:
    return SkipFile(
        "corrupt document",
        f"pypdf cannot read it ({type(exc).__name__}: {exc}); it may be damaged or "
        f"truncated: {_CHECK}",
    )


def _unlock(reader: PdfReader) -> None:
    """Decrypt with the empty password, or explain why the file stays locked."""
    from pypdf import PasswordType
    from pypdf.errors import DependencyError

    if not reader.is_encrypted:
        return
    try:
        unlocked = reader.decrypt("") != PasswordType.NOT_DECRYPTED
    except DependencyError as exc:
        raise SkipFile(
            "missing decoder",
            "AES-encrypted PDFs need the cryptography package to be read, even without a "
            "password: pip install 'pypdf[crypto]'",
            once=True,
        ) from exc
    except Exception as exc:  # an unknown or broken security handler
        raise SkipFile(
            "encrypted",
            f"its encryption cannot be opened ({type(exc).__name__}: {exc}); "
            "save an unencrypted copy to index it",
        ) from exc
    if not unlocked:
        raise SkipFile(
            "encrypted",
            "it is protected by a password; save a copy without the password to index it",
        )


def _page_count(reader: PdfReader, limit: int) -> int:
    try:
        count = len(reader.pages)
    except Exception as exc:  # a broken page tree
        raise _corrupt(exc) from exc
    if count > limit:
        raise SkipFile(
            "too large",
            f"it has {count} pages, over the {limit}-page limit for PDFs; raise it with {_FLAG}",
        )
    return count


def _page_texts(reader: PdfReader, count: int, max_bytes: int, display: str) -> list[str]:
    """Each page's text ("" for a page that has none or cannot be read)."""
    texts: list[str] = []
    total = failed = 0
    for index in range(count):
        try:
            text = reader.pages[index].extract_text() or ""
        except Exception as exc:  # one broken page costs that page only
            log.debug("pypdf failed on page %d of %s: %s", index + 1, display, exc)
            text, failed = "", failed + 1
        texts.append(text.replace("\x00", ""))
        total += len(text.encode("utf-8", "replace"))
        if total > max_bytes:
            raise SkipFile(
                "too large",
                f"its text is over the {max_bytes / 1e6:g} MB limit for text files; "
                "split the document, or raise the limit with --max-text-mb",
            )
    if count and failed == count:
        raise SkipFile("corrupt document", f"pypdf cannot read any of its pages; {_CHECK}")
    return texts


def _check_text(texts: list[str]) -> None:
    whole = "".join(texts)
    if not whole.strip():
        raise SkipFile(
            "no text layer",
            "its pages hold no text, only images (a scan?); OCR of PDFs is not supported "
            "yet: run it through OCR software that adds a text layer, then index it again",
        )
    if looks_binary(whole):
        raise SkipFile(
            "unreadable text layer",
            "its fonts have no character map, so its text comes out as control codes; "
            "re-export it with embedded Unicode fonts, or add a text layer by OCR",
        )


class PdfExtractor(Extractor):
    """Text chunks of a PDF's pages; a chunk never spans two pages."""

    name: ClassVar[str] = "pdf"
    media_type: ClassVar[MediaType] = "text"
    extensions: ClassVar[frozenset[str]] = frozenset({"pdf"})
    signatures: ClassVar[tuple[bytes, ...]] = (b"%PDF-",)

    def extract(self, source: Source) -> Iterator[Segment]:
        """Read the text layer page by page and yield its chunks with offsets."""
        settings = source.settings
        limit = max_pages(settings)
        with source.open() as handle:
            reader = _open(handle)
            _unlock(reader)
            count = _page_count(reader, limit)
            texts = _page_texts(reader, count, settings.max_text_bytes, source.display)
        _check_text(texts)
        yield from segments(texts, settings.text_chunk_chars)
