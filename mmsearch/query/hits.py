"""What a query returns: one hit per file, its best moment, and why it matched."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Hit:
    """One result: a file, its best-matching segment (its moment), the score and the reasons."""

    path: str
    score: float
    modality: str
    kind: str
    start: float | None
    end: float | None
    text: str | None
    char_start: int | None
    char_end: int | None
    item_id: int
    segment_id: int
    confident: bool = True
    """Whether any signal cleared its threshold (only weak hits, when kept, are False)."""
    copies: tuple[str, ...] = ()
    """Other paths holding the same (or a near-identical) file, collapsed into this hit."""
    why: dict[str, Any] = field(default_factory=dict)
    """The signals that matched, their calibrated scores, matched words, what was pushed down."""

    def to_json(self) -> dict[str, Any]:
        """The stable JSON shape of a hit."""
        return {
            "path": self.path,
            "score": round(self.score, 6),
            "confident": self.confident,
            "modality": self.modality,
            "segment": {
                "kind": self.kind,
                "start": self.start,
                "end": self.end,
                "text": self.text,
                "char_start": self.char_start,
                "char_end": self.char_end,
            },
            "item_id": self.item_id,
            "segment_id": self.segment_id,
            "copies": list(self.copies),
            "why": self.why,
        }
