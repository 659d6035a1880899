"""Running the hostile corpus through a real library, and judging the outcome.

The rule it checks: every bad file is skipped or failed with a short reason
and a detail that says what to do, and nothing crashes. A plugin that lets an
exception escape for a bad file shows up as one of the engine's catch-all
reasons (:data:`CRASH_REASONS`), so that counts as a crash here, as does a
valid file that an installed extractor claims but that did not get indexed.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mmsearch.contracts import Encoder, Extractor, ExtractSettings
from mmsearch.testing.media import HostileCorpus, write_hostile_media
from mmsearch.testing.registration import Plugin, open_library

if TYPE_CHECKING:
    from mmsearch.index.report import IndexReport

CRASH_REASONS = frozenset({"extractor error", "unreadable file"})
"""Reasons the engine gives when a plugin raised instead of raising ``SkipFile``.

Every corpus file is readable, so "unreadable file" (the engine's reason for an
``OSError``) means the plugin let a decoder's ``OSError`` escape: Pillow raises
those for truncated and unidentified images, and the user would be told to
check permissions that are fine.
"""


@dataclass(frozen=True, slots=True)
class HostileRun:
    """The corpus, what the run reported, and which extensions the extractors claim."""

    corpus: HostileCorpus
    report: IndexReport
    claimed: frozenset[str]

    def problems(self) -> list[str]:
        """Each broken rule, in words; empty when the plugin passed."""
        reported = {p.path: p for p in [*self.report.skipped, *self.report.failed]}
        out = [
            f"{p.path}: {p.reason} ({p.detail})"
            for p in reported.values()
            if p.reason in CRASH_REASONS
            # "cannot embed" is the engine refusing a modality the encoder lacks, not a crash.
            or (p.reason == "encoder error" and "cannot embed" not in p.detail)
        ]
        out.extend(
            f"{p.path}: the reason {p.reason!r} comes without a detail saying what to do"
            for p in reported.values()
            if not p.reason.strip() or not p.detail.strip() or p.detail.strip() == p.reason
        )
        for hostile in self.corpus.files:
            problem = reported.get(_display(hostile.path))
            if hostile.expect == "reason" and problem is None:
                out.append(f"{hostile.path.name} ({hostile.hazard}) was indexed without a reason")
            claimed = _extension(hostile.path) in self.claimed
            if hostile.expect == "indexed" and claimed and problem is not None:
                out.append(
                    f"{os.fsdecode(hostile.path.name)} ({hostile.hazard}) is valid but was "
                    f"not indexed: {problem.reason} ({problem.detail})"
                )
        return out


def _display(path: Path) -> str:
    return os.fsencode(os.path.abspath(path)).decode("utf-8", "backslashreplace")


def _extension(path: Path) -> str:
    return path.suffix.lstrip(".").lower()


def run_hostile_corpus(
    folder: Path,
    *,
    extractors: Sequence[Extractor],
    encoder: Encoder,
    samples: Iterable[Path] = (),
) -> HostileRun:
    """Write the corpus under ``folder``, index it with these plugins, and return the outcome.

    The run uses a 1 MP image cap (the corpus's bomb is over it) and follows
    folder symlinks (so the corpus's loop is walked into and must be caught).
    """
    from mmsearch.index.indexer import IndexOptions

    corpus = write_hostile_media(folder / "hostile", samples)
    plugin = Plugin(extractors=extractors, encoders=[encoder], name="under-test")
    options = IndexOptions(
        settings=ExtractSettings(max_image_megapixels=1.0), follow_symlinks=True, workers=2
    )
    with open_library(folder / "catalog" / "catalog.db", plugin) as library:
        report = library.index(corpus.root, options=options)
    claimed = frozenset(ext for extractor in extractors for ext in extractor.extensions)
    return HostileRun(corpus, report, claimed)
