"""Fitting a :class:`~mmsearch.tune.adapter.QueryAdapter` with a contrastive loss, in torch.

Each label is a query vector and the item it should find. The loss is the cross
entropy of the right item among all the space's items, each item scored by its
best segment's calibrated score (as search scores files), at :data:`TEMPERATURE`; a bad
label (feedback ``--bad``) adds a hinge that keeps that item below the query's
right answers. Weight decay keeps the map near the identity. CPU, full batch,
Adam: hundreds of labels take seconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from mmsearch.errors import UsageError
from mmsearch.query.adapter import FloatArray, QueryAdapter

if TYPE_CHECKING:
    from torch import Tensor

TEMPERATURE = 0.5
"""On the calibrated scale (standard deviations above the modality's null)."""
STEPS = 100
LEARNING_RATE = 0.01
WEIGHT_DECAY = 1.0
"""Strong: AdamW shrinks the map toward the identity by 1% a step. Measured on
bench/tune/labels.jsonl (held-out MRR 0.559 -> 0.749 at 1.0, 0.664 at 0.1, 0.556 at 0.01
with 200 steps), and it keeps refusing where labels do not generalise (the mixed queries:
one query per file)."""
BAD_MARGIN = 0.05


@dataclass(frozen=True, slots=True)
class Labels:
    """Training pairs: ``queries[i]`` should find item ``targets[i]`` (an index into items)."""

    queries: FloatArray
    targets: npt.NDArray[np.int64]
    bad_queries: FloatArray
    bad_targets: npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class Items:
    """A space's vectors grouped by item: ``segments[j]`` belongs to item ``owner[j]``.

    ``mean`` and ``std`` (one per segment) put each similarity on the calibrated scale of
    its segment's modality, as search ranks them (:mod:`mmsearch.query.calibration`): a
    raw cosine would let every text outrank every photo in a ConSE space, and an adapter
    fitted on raw cosines would learn that, not what search needs.
    """

    segments: FloatArray
    owner: npt.NDArray[np.int64]
    count: int
    mean: FloatArray | None = None
    std: FloatArray | None = None

    def calibrated(self, sims: FloatArray) -> FloatArray:
        """Similarities (queries x segments) on the calibrated scale."""
        if self.mean is None or self.std is None:
            return sims
        out: FloatArray = ((sims - self.mean) / self.std).astype(np.float32)
        return out


def item_scores(queries: FloatArray, items: Items) -> FloatArray:
    """Each query's score for each item: its best segment's calibrated similarity."""
    sims = items.calibrated(queries @ items.segments.T)
    out = np.full((len(queries), items.count), -np.inf, dtype=np.float32)
    for j, owner in enumerate(items.owner.tolist()):
        np.maximum(out[:, owner], sims[:, j], out=out[:, owner])
    return out


def fit_adapter(labels: Labels, items: Items, *, rank: int = 8, seed: int = 0) -> QueryAdapter:
    """Fit an adapter to ``labels``; the same labels and seed give the same adapter."""
    try:
        import torch  # only tune needs torch on the query side
    except ImportError as exc:
        raise UsageError(
            "mmsearch tune needs torch, which is not installed here: "
            'pip install "mmsearch[tune]" (or any model plugin, which brings it).'
        ) from exc

    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    dim = items.segments.shape[1]
    with torch.random.fork_rng(devices=[]):
        torch.set_num_threads(1)  # deterministic sums, and fast enough at this size
        scale = np.ones(len(items.segments), np.float32) if items.std is None else items.std
        shift = np.zeros(len(items.segments), np.float32) if items.mean is None else items.mean
        # (q . x - mean) / std == q . (x / std) - mean / std: the calibrated scale in one product.
        segments = torch.from_numpy(np.ascontiguousarray(items.segments / scale[:, None]))
        offset = torch.from_numpy(np.ascontiguousarray(shift / scale))
        owner = torch.from_numpy(items.owner)
        v = torch.nn.Parameter(torch.randn(dim, rank, generator=generator) / dim**0.5)
        u = torch.nn.Parameter(torch.zeros(dim, rank))
        optimiser = torch.optim.AdamW([u, v], lr=LEARNING_RATE, weight_decay=WEIGHT_DECAY)
        q = torch.from_numpy(np.ascontiguousarray(labels.queries))
        t = torch.from_numpy(labels.targets)
        bq = torch.from_numpy(np.ascontiguousarray(labels.bad_queries))
        bt = torch.from_numpy(labels.bad_targets)
        for _ in range(STEPS):
            optimiser.zero_grad()
            loss = _loss(q, t, u, v, segments, offset, owner, items.count)
            if len(bq):
                loss = loss + _bad_loss(bq, bt, u, v, segments, offset, owner, items.count)
            loss.backward()  # type: ignore[no-untyped-call]
            optimiser.step()
        return QueryAdapter(u.detach().numpy().copy(), v.detach().numpy().copy())


def _scores(
    q: Tensor, u: Tensor, v: Tensor, segments: Tensor, offset: Tensor, owner: Tensor, count: int
) -> Tensor:
    import torch

    mapped = q + (q @ v) @ u.T
    mapped = mapped / mapped.norm(dim=1, keepdim=True).clamp_min(1e-12)
    sims = mapped @ segments.T - offset
    index = owner.unsqueeze(0).expand(len(q), -1)
    out = torch.full((len(q), count), -1e4)
    return out.scatter_reduce(1, index, sims, reduce="amax", include_self=True)


def _loss(
    q: Tensor,
    t: Tensor,
    u: Tensor,
    v: Tensor,
    segments: Tensor,
    offset: Tensor,
    owner: Tensor,
    count: int,
) -> Tensor:
    import torch

    logits = _scores(q, u, v, segments, offset, owner, count) / TEMPERATURE
    return torch.nn.functional.cross_entropy(logits, t)


def _bad_loss(
    bq: Tensor,
    bt: Tensor,
    u: Tensor,
    v: Tensor,
    segments: Tensor,
    offset: Tensor,
    owner: Tensor,
    count: int,
) -> Tensor:
    scores = _scores(bq, u, v, segments, offset, owner, count)
    bad = scores.gather(1, bt.unsqueeze(1)).squeeze(1)
    top = scores.topk(min(2, count), dim=1).values[:, -1]
    return (bad - top + BAD_MARGIN).clamp_min(0).mean()
