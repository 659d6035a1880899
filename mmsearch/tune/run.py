"""One tune run: labels from a query file and from feedback, fitted and judged for a space."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mmsearch.contracts import Encoder
from mmsearch.errors import UsageError
from mmsearch.index.encoding import encode_all
from mmsearch.query.calibration import Calibration
from mmsearch.query.evalfile import EvalQuery
from mmsearch.query.spacesearch import calibration_key
from mmsearch.store.catalog import Catalog, SpaceInfo
from mmsearch.store.tuning import FeedbackRow, item_id_of, save_adapter, space_item_vectors
from mmsearch.tune.crossval import MIN_LABELS, TuneFigures, cross_validate, fit_final
from mmsearch.tune.fit import Items, Labels

DEFAULT_NAME = "default"


@dataclass(frozen=True, slots=True)
class Judgement:
    """One label: a query text, an item id, good or bad."""

    query: str
    item_id: int
    good: bool


@dataclass
class TuneReport:
    """What a tune run did for one space."""

    space_id: int
    encoder: str
    name: str
    figures: TuneFigures
    skipped: list[str] = field(default_factory=list)

    @property
    def activated(self) -> bool:
        """Whether the adapter is now the space's active one."""
        return self.figures.activate

    def to_json(self) -> dict[str, Any]:
        """``{"space", "encoder", "name", "activated", "figures", "skipped"}``."""
        return {"space": self.space_id, "encoder": self.encoder, "name": self.name,
                "activated": self.activated, "figures": self.figures.to_json(),
                "skipped": list(self.skipped)}  # fmt: skip


def judgements_from_queries(
    catalog: Catalog, queries: Sequence[EvalQuery], source: str
) -> tuple[list[Judgement], list[str]]:
    """Good labels from an eval-format file; text-less queries are skipped (and said so).

    A relevant file that is not in the library is an error naming each one.
    """
    out: list[Judgement] = []
    skipped: list[str] = []
    missing: list[str] = []
    for query in queries:
        if not query.text or query.image or query.audio:
            skipped.append(f"{source}:{query.line}: not a plain text query (tune adapts text)")
            continue
        for rel in query.relevant:
            item = item_id_of(catalog, os.fsencode(rel.path))
            if item is None:
                missing.append(f"{source}:{query.line}: {rel.path} is not in the library")
            else:
                out.append(Judgement(query.text, item, True))
    if missing:
        shown = missing[:10] + ([f"... and {len(missing) - 10} more"] if len(missing) > 10 else [])
        raise UsageError(
            "\n".join(shown)
            + "\nIndex those files (mmsearch index FOLDER) or fix the paths in the label file."
        )
    return out, skipped


def judgements_from_feedback(rows: Sequence[FeedbackRow]) -> list[Judgement]:
    """Labels from stored feedback."""
    return [Judgement(r.query, r.item_id, r.good) for r in rows]


def tune_space(
    catalog: Catalog,
    space: SpaceInfo,
    encoder: Encoder,
    judgements: Sequence[Judgement],
    *,
    name: str = DEFAULT_NAME,
    folds: int = 5,
    rank: int = 8,
    seed: int = 0,
) -> TuneReport:
    """Fit, cross-validate and store an adapter for ``space``; active only if it helps."""
    good = [j for j in judgements if j.good]
    if len(good) < MIN_LABELS or len({j.query for j in good}) < 2:
        raise UsageError(
            f"Only {len(good)} good labels over {len({j.query for j in good})} query texts: "
            f"tune needs at least {MIN_LABELS} over 2 or more queries. Add lines to the label "
            "file or mark results with `mmsearch feedback QUERY PATH --good`."
        )
    owners, modalities, segments = space_item_vectors(catalog, space.id, space.dim)
    item_ids, owner_index = np.unique(owners, return_inverse=True)
    index_of = {int(i): n for n, i in enumerate(item_ids.tolist())}
    known = [j for j in judgements if j.item_id in index_of]
    skipped = [f"{j.query!r}: its file has no vector in this space" for j in judgements
               if j.item_id not in index_of]  # fmt: skip
    texts = sorted({j.query for j in known})
    encoded = encode_all(encoder, "text", texts)
    vector_of = {t: encoded.vectors[i] for i, t in enumerate(texts) if not encoded.errors[i]}
    usable = [j for j in known if j.query in vector_of]
    group_of = {t: n for n, t in enumerate(texts)}
    labels, groups, bad_groups = _labels(usable, vector_of, index_of, group_of, space.dim)
    mean, std = _nulls(catalog, space, modalities)
    items = Items(segments, owner_index.astype(np.int64), len(item_ids), mean, std)
    figures = cross_validate(labels, groups, bad_groups, items, folds=folds, rank=rank, seed=seed)
    adapter = fit_final(labels, items, rank=rank, seed=seed)
    report = TuneReport(space.id, space.encoder_id, name, figures, skipped)
    save_adapter(catalog, space.id, name, adapter.to_bytes(), json.dumps(report.to_json()),
                 activate=figures.activate)  # fmt: skip
    return report


def _nulls(
    catalog: Catalog, space: SpaceInfo, modalities: Sequence[str]
) -> tuple[np.ndarray, np.ndarray]:
    """Each segment's null mean and spread, from the space's stored calibration."""
    raw = catalog.setting(calibration_key(space))
    calibration = Calibration.from_json(raw) if raw else None
    if calibration is None:
        raise UsageError(
            f"Space {space.id} has no calibration yet; run `mmsearch index FOLDER` (or one "
            "query) first, then tune."
        )
    nulls = [calibration.null(m) for m in modalities]
    mean = np.asarray([n.mean for n in nulls], dtype=np.float32)
    std = np.asarray([n.std for n in nulls], dtype=np.float32)
    return mean, std


def _labels(
    usable: Sequence[Judgement],
    vector_of: dict[str, np.ndarray],
    index_of: dict[int, int],
    group_of: dict[str, int],
    dim: int,
) -> tuple[Labels, np.ndarray, np.ndarray]:
    good = [j for j in usable if j.good]
    bad = [j for j in usable if not j.good]

    def matrix(rows: Sequence[Judgement]) -> np.ndarray:
        if not rows:
            return np.empty((0, dim), dtype=np.float32)
        return np.stack([vector_of[j.query] for j in rows]).astype(np.float32)

    def targets(rows: Sequence[Judgement]) -> np.ndarray:
        return np.asarray([index_of[j.item_id] for j in rows], dtype=np.int64)

    labels = Labels(matrix(good), targets(good), matrix(bad), targets(bad))
    groups = np.asarray([group_of[j.query] for j in good], dtype=np.int64)
    bad_groups = np.asarray([group_of[j.query] for j in bad], dtype=np.int64)
    return labels, groups, bad_groups
