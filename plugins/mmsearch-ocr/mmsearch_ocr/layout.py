"""Reading order: detected lines grouped into rows, top to bottom, each left to right.

The detector returns one box per run of text, and a row of a table or a caption
beside a price comes back as several boxes whose tops differ by a few pixels.
Boxes that share most of their height belong to one row.
"""

from __future__ import annotations

from collections.abc import Sequence

from mmsearch_ocr.engine import OcrLine

ROW_OVERLAP = 0.5
"""Two boxes are on one row when their vertical overlap is at least this share of the
shorter one's height."""


def _overlap(a: OcrLine, b: OcrLine) -> float:
    shared = min(a.bottom, b.bottom) - max(a.top, b.top)
    return shared / max(1.0, min(a.height, b.height))


def rows(lines: Sequence[OcrLine]) -> list[list[OcrLine]]:
    """Lines grouped into rows, rows ordered top to bottom, each row left to right."""
    grouped: list[list[OcrLine]] = []
    for line in sorted(lines, key=lambda item: (item.top + item.bottom) / 2):
        # Join the nearest row above that this box overlaps enough.
        for row in reversed(grouped[-3:]):
            if any(_overlap(line, other) >= ROW_OVERLAP for other in row):
                row.append(line)
                break
        else:
            grouped.append([line])
    return [sorted(row, key=lambda item: item.left) for row in grouped]


def reading_text(lines: Sequence[OcrLine]) -> str:
    """The lines' words in reading order: one text line per row."""
    return "\n".join(" ".join(line.text for line in row) for row in rows(lines))
