"""Cross-validated before/after figures, and the rule that decides whether to activate.

Labels are split into ``folds`` groups *by query text* (two labels of one query never
sit on both sides), an adapter is fitted on all groups but one and scored on the one
left out, for each group in turn: every figure is on pairs the adapter never saw.
The adapter fitted on all labels is activated only when the held-out MRR rose by at
least :data:`MIN_GAIN` and no fewer folds improved than got worse; on noise (shuffled
labels) held-out MRR does not rise, and tune refuses.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from mmsearch.query.adapter import QueryAdapter
from mmsearch.tune.fit import Items, Labels, fit_adapter, item_scores

MIN_GAIN = 0.02
MIN_LABELS = 4


@dataclass(frozen=True, slots=True)
class TuneFigures:
    """Held-out figures before and after, and the decision."""

    labels: int
    queries: int
    folds: int
    mrr_before: float
    mrr_after: float
    recall_1_before: float
    recall_1_after: float
    folds_better: int
    folds_worse: int
    activate: bool

    def to_json(self) -> dict[str, float | int | bool]:
        """The figures as stored with the adapter and printed by ``tune --json``."""
        return {k: round(v, 6) if isinstance(v, float) else v for k, v in asdict(self).items()}


def ranks(queries: np.ndarray, targets: np.ndarray, items: Items) -> np.ndarray:
    """The 1-based rank of each query's target among all items (ties counted against)."""
    scores = item_scores(queries, items)
    right = scores[np.arange(len(targets)), targets]
    found: np.ndarray = 1 + (scores > right[:, None]).sum(axis=1)
    return found


def _subset(labels: Labels, mask: np.ndarray, bad_mask: np.ndarray) -> Labels:
    return Labels(labels.queries[mask], labels.targets[mask],
                  labels.bad_queries[bad_mask], labels.bad_targets[bad_mask])  # fmt: skip


def cross_validate(
    labels: Labels,
    groups: np.ndarray,
    bad_groups: np.ndarray,
    items: Items,
    *,
    folds: int = 5,
    rank: int = 8,
    seed: int = 0,
) -> TuneFigures:
    """k-fold figures; ``groups[i]`` is the query group of good label i (bad_groups: of bad)."""
    unique = np.unique(groups)
    folds = max(2, min(folds, len(unique)))
    order = np.random.default_rng(seed).permutation(unique)
    fold_of = {int(g): i % folds for i, g in enumerate(order.tolist())}
    label_fold = np.array([fold_of[int(g)] for g in groups])
    bad_fold = np.array([fold_of.get(int(g), -1) for g in bad_groups], dtype=np.int64)
    before = np.zeros(len(groups))
    after = np.zeros(len(groups))
    better = worse = 0
    for fold in range(folds):
        held = label_fold == fold
        train = _subset(labels, ~held, bad_fold != fold)
        adapter = fit_adapter(train, items, rank=rank, seed=seed)
        q, t = labels.queries[held], labels.targets[held]
        before[held] = ranks(q, t, items)
        after[held] = ranks(adapter.apply(q), t, items)
        gain = float((1 / after[held]).mean() - (1 / before[held]).mean())
        better += gain > 1e-9
        worse += gain < -1e-9
    mrr_b, mrr_a = float((1 / before).mean()), float((1 / after).mean())
    activate = mrr_a - mrr_b >= MIN_GAIN and better >= worse
    return TuneFigures(
        labels=len(groups), queries=len(unique), folds=folds, mrr_before=mrr_b, mrr_after=mrr_a,
        recall_1_before=float((before == 1).mean()), recall_1_after=float((after == 1).mean()),
        folds_better=better, folds_worse=worse, activate=activate,
    )  # fmt: skip


def fit_final(labels: Labels, items: Items, *, rank: int = 8, seed: int = 0) -> QueryAdapter:
    """The adapter fitted on every label (what is stored)."""
    return fit_adapter(labels, items, rank=rank, seed=seed)
