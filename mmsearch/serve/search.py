"""Running a query for the API: the CLI's flags as parameters, uploads as examples.

Both ``GET`` and ``POST /api/v1/search`` build the request with the CLI's own helpers
(``search_options``, the filter flags), so a parameter means exactly what its flag means.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mmsearch.errors import UsageError

FILTER_KEYS = ("type", "ext", "path", "after", "before", "duration")


class UploadTooLargeError(Exception):
    """An upload is over the server's cap (413)."""


@dataclass(slots=True)
class SearchParams:
    """Every option of ``mmsearch query``, by its flag's name."""

    q: str | None = None
    k: int = 10
    filters: dict[str, list[str]] = field(default_factory=dict)
    within: list[str] = field(default_factory=list)
    fusion: str = "score"
    signals: str = "both"
    min_score: float | None = None
    show_weak: bool = False
    rerank: list[str] = field(default_factory=list)
    no_rerank: list[str] = field(default_factory=list)
    diverse: bool = False
    diversity: float | None = None
    temperature: float | None = None
    space: list[str] = field(default_factory=list)
    max_image_megapixels: float = 100.0

    def request(self, examples: Sequence[Any] = ()) -> dict[str, Any]:
        """The keyword arguments of :meth:`Library.search` these stand for."""
        from mmsearch.cli.search import filters_from_flags, search_options
        from mmsearch.query.names import SIGNALS

        options = search_options(
            k=self.k, fusion=self.fusion, min_score=self.min_score, keep_weak=self.show_weak,
            signals=SIGNALS if self.signals == "both" else (self.signals,),
            rerank=tuple(self.rerank) + (("mmr",) if self.diverse or self.diversity is not None
                                         else ()),
            no_rerank=tuple(self.no_rerank), diversity=self.diversity,
            temperature=self.temperature, spaces=tuple(self.space),
            max_image_megapixels=self.max_image_megapixels,
        )  # fmt: skip
        flags = {key: tuple(self.filters.get(key, ())) for key in FILTER_KEYS}
        return {
            "examples": list(examples),
            "filters": filters_from_flags(flags),
            "within": list(self.within),
            "options": options,
        }

    def check(self, max_chars: int) -> None:
        """Refuse an empty query, or one over the length cap (400)."""
        if self.q is not None and len(self.q) > max_chars:
            raise UsageError(
                f"The query is {len(self.q)} characters long; this server takes at most "
                f"{max_chars}. Shorten it."
            )


@dataclass(slots=True)
class Upload:
    """An example file sent with a query, and the path the client named it by."""

    kind: str
    """``image`` or ``audio``."""
    spec: str
    """The client's ``[WEIGHT:]PATH`` (its path absolute), for weights and for the answer."""
    read: Any
    """An async callable ``read(n) -> bytes`` over the upload."""


async def save_uploads(uploads: Sequence[Upload], folder: Path, cap: int) -> list[tuple[Any, str]]:
    """Write uploads to ``folder`` under their own names; (Example, client's path) each."""
    from mmsearch.query.planner import Example

    saved: list[tuple[Any, str]] = []
    total = 0
    for number, upload in enumerate(uploads):
        given = Example.parse(upload.spec)
        name = re.sub(r"[^\w.\-]", "_", os.path.basename(given.path))[:100] or upload.kind
        target = folder / str(number) / name  # the basename stays: plans label examples by it
        target.parent.mkdir()
        with open(target, "wb") as out:
            while chunk := await upload.read(1 << 20):
                total += len(chunk)
                if total > cap:
                    raise UploadTooLargeError(
                        f"The uploaded examples are over this server's cap of {cap:,} bytes; "
                        "send a smaller file (or restart the server with a larger "
                        "--max-upload-mb)."
                    )
                out.write(chunk)
        saved.append((Example(str(target), given.weight, given.negative), given.path))
    return saved


def relabel(shaped: Any, names: dict[str, str]) -> Any:
    """The answer with each saved upload's path replaced by the path the client gave."""
    if isinstance(shaped, str):
        return names.get(shaped, shaped)
    if isinstance(shaped, list):
        return [relabel(v, names) for v in shaped]
    if isinstance(shaped, dict):
        return {k: relabel(v, names) for k, v in shaped.items()}
    return shaped


def upload_folder() -> tempfile.TemporaryDirectory[str]:
    """A private folder for one request's uploads, removed after it."""
    return tempfile.TemporaryDirectory(prefix="mmsearch-upload-")
