"""The filter values of the query language: their types, their parsing and path globs.

The grammar of each filter (``type:``, ``ext:``, ``path:``, ``after:``, ``before:``,
``duration:``) is documented with the whole query language in :mod:`mmsearch.query.querylang`,
which parses queries and re-exports the public names here.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from mmsearch.contracts import MEDIA_TYPES
from mmsearch.errors import UsageError

FILTER_KEYS = ("type", "ext", "path", "after", "before", "duration")
_TYPE_ALIASES: dict[str, str] = {
    **{t: t for t in MEDIA_TYPES}, **{f"{t}s": t for t in MEDIA_TYPES},
    "photo": "image", "photos": "image", "doc": "text", "docs": "text",
    "document": "text", "documents": "text", "sound": "audio", "sounds": "audio",
    "speech": "audio", "recording": "audio", "recordings": "audio",
}  # fmt: skip
NUMBER = re.compile(r"\d+(?:\.\d+)?|\.\d+")
_AGE = re.compile(r"(\d+(?:\.\d+)?)([hdwmy])")
_AGE_SECONDS = {"h": 3600, "d": 86400, "w": 7 * 86400, "m": 30 * 86400, "y": 365 * 86400}
_DAY = re.compile(r"(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?")
_CLOCK = re.compile(r"(\d+):(\d{1,2})(?::(\d{1,2}))?")
_AMOUNT = re.compile(r"(\d+(?:\.\d+)?|\.\d+)(ms|h|m|s)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
EXAMPLES = {
    "type": ("image", "audio,video"),
    "ext": ("jpg", "jpg,.png"),
    "path": ("holidays/**", "~/my photos/*.jpg"),
    "after": ("2023", "2023-05-01", "2023-05-01T10:00", "30d"),
    "before": ("2023", "2023-05-01", "2023-05-01T10:00", "30d"),
    "duration": ("<60s", ">=2m", "10s..2m"),
}


class BadValue(Exception):
    """A wrong filter value; offsets are into the value, examples are values to suggest."""

    def __init__(
        self, message: str, start: int, end: int, hint: str = "", examples: tuple[str, ...] = ()
    ) -> None:
        super().__init__(message)
        self.message, self.start, self.end, self.hint = message, start, end, hint
        self.examples = examples


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
        if empty := empty_dates(found):
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


def empty_dates(filters: Filters) -> str:
    """What is wrong when after/before leave no time at all, else ''."""
    after, before = filters.after, filters.before
    if after is None or before is None or after < before:
        return ""
    return f"nothing is on or after {_show(after)} and also before {_show(before)}"


def compile_path_glob(pattern: str) -> re.Pattern[str]:
    """The regex (for ``fullmatch`` on absolute ``/`` paths) of a ``path:`` glob."""
    return _compile_glob(os.path.expanduser(pattern))


def parse_value(key: str, value: str, now: datetime | None) -> Filters:
    """One filter's value; raises BadValue with offsets into the value."""
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
            raise BadValue("empty item in the list", at, at, "Separate values with one comma.")
        items.append(parse(item, at))
        at += len(item) + 1
    return items


def _media_type(item: str, at: int) -> str:
    if (media := _TYPE_ALIASES.get(item.lower())) is None:
        hint = "Types are image, audio, text and video (also photo, doc, sound, speech)."
        raise BadValue(f"unknown type '{item}'", at, at + len(item), hint)
    return media


def _extension(item: str, at: int) -> str:
    extension = item.lower().removeprefix(".")
    if not extension.isalnum():
        hint = "An extension is letters and digits, with or without the dot."
        raise BadValue(f"'{item}' is not a file extension", at, at + len(item), hint, ("jpg,.png",))
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
            raise BadValue(f"'{value}' reaches back too far", 0, len(value)) from None
        raise BadValue(f"'{value}' is not a date", 0, len(value), hint, EXAMPLES["after"]) from None


def _duration(value: str) -> DurationRange:
    """``<60s``, ``<=60s``, ``>10m``, ``>=1h`` or a range ``10s..2m``, either end open."""
    if ".." in value:
        cut = value.index("..")
        low, high = value[:cut], value[cut + 2 :]
        if not (low or high):
            raise BadValue("a range needs at least one end", 0, 2, "", ("10s..2m", "..2m"))
        found = DurationRange(
            _seconds(low, 0) if low else None, _seconds(high, cut + 2) if high else None
        )
        if found.is_empty():
            hint = "Put the shorter duration first."
            raise BadValue("the range is empty", 0, len(value), hint, (f"{high}..{low}",))
        return found
    operator = re.match(r"[<>]=?", value)
    if operator is None:
        s = _seconds(value, 0)
        examples = (f"<{s:g}s", f">{s:g}s", f"{_short(s * 5 / 6)}s..{_short(s * 7 / 6)}s")
        raise BadValue("a duration needs a comparison or a range", 0, len(value), "", examples)
    amount, op = _seconds(value[operator.end() :], operator.end()), operator.group()
    if op.startswith(">"):
        return DurationRange(low=amount, low_inclusive=op == ">=")
    return DurationRange(high=amount, high_inclusive=op == "<=")


def _short(seconds: float) -> str:
    return f"{round(seconds, 1):g}"


def _seconds(text: str, at: int) -> float:
    """Seconds in ``90``, ``1.5m``, ``1h30m``, ``500ms``, ``1:30`` (m:ss) or ``1:02:03``."""
    if NUMBER.fullmatch(text):
        return float(text)
    clock = _CLOCK.fullmatch(text)
    if clock and all(int(n) < 60 for n in clock.groups()[1:] if n is not None):
        values = [int(n) for n in clock.groups() if n is not None]
        return float(sum(n * 60**i for i, n in enumerate(reversed(values))))
    if text and re.fullmatch(f"(?:{_AMOUNT.pattern})+", text):
        return sum(float(n) * _UNIT_SECONDS[unit] for n, unit in _AMOUNT.findall(text))
    hint = "Amounts look like 500ms, 90s, 1.5m, 2h, 1h30m or 1:30 (m:ss)."
    what = f"'{text}' is not a duration" if text else "the amount is missing"
    raise BadValue(what, at, at + len(text), hint)


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
