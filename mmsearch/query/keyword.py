"""The keyword signal: SQLite FTS5 (BM25) over segment text and file names.

``segments_fts`` holds, per segment, its text (document chunk, transcript,
OCR words) and its file's relative path, kept in sync by triggers. BM25 orders
the matches; the calibrated score of a match is how unlikely it is that a
random segment holds the same words (see
:func:`mmsearch.query.calibration.keyword_calibrated`).
"""

from __future__ import annotations

import math
import re
import sqlite3
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from mmsearch.query.calibration import keyword_calibrated
from mmsearch.query.filtersql import ItemFilter, fts_phrase

_TOTAL = "\x00total"
_WORD = re.compile(r"[^\W_]+")  # as unicode61: "_" separates words
TEXT_WEIGHT = 1.0
NAME_WEIGHT = 0.5
"""A word in a file's name counts half as much as one in its content (BM25 column weights)."""
COVERAGE_FOR_CONFIDENCE = 0.8
"""Share of the query's word weight (by rarity) a segment must hold for a confident match."""


STOPWORDS = frozenset(
    [
        "a",
        "about",
        "above",
        "after",
        "again",
        "against",
        "all",
        "am",
        "an",
        "and",
        "any",
        "are",
        "as",
        "at",
        "be",
        "because",
        "been",
        "before",
        "being",
        "below",
        "between",
        "both",
        "but",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "doing",
        "down",
        "during",
        "each",
        "few",
        "for",
        "from",
        "further",
        "had",
        "has",
        "have",
        "having",
        "he",
        "her",
        "here",
        "hers",
        "herself",
        "him",
        "himself",
        "his",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "itself",
        "just",
        "me",
        "more",
        "most",
        "much",
        "my",
        "myself",
        "no",
        "nor",
        "not",
        "now",
        "of",
        "off",
        "on",
        "once",
        "only",
        "or",
        "other",
        "our",
        "ours",
        "ourselves",
        "out",
        "over",
        "own",
        "same",
        "she",
        "should",
        "so",
        "some",
        "such",
        "than",
        "that",
        "the",
        "their",
        "theirs",
        "them",
        "themselves",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "through",
        "to",
        "too",
        "under",
        "until",
        "up",
        "very",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "while",
        "who",
        "whom",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
        "yours",
        "yourself",
        "yourselves",
    ]
)
"""English function words (the usual list): left out of keyword matching, as they match
almost everything."""


def content_words(words: Sequence[str]) -> list[str]:
    """The words that carry meaning; all of them if the query is nothing but stopwords.

    Single characters go too: the "s" of "Rosalind's" would match every possessive.
    """
    kept = [w for w in words if w not in STOPWORDS and len(w) > 1]
    return kept or list(words)


def tokens(text: str) -> list[str]:
    """Words as FTS5's unicode61 tokenizer sees them: lower case, diacritics removed."""
    lowered = text.lower()
    if lowered.isascii():  # the common case, and ten times faster than folding
        return _WORD.findall(lowered)
    folded = unicodedata.normalize("NFKD", lowered)
    plain = "".join(ch for ch in folded if not unicodedata.combining(ch))
    return _WORD.findall(plain)


@dataclass(frozen=True, slots=True)
class KeywordRow:
    """One segment the keyword search matched."""

    segment_id: int
    item_id: int
    bm25: float
    """Higher is better (SQLite's bm25() negated)."""
    snippet: str


@dataclass(frozen=True, slots=True)
class KeywordMatch:
    """What a segment's words say about a query's keywords."""

    matched: tuple[str, ...]
    calibrated: float
    coverage: float


class KeywordStats:
    """Document frequencies of a query's words, for calibrating matches."""

    def __init__(
        self,
        connection: sqlite3.Connection,
        words: Sequence[str],
        cache: dict[str, int] | None = None,
    ) -> None:
        # ``cache`` holds counts from earlier queries while the catalog is unchanged
        # (the caller keys it by the spaces' generations): each count costs a scan.
        counts = cache if cache is not None else {}
        self._parts: dict[str, tuple[str, ...]] = {}
        if _TOTAL not in counts:
            # Counting the segments table uses its smallest index; the FTS table would scan.
            counts[_TOTAL] = max(1, _count(connection, "SELECT count(*) FROM segments", ()))
        self.total = counts[_TOTAL]
        for word in words:
            if word not in counts:
                counts[word] = _count(
                    connection,
                    "SELECT count(*) FROM segments_fts WHERE segments_fts MATCH ?",
                    (fts_phrase(word),),
                )
        self.frequency = {word: counts[word] for word in words}

    def _holds(self, present: set[str], word: str) -> bool:
        # A keyword may be several tokens ("t-shirt"): all of them must be there.
        parts = self._parts.get(word)
        if parts is None:
            parts = self._parts[word] = tuple(tokens(word))
        return all(part in present for part in parts)

    def idf(self, word: str) -> float:
        """Rarity of a word; one the library never saw counts as the rarest."""
        return math.log((self.total + 1) / (self.frequency.get(word, 0) + 0.5))

    def judge(self, words: Iterable[str], present: set[str]) -> KeywordMatch:
        """Which of ``words`` a text whose tokens are ``present`` holds, and how surprising."""
        wanted = list(dict.fromkeys(words))
        matched = tuple(w for w in wanted if self._holds(present, w))
        probability = 1.0
        for word in matched:
            probability *= max(self.frequency.get(word, 1), 1) / self.total
        weight = sum(self.idf(w) for w in wanted) or 1.0
        coverage = sum(self.idf(w) for w in matched) / weight
        calibrated = keyword_calibrated(probability) if matched else 0.0
        return KeywordMatch(matched, calibrated, coverage)


def _count(connection: sqlite3.Connection, sql: str, params: tuple[str, ...]) -> int:
    row = connection.execute(sql, params).fetchone()
    return int(row[0]) if row else 0


def search_keywords(
    connection: sqlite3.Connection, words: Sequence[str], item_filter: ItemFilter, limit: int
) -> list[KeywordRow]:
    """The best ``limit`` segments holding any of ``words``, by BM25."""
    if not words:
        return []
    expression = " OR ".join(fts_phrase(w) for w in words)
    rank = f"bm25({TEXT_WEIGHT}, {NAME_WEIGHT})"
    columns = "segments_fts.rowid, s.item_id, -rank, snippet(segments_fts, 0, '[', ']', '...', 16)"
    if not item_filter.active:
        # FTS5 sorts by rank itself and stops at the limit; joining first would make SQLite
        # score and sort every match (25 ms instead of a few at 100,000 segments).
        sql = (
            f"SELECT {columns} FROM segments_fts JOIN segments s ON s.id = segments_fts.rowid "
            f"WHERE segments_fts MATCH ? AND rank MATCH '{rank}' ORDER BY rank LIMIT ?"
        )
        rows = connection.execute(sql, [expression, limit])
    else:
        where, params = item_filter.where()
        sql = (
            f"SELECT {columns} FROM segments_fts JOIN segments s ON s.id = segments_fts.rowid "
            "JOIN items i ON i.id = s.item_id JOIN roots r ON r.id = i.root_id "
            f"WHERE segments_fts MATCH ? AND rank MATCH '{rank}' AND {where} "
            "ORDER BY rank LIMIT ?"
        )
        rows = connection.execute(sql, [expression, *params, limit])
    return [KeywordRow(int(a), int(b), float(c), str(d or "")) for a, b, c, d in rows]
