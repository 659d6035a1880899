"""The query language of ``mmsearch query``: a pure parser, no catalog and no models.

Words and phrases
    Whitespace separates tokens. Bare words and quoted phrases form ONE concept,
    their texts joined in query order: ``red car harbour``. A quoted phrase
    (``"invoice 12345"``) joins that concept and must also appear in the keyword
    text. Quotes count at the start of a token (after its ``+``, ``-``, ``N:`` or
    ``key:``); a closing quote ends the token, and a phrase cannot hold a ``"``.
    Elsewhere a quote is ordinary text (``12"``).
``+word``, ``+"some phrase"``
    A separate concept of its own: ``beach +sunset -people`` searches for
    *beach* and for *sunset*, and away from *people*.
``-word``, ``-"some phrase"``
    A negative concept. A ``-`` inside a word (``t-shirt``) is ordinary text; a
    lone ``+`` or ``-`` is an error.
``N:word``, ``N:"some phrase"``, ``-N:word``
    A separate concept weighted N (0 < N <= 100): ``2:cat 0.5:dog``. The value
    must start with a letter or a quote, so ``10:30`` is ordinary text.
Filters ``key:value``
    Keys are case-insensitive; a value may be quoted (``path:"my photos/**"``)
    and cannot be empty. ``type:``, ``ext:`` and ``path:`` may be given several
    times and any of their values will do; ``after:``, ``before:`` and
    ``duration:`` at most once. A filter cannot take ``+`` or ``-``.

    ``type:image,audio``
        image, audio, text or video, several with commas. Also accepted: plurals,
        ``photo`` (image), ``doc``/``document`` (text), ``sound``/``speech``/
        ``recording`` (audio).
    ``ext:jpg,.PNG``
        File extensions, letters and digits, with or without the dot.
    ``path:holidays/**``
        A glob over the file's absolute path: ``*`` any characters within one
        folder name, ``**`` any number of folders (also none), ``?`` one
        character, ``[abc]``/``[!abc]`` a character class. A pattern starting with
        ``/`` or ``~`` is anchored at the root; any other may start at any folder,
        so ``holidays/*.jpg`` matches ``/x/holidays/a.jpg`` but ``days/**`` does
        not match ``/x/holidays/a.jpg``. A pattern whose last name has no
        wildcard (``path:holidays``) also matches everything below it. Commas are
        part of the pattern; give ``path:`` twice for either of two.
    ``after:2023-05``, ``before:2024``
        ``YYYY``, ``YYYY-MM``, ``YYYY-MM-DD``, an ISO time (``2023-05-01T10:00``,
        with or without offset), or an age: ``12h``, ``30d``, ``2w``, ``6m``
        (30 days), ``1y`` (365 days). Times without a zone are local. Both use the
        start of the period: ``after:2023-01`` is on or after 1 January 00:00,
        ``before:2023-01`` strictly before it.
    ``duration:<60s``
        ``<``, ``<=``, ``>``, ``>=`` and an amount, or a range ``10s..2m`` (both
        ends included, either may be left out). Amounts: ``500ms``, ``90s``,
        ``1.5m`` (minutes), ``2h``, ``1h30m``, ``1:30`` (m:ss), ``1:02:03``
        (h:mm:ss); a bare number is seconds but needs a comparison or a range.

An unknown ``key:value`` whose key is a near miss of a filter key (``typ:``,
``exts:``) is an error; any other (``note:``, ``http://x``, ``10:30``) is text.
A query may hold only filters, or nothing at all.
"""

from __future__ import annotations

import functools
import re
import shlex
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from mmsearch.contracts import MEDIA_TYPES
from mmsearch.errors import UsageError
from mmsearch.query.filtervalues import (
    EXAMPLES,
    FILTER_KEYS,
    NUMBER,
    BadValue,
    DurationRange,
    Filters,
    compile_path_glob,
    empty_dates,
    parse_value,
)

# DurationRange, Filters, compile_path_glob and FILTER_KEYS live in mmsearch.query.filtervalues,
# MEDIA_TYPES in mmsearch.contracts; they are re-exported here, where callers have always found
# them.
__all__ = [
    "FILTER_KEYS",
    "MEDIA_TYPES",
    "DurationRange",
    "Filters",
    "ParsedQuery",
    "Part",
    "QuerySyntaxError",
    "compile_path_glob",
    "parse_filter",
    "parse_query",
]

# sign, then `prefix:`, then a quoted body, an unterminated quote, or a bare body.
_TOKEN = re.compile(r'([+-]?)(?:([^\s":]+):)?(?:"([^"]*)"|(")|(\S*))')
_ONCE_HINTS = {
    "after": "For a range give after: and before:, each once.",
    "before": "For a range give after: and before:, each once.",
    "duration": "Give one range, like duration:10s..2m.",
}


