"""The query file of ``mmsearch eval``: reading and checking it.

``mmsearch eval QUERIES.jsonl`` runs every query of a JSON-lines file and
reports recall@1/5/10, MRR and nDCG@10, overall and per modality. One JSON
object per line; blank lines and lines starting with ``#`` are ignored::

    {"query": "red car by the harbour", "relevant": ["photos/car.jpg"]}
    {"image": "examples/cat.jpg", "relevant": ["photos/chelsea.png"], "modality": "image"}
    {"audio": "clips/q.wav", "relevant": [{"path": "talks/budget.opus", "start": 60, "end": 90}]}
    {"query": "invoice 12345", "relevant": ["docs/invoice.pdf"], "id": "inv-1"}

Keys:

- ``query`` (text), ``image`` or ``audio`` (an example file, which must exist):
  at least one; text may be mixed with one example file, not ``image`` with ``audio``.
- ``relevant``: the files a good search finds, at least one. Each is a path,
  or ``{"path": ..., "start": s, "end": e}`` in seconds: then a hit counts only
  if its moment overlaps [start, end] (touching counts), and a hit without a
  time does not count. Either bound may be left out.
- ``modality`` (image, audio, text or video): the group of the query in the
  per-modality table. Without it, the media type of the first relevant file.
- ``id``: the name of the query in the per-query listing (default "line N").

Relative paths resolve against the folder of the query file and ``~`` is
expanded; paths are compared after ``abspath``/``normpath`` (links are not
followed). Any other key, ``k`` included (the cut-offs are fixed), is an error.

``eval --no-answer FILE`` reads queries that have no relevant file in the library
(nonsense, off-topic) in the same format, without ``relevant``; only the gate figures
(:mod:`mmsearch.query.gatefigures`) count them.

How the hits are judged and the metrics computed: :mod:`mmsearch.query.evaluation`.

Problems are reported as ``FILE:LINE: what is wrong. What to do``, all lines at once.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from mmsearch.errors import UsageError

MODALITIES: tuple[str, ...] = ("text", "image", "audio", "video")
"""The groups a query may name: the media types (``MEDIA_TYPES``), in report order."""
"""Allowed ``modality`` values, in the order the per-modality tables list them."""
_KEYS = frozenset({"query", "image", "audio", "relevant", "modality", "id"})
_RELEVANT_KEYS = frozenset({"path", "start", "end"})
_MAX_LISTED = 10


class EvalFileError(UsageError):
    """The query file is missing or has invalid lines; ``problems`` lists every one."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        listed = self.problems[:_MAX_LISTED]
        more = len(self.problems) - len(listed)
        lines = listed + ([f"... and {more} more"] if more else [])
        if len(self.problems) > 1:
            lines.insert(0, f"{len(self.problems)} problems in the query file:")
        super().__init__("\n".join(lines))


@dataclass(frozen=True, slots=True)
class Relevant:
    """A file (or a moment of one) that a query should find."""

    path: str
    start: float | None = None
    end: float | None = None


@dataclass(frozen=True, slots=True)
class EvalQuery:
    """One line of the query file, validated, with absolute paths."""

    line: int
    id: str
    text: str | None
    image: str | None
    audio: str | None
    relevant: tuple[Relevant, ...]
    modality: str | None


def normalise_path(path: str) -> str:
    """A path as the query file and the hits are compared: absolute, normalised."""
    return os.path.normpath(os.path.abspath(path))


def _resolve(path: str, base: str) -> str:
    return normalise_path(os.path.join(base, os.path.expanduser(path)))


def _type(value: object) -> str:
    return "null" if value is None else type(value).__name__


def _seconds(entry: dict[str, Any], key: str, where: str, problems: list[str]) -> float | None:
    value = entry.get(key)
    if value is None:
        return None
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value < 0:
        problems.append(f"{where}.{key} must be a number of seconds >= 0, got {value!r}. Fix it")
        return None
    return float(value)


def _relevant_entry(raw: object, where: str, base: str, problems: list[str]) -> Relevant | None:
    if isinstance(raw, str) and raw:
        return Relevant(_resolve(raw, base))
    if not isinstance(raw, dict):
        problems.append(
            f"{where} must be a path or an object with path/start/end, got {raw!r}. "
            'Write "photos/a.jpg" or {"path": "talk.opus", "start": 60, "end": 90}'
        )
        return None
    for key in sorted(set(raw) - _RELEVANT_KEYS):
        problems.append(f"{where} has unknown key {key!r}. Use only path, start and end")
    path = raw.get("path")
    if not isinstance(path, str) or not path:
        problems.append(f"{where} needs a non-empty 'path' string, got {path!r}. Add the file")
    start, end = _seconds(raw, "start", where, problems), _seconds(raw, "end", where, problems)
    if start is not None and end is not None and start > end:
        problems.append(f"{where} has start {start:g} after end {end:g}. Swap or fix them")
    if not isinstance(path, str) or not path:
        return None
    return Relevant(_resolve(path, base), start, end)


