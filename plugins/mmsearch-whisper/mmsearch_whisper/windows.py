"""Grouping timed transcript pieces into windows that a text encoder can take whole.

A window closes at a long silence (it never spans one), before it would pass
its length or word limit, and at the end of a sentence once it is long enough,
so a hit can say "meeting.m4a 12:40-13:05" with words that belong together.
CLIP's text tower reads 77 tokens (about 55 English words); MiniLM 256.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

_SENTENCE_ENDS = (".", "?", "!", "\u3002", "\uff1f", "\uff01")


@dataclass(frozen=True, slots=True)
class Piece:
    """A timed bit of transcript: one word, or a whole whisper segment.

    ``text`` keeps whisper's own spacing (a leading space before English words,
    none between Chinese characters), so pieces join by concatenation.
    """

    start: float
    end: float
    text: str


@dataclass(frozen=True, slots=True)
class WindowLimits:
    """When a window closes."""

    max_seconds: float = 30.0
    max_words: int = 60
    max_gap: float = 2.0
    """A silence at least this long always separates windows."""
    target_seconds: float = 20.0
    """Past this length, the next sentence end closes the window."""


@dataclass(slots=True)
class _Open:
    pieces: list[Piece] = field(default_factory=list)
    words: int = 0

    def fits(self, piece: Piece, words: int, limits: WindowLimits) -> bool:
        if not self.pieces:
            return True
        first, last = self.pieces[0], self.pieces[-1]
        if piece.start - last.end >= limits.max_gap:
            return False
        if piece.end - first.start > limits.max_seconds or self.words + words > limits.max_words:
            return False
        long_enough = last.end - first.start >= limits.target_seconds
        return not (long_enough and last.text.rstrip().endswith(_SENTENCE_ENDS))

    def close(self) -> Piece | None:
        text = " ".join("".join(p.text for p in self.pieces).split())
        if not text:
            return None
        start = min(p.start for p in self.pieces)
        return Piece(start, max(p.end for p in self.pieces), text)


def group(pieces: Iterable[Piece], limits: WindowLimits | None = None) -> list[Piece]:
    """Windows of consecutive pieces, in order, with their text and time span."""
    limits = limits or WindowLimits()
    windows: list[Piece] = []
    current = _Open()
    for piece in split_long(pieces, limits):
        words = len(piece.text.split())
        if not current.fits(piece, words, limits):
            windows.extend(w for w in [current.close()] if w)
            current = _Open()
        current.pieces.append(piece)
        current.words += words
    windows.extend(w for w in [current.close()] if w)
    return windows


def split_long(pieces: Iterable[Piece], limits: WindowLimits) -> Iterator[Piece]:
    """Pieces over a window's limits, cut into word pieces with times spread evenly.

    Only segment-level transcripts need this; word pieces pass through.
    """
    for piece in pieces:
        words = piece.text.split()
        too_long = piece.end - piece.start > limits.max_seconds
        if len(words) <= 1 or (len(words) <= limits.max_words and not too_long):
            yield piece
            continue
        step = (piece.end - piece.start) / len(words)
        for i, word in enumerate(words):
            yield Piece(piece.start + i * step, piece.start + (i + 1) * step, " " + word)