class QuerySyntaxError(UsageError):
    """Bad query syntax; str() shows the query with a caret line under the offending part."""

    def __init__(self, message: str, query: str, start: int, end: int, hint: str = "") -> None:
        super().__init__(message, query, start, end, hint)
        self.message, self.query, self.start, self.end, self.hint = message, query, start, end, hint

    def __str__(self) -> str:
        message = self.message if self.message.endswith((".", "?", "!")) else self.message + "."
        shown = re.sub(r"\s", " ", self.query)  # a tab or newline would shift the carets
        pad, width = _width(shown[: self.start]), max(1, _width(shown[self.start : self.end]))
        lines = [f"Bad query: {message}", f"  {shown}", "  " + " " * pad + "^" * width]
        return "\n".join([*lines, self.hint] if self.hint else lines)


def _width(text: str) -> int:
    """Terminal columns of text: wide (CJK) characters take two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _try(hint: str, examples: tuple[str, ...], render: Callable[[str], str]) -> str:
    """The hint, then the examples written as the user would type them (key:v or --flag v)."""
    shown = [render(example) for example in examples]
    tried = " or ".join(filter(None, (", ".join(shown[:-1]), *shown[-1:])))
    return f"{hint} Try {tried}.".strip() if tried else hint


@dataclass(frozen=True, slots=True)
class Part:
    """One concept to embed and score."""

    text: str
    weight: float = 1.0
    negative: bool = False


@dataclass(frozen=True, slots=True)
class ParsedQuery:
    """A parsed query: the concepts to score, the keyword search and the filters."""

    source: str
    parts: tuple[Part, ...]
    phrases: tuple[str, ...]
    keywords: tuple[str, ...]
    negative_keywords: tuple[str, ...]
    filters: Filters

    @property
    def positives(self) -> tuple[Part, ...]:
        """The parts to search for, in query order."""
        return tuple(p for p in self.parts if not p.negative)

    @property
    def negatives(self) -> tuple[Part, ...]:
        """The parts to search away from, in query order."""
        return tuple(p for p in self.parts if p.negative)

    def to_json(self) -> dict[str, Any]:
        """The stable JSON shape of a parsed query."""
        return {
            "source": self.source,
            "parts": [asdict(p) for p in self.parts],
            "phrases": list(self.phrases),
            "keywords": list(self.keywords),
            "negative_keywords": list(self.negative_keywords),
            "filters": self.filters.to_json(),
        }


def parse_query(text: str, *, now: datetime | None = None) -> ParsedQuery:
    """Parse a query string; raises QuerySyntaxError pointing at what is wrong."""
    builder = _Builder(text, now)
    for match in _TOKEN.finditer(text):
        if match.group():
            builder.take(_Token.of(match, text))
    return builder.result()


def parse_filter(
    key: str, value: str, *, now: datetime | None = None, flag: str | None = None
) -> Filters:
    """Parse one filter value with the query's syntax, e.g. that of a CLI option.

    Errors name ``flag`` (``--after``) when given, else point into ``key:value``.
    """
    name = key.lower()
    if name not in FILTER_KEYS:
        raise UsageError(f"Unknown filter {key!r}: filters are {', '.join(FILTER_KEYS)}.")
    try:
        if not value.strip():
            raise BadValue("the value is empty", 0, len(value), "", EXAMPLES[name])
        return parse_value(name, value, now)
    except BadValue as bad:
        if flag is None:
            at, hint = (
                len(name) + 1,
                _try(bad.hint, bad.examples, functools.partial(_as_query, name)),
            )
            raise QuerySyntaxError(
                bad.message, f"{name}:{value}", at + bad.start, at + bad.end, hint
            ) from None
        hint = _try(bad.hint, bad.examples, lambda v: f"{flag} {shlex.quote(v)}")
        raise UsageError(f"Bad value for {flag}: {bad.message}. {hint}".strip()) from None


@dataclass(frozen=True, slots=True)
class _Token:
    """One token, ``[sign][prefix:]body`` with the body maybe quoted, and where each part is."""

    start: int
    end: int
    sign: str
    prefix: str | None
    prefix_start: int
    body: str
    body_start: int
    quoted: bool

    @classmethod
    def of(cls, match: re.Match[str], query: str) -> _Token:
        if match[4]:
            hint = 'Close the phrase with a second ", or remove the quote.'
            raise QuerySyntaxError("unterminated quote", query, match.start(4), match.end(4), hint)
        group = 3 if match[3] is not None else 5
        return cls(
            match.start(), match.end(), match[1], match[2], match.start(1) + len(match[1]),
            match[group], match.start(group), group == 3,
        )  # fmt: skip

    def raw(self) -> str:
        """The token as typed, without its sign and quotes."""
        return self.body if self.prefix is None else f"{self.prefix}:{self.body}"


@dataclass(slots=True)
class _Builder:
    """Collects the tokens of one query into a ParsedQuery."""

    query: str
    now: datetime | None
    parts: list[Part] = field(default_factory=list)
    bare: list[str] = field(default_factory=list)
    bare_at: int = -1
    phrases: list[str] = field(default_factory=list)
    filters: Filters = field(default_factory=Filters)
    once: set[str] = field(default_factory=set)

    def error(self, message: str, start: int, end: int, hint: str = "") -> QuerySyntaxError:
        return QuerySyntaxError(message, self.query, start, end, hint)

    def take(self, token: _Token) -> None:
        prefix = (token.prefix or "").lower()
        if NUMBER.fullmatch(prefix) and (token.quoted or token.body[:1].isalpha()):
            self.take_weighted(token, prefix)
        elif prefix in FILTER_KEYS:
            self.take_filter(token, prefix)
        elif prefix.isascii() and prefix.isalpha() and (near := _near_key(prefix)):
            keys = ", ".join(f"{key}:" for key in FILTER_KEYS)
            end = token.prefix_start + len(prefix) + 1
            hint = f"Did you mean {near}:? Filters are {keys}."
            raise self.error(f"unknown filter '{token.prefix}:'", token.prefix_start, end, hint)
        else:
            self.take_text(token, " ".join(token.raw().split()) if token.quoted else token.raw())

    def take_text(self, token: _Token, text: str) -> None:
        self.check_text(token, text)
        if token.sign:
            self.parts.append(Part(text, negative=token.sign == "-"))
            return
        if self.bare_at < 0:
            self.bare_at = len(self.parts)
            self.parts.append(Part(""))  # the bare words' place in query order; see result()
        self.bare.append(text)
        if token.quoted and token.prefix is None:
            self.phrases.append(text)

    def check_text(self, token: _Token, text: str) -> None:
        if text:
            return
        if token.quoted:
            hint = "Put words between the quotes, or remove them."
            raise self.error("empty quotes", token.start + len(token.sign), token.end, hint)
        sign = token.sign
        hint = f'Write {sign}word, with no space after the {sign}, or quote it: "{sign}".'
        raise self.error(f"a lone '{token.sign}'", token.start, token.end, hint)

    def take_weighted(self, token: _Token, number: str) -> None:
        weight = float(number)
        if not 0 < weight <= 100:
            hint = "A weight is above 0 and at most 100, like 2:cat or 0.5:dog; -cat searches away."
            end = token.prefix_start + len(number)
            raise self.error(f"weight {number} is out of range", token.prefix_start, end, hint)
        text = " ".join(token.body.split())
        self.check_text(token, text)
        self.parts.append(Part(text, weight, negative=token.sign == "-"))

    def take_filter(self, token: _Token, key: str) -> None:
        as_typed = functools.partial(_as_query, key)
        if token.sign:
            hint = f'To search for the text itself, quote it: "{token.sign}{token.raw()}".'
            raise self.error(
                f"a filter cannot take '{token.sign}'", token.start, token.start + 1, hint
            )
        if not token.body.strip():
            hint = _try("", EXAMPLES[key], as_typed)
            raise self.error(f"'{token.prefix}:' needs a value", token.start, token.end, hint)
        if key in self.once:
            hint = _ONCE_HINTS[key]
            raise self.error(f"{key}: is given twice", token.start, token.end, hint)
        try:
            value = parse_value(key, token.body, self.now)
        except BadValue as bad:
            at, hint = token.body_start, _try(bad.hint, bad.examples, as_typed)
            raise self.error(bad.message, at + bad.start, at + bad.end, hint) from None
        self.filters = _union(self.filters, value)
        if empty := empty_dates(self.filters):
            hint = "Swap the dates, or widen them."
            raise self.error(f"empty date range: {empty}", token.start, token.end, hint)
        if key in _ONCE_HINTS:
            self.once.add(key)

    def result(self) -> ParsedQuery:
        parts = list(self.parts)
        if self.bare_at >= 0:
            parts[self.bare_at] = Part(" ".join(self.bare))
        keywords = _words(p.text for p in parts if not p.negative)
        negative = _words(p.text for p in parts if p.negative)
        return ParsedQuery(
            self.query, tuple(parts), tuple(self.phrases), keywords, negative, self.filters
        )


def _union(mine: Filters, theirs: Filters) -> Filters:
    """Two filters of one query: any of the types, extensions and paths will do."""
    return Filters(
        mine.types | theirs.types, mine.extensions | theirs.extensions, mine.paths + theirs.paths,
        mine.after or theirs.after, mine.before or theirs.before, mine.duration or theirs.duration,
    )  # fmt: skip


def _words(texts: Iterable[str]) -> tuple[str, ...]:
    """Lower-cased words as the keyword index splits them, de-duplicated, order kept."""
    return tuple(dict.fromkeys(w for text in texts for w in re.findall(r"\w+", text.lower())))


def _as_query(key: str, value: str) -> str:
    return f'{key}:"{value}"' if any(c.isspace() for c in value) else f"{key}:{value}"


def _near_key(word: str) -> str | None:
    """The filter key a misspelled key most likely meant, if it is a near miss."""
    distance, key = min((_edit_distance(word, key), key) for key in FILTER_KEYS)
    # Any one- or two-letter word is near `ext`; a near miss keeps one of its letters.
    return key if distance <= 2 and distance < len(word) else None


def _edit_distance(a: str, b: str) -> int:
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (ca != cb))
    return row[-1]
