"""Query filters as SQL: which files (and so which segments) a search may return.

Filters run inside SQLite, against the catalog, so they are exact and cheap:
type and dates are plain column comparisons; extension, path globs and
``--in`` use small SQL functions registered on every catalog connection
(:mod:`mmsearch.store.sqlfunctions`); required phrases are FTS5 phrase queries.
The vector search then looks only at the allowed segment ids.
"""

from __future__ import annotations

import os
import re
import sqlite3
from dataclasses import dataclass
from typing import Any

from mmsearch.query.filtervalues import DurationRange, Filters, compile_path_glob

_ITEM_PATH = "rtrim(r.display, '/') || '/' || i.display"
_ITEM_DURATION = '(SELECT max(s2."end") FROM segments s2 WHERE s2.item_id = i.id)'


def fts_phrase(text: str) -> str:
    """``text`` as an FTS5 phrase: quoted, so no word in it is read as query syntax."""
    return '"' + text.replace('"', '""') + '"'


@dataclass(frozen=True, slots=True)
class ItemFilter:
    """Everything that restricts which files a query may return."""

    filters: Filters
    within: tuple[bytes, ...] = ()
    phrases: tuple[str, ...] = ()

    @property
    def active(self) -> bool:
        """Whether anything is restricted at all."""
        return not self.filters.is_empty() or bool(self.within) or bool(self.phrases)

    def where(self) -> tuple[str, list[Any]]:
        """A WHERE fragment over ``items i`` joined with ``roots r``, and its parameters."""
        clauses = ["i.status = 'done'"]
        params: list[Any] = []
        f = self.filters
        if f.types:
            clauses.append(f"i.media_type IN ({', '.join('?' * len(f.types))})")
            params.extend(sorted(f.types))
        if f.extensions:
            clauses.append(f"mm_ext(i.display) IN ({', '.join('?' * len(f.extensions))})")
            params.extend(sorted(f.extensions))
        if f.paths:
            # The glob's longest literal run, tested natively first, spares the Python
            # regular expression most rows (100 ms -> a few at 50,000 files for d07/**).
            ors = " OR ".join(
                f"(instr({_ITEM_PATH}, ?) > 0 AND mm_regexp(?, {_ITEM_PATH}))" for _ in f.paths
            )
            clauses.append(f"({ors})")
            for pattern in f.paths:
                params.extend([_longest_literal(pattern), compile_path_glob(pattern).pattern])
        if f.after is not None:
            clauses.append("i.mtime_ns >= ?")
            params.append(int(f.after.timestamp() * 1e9))
        if f.before is not None:
            clauses.append("i.mtime_ns < ?")
            params.append(int(f.before.timestamp() * 1e9))
        if f.duration is not None:
            sql, values = _duration_sql(f.duration)
            clauses.append(sql)
            params.extend(values)
        if self.within:
            ors = " OR ".join("mm_within(r.path, i.relpath, ?)" for _ in self.within)
            clauses.append(f"({ors})")
            params.extend(self.within)
        for phrase in self.phrases:
            clauses.append(
                "i.id IN (SELECT s3.item_id FROM segments s3 JOIN segments_fts "
                "ON segments_fts.rowid = s3.id WHERE segments_fts MATCH ?)"
            )
            params.append(fts_phrase(phrase))
        return " AND ".join(clauses), params

    def allowed_segments(self, connection: sqlite3.Connection) -> list[int]:
        """Ids of every segment of every file the filter lets through."""
        where, params = self.where()
        # Files first, then their segments: the path and extension functions run once
        # per file rather than once per segment.
        sql = (
            "SELECT s.id FROM segments s WHERE s.item_id IN "
            f"(SELECT i.id FROM items i JOIN roots r ON r.id = i.root_id WHERE {where})"
        )
        return [row[0] for row in connection.execute(sql, params)]

    def describe(self) -> list[str]:
        """One line per restriction, for ``--explain-plan``."""
        lines = list(self.filters.describe())
        lines += [f"under {os.fsdecode(folder)}" for folder in self.within]
        lines += [f'contains the words "{phrase}" in this order' for phrase in self.phrases]
        return lines


def _longest_literal(pattern: str) -> str:
    """The longest run of the glob without wildcards: every matching path contains it."""
    runs = re.split(r"\[[^\]]*\]?|[*?]", os.path.expanduser(pattern))
    return max(runs, key=len)


def _duration_sql(duration: DurationRange) -> tuple[str, list[float]]:
    parts: list[str] = []
    values: list[float] = []
    if duration.low is not None:
        parts.append(f"{_ITEM_DURATION} {'>=' if duration.low_inclusive else '>'} ?")
        values.append(duration.low)
    if duration.high is not None:
        parts.append(f"{_ITEM_DURATION} {'<=' if duration.high_inclusive else '<'} ?")
        values.append(duration.high)
    return "(" + " AND ".join(parts or ["1"]) + ")", values
