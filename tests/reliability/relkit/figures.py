"""The figures each part of the suite reached, printed at the end of the pytest run."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass(slots=True)
class Figures:
    """Counts added by the tests as they pass; one summary line per part."""

    counts: Counter[str] = field(default_factory=Counter)
    notes: dict[str, list[str]] = field(default_factory=dict)
    points: set[str] = field(default_factory=set)

    def add(self, name: str, amount: int = 1) -> None:
        """Count ``amount`` more of ``name``."""
        self.counts[name] += amount

    def note(self, name: str, text: str) -> None:
        """Say something more about a part (a seed that ran, say)."""
        self.notes.setdefault(name, []).append(text)

    def __bool__(self) -> bool:
        return bool(self.counts)

    def lines(self) -> list[str]:
        """The summary."""
        c = self.counts
        out = []
        if c["crash trials"]:
            out.append(
                f"crash matrix: {len(self.points)} fault points, {c['crash trials']} killed "
                f"runs, {c['divergent catalogs']} divergent catalogs"
            )
        if c["stateful steps"]:
            out.append(
                f"stateful: {c['stateful steps']} steps in {c['stateful runs']} runs "
                f"({c['stateful kills']} runs in a subprocess with a fault armed, "
                f"{c['stateful killed']} of them killed at it; {c['stateful indexes']} runs "
                "in-process), "
                f"0 invariant violations; seeds {', '.join(self.notes.get('stateful', []))}"
            )
        if c["fuzz files"]:
            out.append(
                f"fuzz corpus: {c['fuzz files']} files ({c['fuzz mutated']} mutated), "
                "0 crashes, 0 hangs, every file accounted for "
                f"({c['fuzz done']} done, {c['fuzz skipped']} skipped, {c['fuzz failed']} failed); "
                f"seeds {', '.join(self.notes.get('fuzz', []))}"
            )
        return out


FIGURES = Figures()
