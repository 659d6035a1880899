"""Fitting a :class:`~mmsearch.tune.adapter.QueryAdapter` with a contrastive loss, in torch.

Each label is a query vector and the item it should find. The loss is the cross
entropy of the right item among all the space's items, each item scored by its
best segment (as search scores files), at temperature :data:`TEMPERATURE`; a bad
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

TEMPERATURE = 0.05
STEPS = 200
LEARNING_RATE = 0.01
WEIGHT_DECAY = 0.01
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
    """A space's vectors grouped by item: ``segments[j]`` belongs to item ``owner[j]``."""

    segments: FloatArray
    owner: npt.NDArray[np.int64]
    count: int


def item_scores(queries: FloatArray, items: Items) -> FloatArray:
    """Each query's score for each item: its best segment's cosine similarity."""
    sims = queries @ items.segments.T
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
        segments = torch.from_numpy(np.ascontiguousarray(items.segments))
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
            loss = _loss(q, t, u, v, segments, owner, items.count)
            if len(bq):
                loss = loss + _bad_loss(bq, bt, u, v, segments, owner, items.count)
            loss.backward()  # type: ignore[no-untyped-call]
            optimiser.step()
        return QueryAdapter(u.detach().numpy().copy(), v.detach().numpy().copy())


def _scores(q: Tensor, u: Tensor, v: Tensor, segments: Tensor, owner: Tensor, count: int) -> Tensor:
    import torch

    mapped = q + (q @ v) @ u.T
    mapped = mapped / mapped.norm(dim=1, keepdim=True).clamp_min(1e-12)
    sims = mapped @ segments.T
    index = owner.unsqueeze(0).expand(len(q), -1)
    out = torch.full((len(q), count), -1e4)
    return out.scatter_reduce(1, index, sims, reduce="amax", include_self=True)


def _loss(
    q: Tensor, t: Tensor, u: Tensor, v: Tensor, segments: Tensor, owner: Tensor, count: int
) -> Tensor:
    import torch

    logits = _scores(q, u, v, segments, owner, count) / TEMPERATURE
    return torch.nn.functional.cross_entropy(logits, t)


def _bad_loss(
    bq: Tensor, bt: Tensor, u: Tensor, v: Tensor, segments: Tensor, owner: Tensor, count: int
) -> Tensor:
    scores = _scores(bq, u, v, segments, owner, count)
    bad = scores.gather(1, bt.unsqueeze(1)).squeeze(1)
    top = scores.topk(min(2, count), dim=1).values[:, -1]
    return (bad - top + BAD_MARGIN).clamp_min(0).mean()