def _relevant(obj: dict[str, Any], base: str, problems: list[str]) -> tuple[Relevant, ...]:
    raw = obj.get("relevant")
    if raw is None:
        problems.append('no \'relevant\' list. Add "relevant": ["path/of/the/expected/file"]')
        return ()
    if not isinstance(raw, list):
        problems.append(f"'relevant' must be a list, got {_type(raw)}. Write [\"path\", ...]")
        return ()
    if not raw:
        problems.append("'relevant' is empty. List at least one file the query should find")
    entries = (_relevant_entry(r, f"relevant[{i}]", base, problems) for i, r in enumerate(raw))
    return tuple(r for r in entries if r is not None)


def _string(obj: dict[str, Any], key: str, problems: list[str]) -> str | None:
    value = obj.get(key)
    if value is None or (isinstance(value, str) and value.strip()):
        return value
    problems.append(f"'{key}' must be a non-empty string, got {value!r}. Fix or remove it")
    return None


def _example(obj: dict[str, Any], key: str, base: str, problems: list[str]) -> str | None:
    value = _string(obj, key, problems)
    if value is None:
        return None
    path = _resolve(value, base)
    if not os.path.isfile(path):
        problems.append(
            f"example {key} not found: {path}. Fix the path (relative to the query file's folder)"
        )
    return path


def _inputs(obj: dict[str, Any], base: str, problems: list[str]) -> tuple[str | None, ...]:
    given = {k for k in ("query", "image", "audio") if obj.get(k) is not None}
    if {"image", "audio"} <= given:
        problems.append("has both 'image' and 'audio'. Give one example file a query; split it")
    elif not given:
        problems.append("has no 'query', 'image' or 'audio'. Add the text or example to search")
    text = _string(obj, "query", problems)
    return text, _example(obj, "image", base, problems), _example(obj, "audio", base, problems)


def _keys(obj: dict[str, Any], problems: list[str]) -> None:
    for key in sorted(obj.keys() - _KEYS):
        if key == "k":
            problems.append("'k' is not supported (metrics are fixed at 1, 5 and 10). Remove it")
        else:
            problems.append(f"unknown key {key!r}. Use only {', '.join(sorted(_KEYS))}")


def _modality(obj: dict[str, Any], problems: list[str]) -> str | None:
    value = obj.get("modality")
    if value is None or value in MODALITIES:
        return value
    problems.append(f"'modality' must be one of {', '.join(MODALITIES)}, got {value!r}. Fix it")
    return None


def _no_relevant(obj: dict[str, Any], problems: list[str]) -> tuple[Relevant, ...]:
    if obj.get("relevant") not in (None, []):
        problems.append(
            "a no-answer query lists 'relevant' files. Remove 'relevant' (this file holds "
            "queries with no right answer in the library) or move the line to the query file"
        )
    return ()


def _parse_line(
    text: str, line: int, base: str, problems: list[str], no_answer: bool = False
) -> EvalQuery | None:
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        problems.append(
            f"not valid JSON at column {exc.colno}: {exc.msg}. "
            "Write one JSON object per line (lines starting with # are comments)"
        )
        return None
    if not isinstance(obj, dict):
        problems.append(f'expected a JSON object, got {_type(obj)}. Write {{"query": ...}}')
        return None
    _keys(obj, problems)
    text_in, image, audio = _inputs(obj, base, problems)
    relevant = _no_relevant(obj, problems) if no_answer else _relevant(obj, base, problems)
    modality = _modality(obj, problems)
    qid = _string(obj, "id", problems) or f"line {line}"
    return EvalQuery(line, qid, text_in, image, audio, relevant, modality)


def _read(path: str) -> list[str]:
    try:
        with open(path, encoding="utf-8") as f:
            return f.read().splitlines()
    except FileNotFoundError:
        raise EvalFileError([f"{path}: no such query file. Check the path"]) from None
    except IsADirectoryError:
        raise EvalFileError([f"{path}: is a folder. Give the .jsonl query file"]) from None
    except UnicodeDecodeError as exc:
        msg = f"{path}: not UTF-8 text (byte {exc.start}). Save the file as UTF-8"
        raise EvalFileError([msg]) from None
    except OSError as exc:
        raise EvalFileError([f"{path}: cannot be read ({exc.strerror}). Check it"]) from None


def load_queries(path: str | os.PathLike[str], *, no_answer: bool = False) -> list[EvalQuery]:
    """Read and validate a query file; raise :class:`EvalFileError` listing every bad line.

    ``no_answer``: the file of ``eval --no-answer``, queries with no relevant file in the
    library (nonsense, off-topic): the same format without ``relevant``.
    """
    name = os.fspath(path)
    base = os.path.dirname(normalise_path(name))
    queries: list[EvalQuery] = []
    problems: list[str] = []
    seen: dict[str, int] = {}
    for number, text in enumerate(_read(name), start=1):
        if not text.strip() or text.lstrip().startswith("#"):
            continue
        found: list[str] = []
        query = _parse_line(text, number, base, found, no_answer)
        if query is not None and query.id in seen:
            found.append(f"id {query.id!r} is also used on line {seen[query.id]}. Make ids unique")
        problems.extend(f"{name}:{number}: {p}" for p in found)
        if query is not None and not found:
            seen[query.id] = number
            queries.append(query)
    if problems:
        raise EvalFileError(problems)
    if not queries:
        example = '{"query": "..."}' if no_answer else '{"query": "...", "relevant": ["file"]}'
        raise EvalFileError([f"{name}: no queries. Add lines like {example}"])
    return queries
