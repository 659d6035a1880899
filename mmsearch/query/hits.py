"""What a query returns: one hit per file, its best moment, and why it matched."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from mmsearch.safe_text import path_bytes_b64


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
    probable: bool = False
    """Not confident, but likely right: shown as "probably: ..." (see mmsearch/query/gate.py)."""
    copies: tuple[str, ...] = ()
    """Other paths holding the same (or a near-identical) file, collapsed into this hit."""
    why: dict[str, Any] = field(default_factory=dict)
    """The signals that matched, their calibrated scores, matched words, what was pushed down."""
    raw_path: bytes | None = None
    """The path's bytes (``path`` shows a name that is not UTF-8 with ``\\xNN`` escapes)."""
    raw_copies: tuple[bytes | None, ...] = ()
    """The bytes of each of ``copies``, where known."""

    @property
    def level(self) -> Literal["confident", "probable", "weak"]:
        """How sure the engine is: confident, probable ("probably: ...") or weak."""
        return "confident" if self.confident else "probable" if self.probable else "weak"

    def to_json(self) -> dict[str, Any]:
        """The stable JSON shape of a hit.

        ``path_bytes_b64`` (and ``copies_bytes_b64``, one per copy) is base64 of the
        path's bytes when they are not UTF-8, else null: ``path`` is then exact.
        """
        return {
            "path": self.path,
            "path_bytes_b64": path_bytes_b64(self.raw_path),
            "score": round(self.score, 6),
            "confident": self.confident,
            "level": self.level,
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
            "copies_bytes_b64": [
                path_bytes_b64(self.raw_copies[i] if i < len(self.raw_copies) else None)
                for i in range(len(self.copies))
            ],
            "why": self.why,
        }
