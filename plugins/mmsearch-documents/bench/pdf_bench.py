"""Benchmark of the PDF extractor: pages, chunks and time per page of real PDFs.

Takes PDF paths; without any, uses two manuals many Debian/Ubuntu systems ship.
This is not a test: it prints figures. From the repository root:

    .venv/bin/python plugins/mmsearch-documents/bench/pdf_bench.py [FILE.pdf ...]
"""

from __future__ import annotations

import os
import sys
import time

from mmsearch_documents import PdfExtractor

from mmsearch import ExtractSettings, Source

DEFAULTS = (
    "/usr/share/doc/libtasn1-doc/libtasn1.pdf",
    "/usr/share/doc/shared-mime-info/shared-mime-info-spec.pdf",
)


def measure(path: str) -> None:
    """Extract one PDF twice (the second run is timed) and print the figures."""
    from pypdf import PdfReader

    pages = len(PdfReader(path).pages)
    source = Source(os.fsencode(path), path, os.path.getsize(path), ExtractSettings())
    list(PdfExtractor().extract(source))
    wall, cpu = time.perf_counter(), time.process_time()
    chunks = list(PdfExtractor().extract(source))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(
        f"{os.path.basename(path)}: {os.path.getsize(path) / 1024:.0f} KB, {pages} pages, "
        f"{len(chunks)} chunks, {wall:.2f} s wall, {cpu:.2f} s cpu, "
        f"{1e3 * cpu / pages:.0f} ms cpu / page"
    )


def main() -> None:
    paths = sys.argv[1:] or [path for path in DEFAULTS if os.path.exists(path)]
    if not paths:
        sys.exit("give PDF files to measure")
    for path in paths:
        measure(path)


if __name__ == "__main__":
    main()
