"""How well the confidence gate sorts answers: the gate section of ``mmsearch eval``.

A query's answer is its rank-1 hit, shown at one of three levels (see
:mod:`mmsearch.query.gate`): ``confident`` (listed as a result), ``probable``
(shown as "probably: ...", marked as unsure) or ``weak`` (hidden: "No confident
match"). Per group of queries the figures are:

- **kept**: of the queries whose rank-1 hit is relevant, the share shown as
  confident (the gate should keep right answers); ``shown`` adds those shown as
  probable, so ``shown - kept`` is the share of right answers a user only sees
  as "probably";
- **refused**: of the queries whose rank-1 hit is not relevant (a query with no hit
  at all counts here), the share *not* shown as confident;
- **no-answer refused**: of the queries that have no relevant file in the library
  (``--no-answer FILE``), the share not shown as confident, and ``hidden``, the
  share not shown at all (not even as probable).

Each figure is a :class:`Rate` (count of total), so a figure over no queries is
"-" rather than a made-up 0 or 1.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

Level = Literal["confident", "probable", "weak"]
LEVELS: tuple[Level, ...] = ("confident", "probable", "weak")
NONE: Level = "weak"
"""The level of a query with no hit at all: nothing shown."""


@dataclass(frozen=True, slots=True)
class Rate:
    """``count`` of ``total``; ``share`` is None when ``total`` is 0."""

    count: int
    total: int

    @property
    def share(self) -> float | None:
        """count / total, or None over no queries."""
        return self.count / self.total if self.total else None

    def to_json(self) -> dict[str, Any]:
        """``{"count", "total", "share"}`` (share rounded to 6 places, or null)."""
        share = self.share
        return {
            "count": self.count,
            "total": self.total,
            "share": None if share is None else round(share, 6),
        }

    def text(self) -> str:
        """``0.917 (11/12)``, or ``-`` over no queries."""
        share = self.share
        return "-" if share is None else f"{share:.3f} ({self.count}/{self.total})"


def _rate(levels: Sequence[Level], wanted: Iterable[Level]) -> Rate:
    chosen = set(wanted)
    return Rate(sum(1 for lv in levels if lv in chosen), len(levels))


@dataclass(frozen=True, slots=True)
class GateFigures:
    """The gate's figures for one group of queries."""

    kept: Rate
    shown: Rate
    refused: Rate
    no_answer_refused: Rate
    no_answer_hidden: Rate

    @classmethod
    def of(
        cls,
        right: Sequence[Level],
        wrong: Sequence[Level],
        no_answer: Sequence[Level] = (),
    ) -> GateFigures:
        """Figures from the rank-1 levels of right, wrong and no-answer queries."""
        return cls(
            kept=_rate(right, ("confident",)),
            shown=_rate(right, ("confident", "probable")),
            refused=_rate(wrong, ("probable", "weak")),
            no_answer_refused=_rate(no_answer, ("probable", "weak")),
            no_answer_hidden=_rate(no_answer, ("weak",)),
        )

    def to_json(self) -> dict[str, Any]:
        """The figures as ``{"kept": Rate, "shown": ..., ...}``."""
        return {
            "kept": self.kept.to_json(),
            "shown": self.shown.to_json(),
            "refused": self.refused.to_json(),
            "no_answer_refused": self.no_answer_refused.to_json(),
            "no_answer_hidden": self.no_answer_hidden.to_json(),
        }


@dataclass(frozen=True, slots=True)
class Answer:
    """One query's rank-1 answer as the gate saw it."""

    group: str
    level: Level
    right: bool | None
    """Whether the rank-1 hit is relevant; None for a no-answer query."""


def gate_by_group(
    answers: Sequence[Answer], order: Callable[[str], tuple[int, str]]
) -> dict[str, GateFigures]:
    """Gate figures overall and per group (groups sorted by ``order``)."""
    groups = sorted({a.group for a in answers}, key=order)
    out = {"overall": _figures(answers)}
    for group in groups:
        out[group] = _figures([a for a in answers if a.group == group])
    return out


def _figures(answers: Sequence[Answer]) -> GateFigures:
    return GateFigures.of(
        right=[a.level for a in answers if a.right is True],
        wrong=[a.level for a in answers if a.right is False],
        no_answer=[a.level for a in answers if a.right is None],
    )


GATE_ROWS: tuple[tuple[str, str], ...] = (
    ("kept", "right rank-1 shown confident"),
    ("shown", "right rank-1 shown (confident or probably)"),
    ("refused", "wrong rank-1 not confident"),
    ("no_answer_refused", "no-answer queries not confident"),
    ("no_answer_hidden", "no-answer queries not shown at all"),
)


def format_gate(by_group: dict[str, GateFigures]) -> list[str]:
    """The gate section of the plain-text report: one block per group."""
    lines = ["gate (rank-1 answer: confident / probably / hidden):"]
    for group, figures in by_group.items():
        lines.append(f"  {group}")
        for key, label in GATE_ROWS:
            rate: Rate = getattr(figures, key)
            lines.append(f"    {label:<44} {rate.text()}")
    return lines
