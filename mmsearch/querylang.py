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
import os
import re
import shlex
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from mmsearch.errors import UsageError

FILTER_KEYS = ("type", "ext", "path", "after", "before", "duration")
MEDIA_TYPES = ("image", "audio", "text", "video")
_TYPE_ALIASES = {
    **{t: t for t in MEDIA_TYPES}, **{f"{t}s": t for t in MEDIA_TYPES},
    "photo": "image", "photos": "image", "doc": "text", "docs": "text",
    "document": "text", "documents": "text", "sound": "audio", "sounds": "audio",
    "speech": "audio", "recording": "audio", "recordings": "audio",
}  # fmt: skip
# sign, then `prefix:`, then a quoted body, an unterminated quote, or a bare body.
_TOKEN = re.compile(r'([+-]?)(?:([^\s":]+):)?(?:"([^"]*)"|(")|(\S*))')
_NUMBER = re.compile(r"\d+(?:\.\d+)?|\.\d+")
_AGE = re.compile(r"(\d+(?:\.\d+)?)([hdwmy])")
_AGE_SECONDS = {"h": 3600, "d": 86400, "w": 7 * 86400, "m": 30 * 86400, "y": 365 * 86400}
_DAY = re.compile(r"(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?")
_CLOCK = re.compile(r"(\d+):(\d{1,2})(?::(\d{1,2}))?")
_AMOUNT = re.compile(r"(\d+(?:\.\d+)?|\.\d+)(ms|h|m|s)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_ONCE_HINTS = {
    "after": "For a range give after: and before:, each once.",
    "before": "For a range give after: and before:, each once.",
    "duration": "Give one range, like duration:10s..2m.",
}
_EXAMPLES = {
    "type": ("image", "audio,video"),
    "ext": ("jpg", "jpg,.png"),
    "path": ("holidays/**", "~/my photos/*.jpg"),
    "after": ("2023", "2023-05-01", "2023-05-01T10:00", "30d"),
    "before": ("2023", "2023-05-01", "2023-05-01T10:00", "30d"),
    "duration": ("<60s", ">=2m", "10s..2m"),
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


class _BadValue(Exception):
    """A wrong filter value; offsets are into the value, examples are values to suggest."""

    def __init__(
        self, message: str, start: int, end: int, hint: str = "", examples: tuple[str, ...] = ()
    ) -> None:
        super().__init__(message)
        self.message, self.start, self.end, self.hint = message, start, end, hint
        self.examples = examples


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
class DurationRange:
    """A range of media durations in seconds; None leaves that side open."""

    low: float | None = None
    high: float | None = None
    low_inclusive: bool = True
    high_inclusive: bool = True

    def contains(self, seconds: float) -> bool:
        """Whether a medium lasting ``seconds`` falls in the range."""
        low, high = self.low, self.high
        above = low is None or (seconds >= low if self.low_inclusive else seconds > low)
        return above and (
            high is None or (seconds <= high if self.high_inclusive else seconds < high)
        )

    def is_empty(self) -> bool:
        """Whether no duration at all falls in the range."""
        if self.low is None or self.high is None:
            return False
        return self.low > self.high or (self.low == self.high and not self.contains(self.low))

    def describe(self) -> str:
        """E.g. ``< 60 s``, ``10 s .. 120 s``, ``> 10 s and <= 60 s``."""
        low = _bound(">=" if self.low_inclusive else ">", self.low)
        high = _bound("<=" if self.high_inclusive else "<", self.high)
        if low.startswith(">=") and high.startswith("<="):
            return f"{self.low:g} s .. {self.high:g} s"
        return " and ".join(filter(None, (low, high))) or "any length"

    def intersected(self, other: DurationRange) -> DurationRange:
        """The durations in both ranges (the result may be empty)."""
        low = _tighter((self.low, self.low_inclusive), (other.low, other.low_inclusive), max)
        high = _tighter((self.high, self.high_inclusive), (other.high, other.high_inclusive), min)
        return DurationRange(low[0], high[0], low[1], high[1])


_Bound = tuple[float | None, bool]


def _bound(operator: str, seconds: float | None) -> str:
    return "" if seconds is None else f"{operator} {seconds:g} s"


def _tighter(a: _Bound, b: _Bound, pick: Callable[[float, float], float]) -> _Bound:
    """The tighter of two bounds: pick is max for lower bounds and min for upper ones."""
    if a[0] is None or b[0] is None:
        return b if a[0] is None else a
    if a[0] == b[0]:
        return a[0], a[1] and b[1]
    return a if pick(a[0], b[0]) == a[0] else b


@dataclass(frozen=True, slots=True)
class Filters:
    """Restrictions on which files may match; every active filter must hold."""

    types: frozenset[str] = frozenset()
    extensions: frozenset[str] = frozenset()
    paths: tuple[str, ...] = ()
    after: datetime | None = None
    before: datetime | None = None
    duration: DurationRange | None = None

    def is_empty(self) -> bool:
        """Whether no filter is active."""
        return self == Filters()

    def merged(self, other: Filters) -> Filters:
        """Both sets of filters at once (AND), e.g. the query's and the CLI options'."""
        if self.paths and other.paths:
            raise UsageError("Path filters came from two places: give path filters in one place.")
        duration = self.duration or other.duration
        if self.duration and other.duration:
            duration = self.duration.intersected(other.duration)
            if duration.is_empty():
                raise _exclusive("duration", self.duration.describe(), other.duration.describe())
        found = Filters(
            types=_both("type", self.types, other.types),
            extensions=_both("ext", self.extensions, other.extensions),
            paths=self.paths or other.paths,
            after=max(filter(None, (self.after, other.after)), default=None),
            before=min(filter(None, (self.before, other.before)), default=None),
            duration=duration,
        )
        if empty := _empty_dates(found):
            raise UsageError(f"Empty date range: {empty}. Widen the dates.")
        return found

    def path_matches(self, path: str) -> bool:
        """Whether an absolute ``/``-separated path matches any path glob (True if none)."""
        return not self.paths or any(compile_path_glob(p).fullmatch(path) for p in self.paths)

    def describe(self) -> list[str]:
        """One human line per active filter, e.g. ``type is image or audio``."""
        lines = [
            "type is " + " or ".join(t for t in MEDIA_TYPES if t in self.types),
            "extension is " + " or ".join(sorted(self.extensions)),
            "path matches " + " or ".join(self.paths),
            f"dated on or after {_show(self.after)}",
            f"dated before {_show(self.before)}",
            f"duration {self.duration.describe()}" if self.duration else "",
        ]
        active = (self.types, self.extensions, self.paths, self.after, self.before, self.duration)
        return [line for line, on in zip(lines, active, strict=True) if on]

    def to_json(self) -> dict[str, Any]:
        """The stable JSON shape of the filters."""
        return {
            "types": [t for t in MEDIA_TYPES if t in self.types],
            "extensions": sorted(self.extensions),
            "paths": list(self.paths),
            "after": self.after.isoformat() if self.after else None,
            "before": self.before.isoformat() if self.before else None,
            "duration": asdict(self.duration) if self.duration else None,
        }


def _both(key: str, mine: frozenset[str], theirs: frozenset[str]) -> frozenset[str]:
    if mine and theirs and not mine & theirs:
        raise _exclusive(key, ",".join(sorted(mine)), ",".join(sorted(theirs)))
    return mine & theirs if mine and theirs else mine or theirs


def _exclusive(key: str, mine: str, theirs: str) -> UsageError:
    return UsageError(
        f"The {key} filters exclude each other ({mine} in one place, {theirs} in the other), "
        "so nothing can match. Drop one of them."
    )


def _show(moment: datetime | None) -> str:
    return moment.isoformat(sep=" ", timespec="minutes") if moment else ""


def _empty_dates(filters: Filters) -> str:
    """What is wrong when after/before leave no time at all, else ''."""
    after, before = filters.after, filters.before
    if after is None or before is None or after < before:
        return ""
    return f"nothing is on or after {_show(after)} and also before {_show(before)}"


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
            raise _BadValue("the value is empty", 0, len(value), "", _EXAMPLES[name])
        return _parse_value(name, value, now)
    except _BadValue as bad:
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


def compile_path_glob(pattern: str) -> re.Pattern[str]:
    """The regex (for ``fullmatch`` on absolute ``/`` paths) of a ``path:`` glob."""
    return _compile_glob(os.path.expanduser(pattern))


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
    filters: Filters = Filters()
    once: set[str] = field(default_factory=set)

    def error(self, message: str, start: int, end: int, hint: str = "") -> QuerySyntaxError:
        return QuerySyntaxError(message, self.query, start, end, hint)

    def take(self, token: _Token) -> None:
        prefix = (token.prefix or "").lower()
        if _NUMBER.fullmatch(prefix) and (token.quoted or token.body[:1].isalpha()):
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
            hint = _try("", _EXAMPLES[key], as_typed)
            raise self.error(f"'{token.prefix}:' needs a value", token.start, token.end, hint)
        if key in self.once:
            hint = _ONCE_HINTS[key]
            raise self.error(f"{key}: is given twice", token.start, token.end, hint)
        try:
            value = _parse_value(key, token.body, self.now)
        except _BadValue as bad:
            at, hint = token.body_start, _try(bad.hint, bad.examples, as_typed)
            raise self.error(bad.message, at + bad.start, at + bad.end, hint) from None
        self.filters = _union(self.filters, value)
        if empty := _empty_dates(self.filters):
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


def _parse_value(key: str, value: str, now: datetime | None) -> Filters:
    """One filter's value; raises _BadValue with offsets into the value."""
    if key == "type":
        return Filters(types=frozenset(_items(value, _media_type)))
    if key == "ext":
        return Filters(extensions=frozenset(_items(value, _extension)))
    if key == "path":
        return Filters(paths=(value,))
    if key == "duration":
        return Filters(duration=_duration(value))
    moment = _moment(value, now)
    return Filters(after=moment) if key == "after" else Filters(before=moment)


def _items(value: str, parse: Callable[[str, int], str]) -> list[str]:
    """Parse each comma-separated item with ``parse(item, its offset)``."""
    items, at = [], 0
    for item in value.split(","):
        if not item:
            raise _BadValue("empty item in the list", at, at, "Separate values with one comma.")
        items.append(parse(item, at))
        at += len(item) + 1
    return items


def _media_type(item: str, at: int) -> str:
    if (media := _TYPE_ALIASES.get(item.lower())) is None:
        hint = "Types are image, audio, text and video (also photo, doc, sound, speech)."
        raise _BadValue(f"unknown type '{item}'", at, at + len(item), hint)
    return media


def _extension(item: str, at: int) -> str:
    extension = item.lower().removeprefix(".")
    if not extension.isalnum():
        hint = "An extension is letters and digits, with or without the dot."
        raise _BadValue(
            f"'{item}' is not a file extension", at, at + len(item), hint, ("jpg,.png",)
        )
    return extension


def _moment(value: str, now: datetime | None) -> datetime:
    """A point in time: a date, an ISO time, or an age before ``now``."""
    now = now.astimezone() if now is not None and now.tzinfo is None else now
    hint = "A date is a year, month, day or ISO time; an age is h, d, w, m (30 d) or y (365 d)."
    try:
        if age := _AGE.fullmatch(value):
            seconds = float(age[1]) * _AGE_SECONDS[age[2]]
            return (now or datetime.now().astimezone()) - timedelta(seconds=seconds)
        if day := _DAY.fullmatch(value):
            moment = datetime(int(day[1]), int(day[2] or 1), int(day[3] or 1))
        elif re.match(r"\d{4}-\d\d-\d\d[T ]", value):
            moment = datetime.fromisoformat(value)
        else:
            raise ValueError(value)
        if moment.tzinfo is not None:
            return moment
        # Without a zone the date is local: `now`'s zone, else the system's rules for that date.
        return moment.replace(tzinfo=now.tzinfo) if now else moment.astimezone()
    except (ValueError, OverflowError, OSError):
        if _AGE.fullmatch(value):
            raise _BadValue(f"'{value}' reaches back too far", 0, len(value)) from None
        raise _BadValue(
            f"'{value}' is not a date", 0, len(value), hint, _EXAMPLES["after"]
        ) from None


def _duration(value: str) -> DurationRange:
    """``<60s``, ``<=60s``, ``>10m``, ``>=1h`` or a range ``10s..2m``, either end open."""
    if ".." in value:
        cut = value.index("..")
        low, high = value[:cut], value[cut + 2 :]
        if not (low or high):
            raise _BadValue("a range needs at least one end", 0, 2, "", ("10s..2m", "..2m"))
        found = DurationRange(
            _seconds(low, 0) if low else None, _seconds(high, cut + 2) if high else None
        )
        if found.is_empty():
            hint = "Put the shorter duration first."
            raise _BadValue("the range is empty", 0, len(value), hint, (f"{high}..{low}",))
        return found
    operator = re.match(r"[<>]=?", value)
    if operator is None:
        s = _seconds(value, 0)
        examples = (f"<{s:g}s", f">{s:g}s", f"{_short(s * 5 / 6)}s..{_short(s * 7 / 6)}s")
        raise _BadValue("a duration needs a comparison or a range", 0, len(value), "", examples)
    amount, op = _seconds(value[operator.end() :], operator.end()), operator.group()
    if op.startswith(">"):
        return DurationRange(low=amount, low_inclusive=op == ">=")
    return DurationRange(high=amount, high_inclusive=op == "<=")


def _short(seconds: float) -> str:
    return f"{round(seconds, 1):g}"


def _seconds(text: str, at: int) -> float:
    """Seconds in ``90``, ``1.5m``, ``1h30m``, ``500ms``, ``1:30`` (m:ss) or ``1:02:03``."""
    if _NUMBER.fullmatch(text):
        return float(text)
    clock = _CLOCK.fullmatch(text)
    if clock and all(int(n) < 60 for n in clock.groups()[1:] if n is not None):
        values = [int(n) for n in clock.groups() if n is not None]
        return float(sum(n * 60**i for i, n in enumerate(reversed(values))))
    if text and re.fullmatch(f"(?:{_AMOUNT.pattern})+", text):
        return sum(float(n) * _UNIT_SECONDS[unit] for n, unit in _AMOUNT.findall(text))
    hint = "Amounts look like 500ms, 90s, 1.5m, 2h, 1h30m or 1:30 (m:ss)."
    what = f"'{text}' is not a duration" if text else "the amount is missing"
    raise _BadValue(what, at, at + len(text), hint)


@functools.lru_cache(maxsize=256)
def _compile_glob(pattern: str) -> re.Pattern[str]:
    names = [name for name in pattern.split("/") if name not in ("", ".")]
    # Unanchored, a pattern may start at any folder name, never inside one.
    regex, slash = "/" if pattern.startswith("/") else "(?:.*/)?", ""
    for i, name in enumerate(names):
        if name != "**":
            regex, slash = regex + slash + _translate_name(name), "/"
        elif i < len(names) - 1:  # any number of whole folder names, none included
            regex, slash = regex + slash + "(?:.*/)?", ""
        else:
            regex += f"(?:{slash}.*)?"
    if not names or not re.search(r"[*?\[]", names[-1]):
        regex += "(?:/.*)?" if names else ".*"  # a plain name may be a folder: all below it
    return re.compile(regex)


def _translate_name(name: str) -> str:
    """One folder or file name of a glob as a regex that stays within that name."""
    out, i = [], 0
    while i < len(name):
        char, i = name[i], i + 1
        close = _class_end(name, i) if char == "[" else -1
        if close > 0:
            inner, i = name[i:close], close + 1
            negate = inner[:1] in ("!", "^")
            body = "".join("\\" + c if c in "\\^[]&~|" else c for c in inner[negate:])
            out.append(f"[^/{body}]" if negate else f"[{body}]")
        else:
            out.append({"*": "[^/]*", "?": "[^/]"}.get(char) or re.escape(char))
    return "".join(out)


def _class_end(name: str, start: int) -> int:
    """Index of the ``]`` closing a class opened before ``start``, or -1 (a literal ``[``)."""
    start += name[start : start + 1] in ("!", "^")
    return name.find("]", start + (name[start : start + 1] == "]"))  # a leading ] is a member
