"""The outcome of an index run, and how paths are shown to people."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from mmsearch.safe_text import path_bytes_b64


def display_path(path: bytes) -> str:
    """A printable form of a path: valid UTF-8 as is, other bytes as ``\\xNN`` escapes."""
    return path.decode("utf-8", errors="backslashreplace")


@dataclass(frozen=True, slots=True)
class FileProblem:
    """A file that was skipped or failed, and why."""

    path: str
    reason: str
    detail: str
    raw_path: bytes | None = None
    """The path's bytes (``path`` shows a name that is not UTF-8 with ``\\xNN`` escapes)."""

    def to_json(self) -> dict[str, Any]:
        """``path``, ``path_bytes_b64`` (base64 when not UTF-8, else null) and ``reason``."""
        return {
            "path": self.path,
            "path_bytes_b64": path_bytes_b64(self.raw_path),
            "reason": self.detail,
        }


@dataclass(slots=True)
class IndexReport:
    """Counts and problems of one ``index`` run. ``to_json`` is a stable shape."""

    indexed: int = 0
    unchanged: int = 0
    moved: int = 0
    removed: int = 0
    reembedded: int = 0
    """Files already indexed that got vectors in a new space."""
    segments: int = 0
    skipped: list[FileProblem] = field(default_factory=list)
    failed: list[FileProblem] = field(default_factory=list)
    partial: list[FileProblem] = field(default_factory=list)
    """Files indexed without one of their extractors' segments (it failed or skipped)."""
    unavailable: list[FileProblem] = field(default_factory=list)
    """Roots refused as missing, empty or replaced: nothing under them changed (exit 1)."""
    seconds: float = 0.0
    space: str | None = None

    def skipped_counts(self) -> dict[str, int]:
        """How many files were skipped for each reason."""
        return dict(sorted(Counter(p.reason for p in self.skipped).items()))

    def to_json(self) -> dict[str, Any]:
        """The machine-readable summary printed by ``mmsearch index --json``."""
        return {
            "indexed": self.indexed,
            "unchanged": self.unchanged,
            "moved": self.moved,
            "removed": self.removed,
            "reembedded": self.reembedded,
            "segments": self.segments,
            "skipped": self.skipped_counts(),
            "failed": [p.to_json() for p in self.failed],
            "partial": [p.to_json() for p in self.partial],
            "unavailable": [p.to_json() for p in self.unavailable],
            "seconds": round(self.seconds, 3),
            "space": self.space,
        }

    def summary_lines(self) -> list[str]:
        """A short human summary, one fact a line."""
        lines = [
            f"indexed {self.indexed} files ({self.segments} segments), "
            f"{self.unchanged} unchanged, {self.moved} moved, {self.removed} removed "
            f"in {self.seconds:.1f}s"
        ]
        if self.reembedded:
            lines.append(f"re-embedded {self.reembedded} files into {self.space}")
        for reason, count in self.skipped_counts().items():
            lines.append(f"skipped {count}: {reason}")
        if self.failed:
            lines.append(f"failed {len(self.failed)} (listed above)")
        if self.partial:
            lines.append(f"partly indexed {len(self.partial)} (listed above)")
        if self.unavailable:
            lines.append(f"refused {len(self.unavailable)} root(s): unavailable (said above)")
        return lines
