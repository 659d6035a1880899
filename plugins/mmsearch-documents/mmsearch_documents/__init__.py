"""mmsearch plugin: PDF documents, indexed by the text of their pages.

Each page's text layer (read with pypdf) is cut into chunks the way plain-text
files are, at paragraph, sentence or word breaks, and a chunk never spans two
pages. ``char_start``/``char_end`` point into the pages' texts joined by a blank
line; :func:`page_of` turns an offset back into a page number. Chunks are
embedded with the library's text encoder and keyword-indexed.

Skipped with a reason: password-protected files (an empty password is tried
first), scans without a text layer (OCR of PDFs is not supported yet), damaged
files, and documents over the page limit.

Run option (``mmsearch index --set KEY=VALUE``): ``pdf_max_pages=N``, the most
pages a PDF may have to be indexed (default 2000). Text beyond the run's
``--max-text-mb`` skips the file too.
"""

from __future__ import annotations

from collections.abc import Callable

from mmsearch import Extractor, hookimpl
from mmsearch_documents.chunks import PAGE_BREAK, joined, page_chunks, page_of
from mmsearch_documents.pdf import MAX_PAGES, PdfExtractor

__all__ = ["MAX_PAGES", "PAGE_BREAK", "PdfExtractor", "joined", "page_chunks", "page_of"]


@hookimpl
def register_extractors(register: Callable[[Extractor], None]) -> None:
    """Provide the PDF extractor."""
    register(PdfExtractor())
