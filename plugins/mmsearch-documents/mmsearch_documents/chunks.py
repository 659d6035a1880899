"""Page texts to text segments: chunks that never cross a page, with offsets into the whole.

A document's text is its pages' texts joined by a blank line (``PAGE_BREAK``);
``char_start``/``char_end`` are offsets into that joined text, so a chunk's
page is the number of page breaks before it (:func:`page_of`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from mmsearch_text import chunk_spans

from mmsearch import Segment

PAGE_BREAK = "\n\n"


def joined(pages: Sequence[str]) -> str:
    """The document's text, to which segment offsets point."""
    return PAGE_BREAK.join(pages)


def page_chunks(pages: Sequence[str], size: int) -> Iterator[tuple[int, int, int]]:
    """``(page index, start, end)`` of chunks of at most ``size`` characters, each
    within one page, with offsets into :func:`joined` text."""
    offset = 0
    for index, text in enumerate(pages):
        for start, end in chunk_spans(text, size):
            yield index, offset + start, offset + end
        offset += len(text) + len(PAGE_BREAK)


def segments(pages: Sequence[str], size: int) -> Iterator[Segment]:
    """Text segments of the pages' chunks."""
    whole = joined(pages)
    for _page, start, end in page_chunks(pages, size):
        chunk = whole[start:end]
        yield Segment(
            kind="text",
            modality="text",
            content=chunk,
            text=chunk,
            char_start=start,
            char_end=end,
        )


def page_of(pages: Sequence[str], char_offset: int) -> int:
    """The 1-based page number on which ``char_offset`` of the joined text falls."""
    end = 0
    for number, text in enumerate(pages, start=1):
        end += len(text)
        if char_offset < end + len(PAGE_BREAK):
            return number
        end += len(PAGE_BREAK)
    raise ValueError(f"offset {char_offset} is past the end of the document's text")
