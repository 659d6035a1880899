"""ConSE (Norouzi et al., 2014, "Zero-Shot Learning by Convex Combination of Semantic
Embeddings"): an image's vector in the text space is the convex combination of the
embedded names of its top-T ImageNet classes, weighted by their renormalised probabilities.

A cat photo lands near "a photo of a tabby cat." and "a photo of a tiger cat.", so the text
query "a cat" finds it. What the classifier cannot name (a person, the moon, a page of text)
it can only approximate by its nearest ImageNet classes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from importlib import resources

import numpy as np
import numpy.typing as npt
import torch

from mmsearch_offline.cache import VectorCache
from mmsearch_offline.identity import CLASSES_SHA256, GLOSSES_SHA256
from mmsearch_offline.weights import OfflineWeightsError

FloatArray = npt.NDArray[np.float32]
CLASS_COUNT = 1000


def _class_lines(file: str, sha256: str, constant: str, what: str) -> list[str]:
    """One line per class from a shipped file, checked against its hash and its count."""
    data = resources.files("mmsearch_offline").joinpath(file).read_bytes()
    if hashlib.sha256(data).hexdigest() != sha256:
        # The file is part of the space; an edited one must make a new space, not blend in.
        raise OfflineWeightsError(
            f"mmsearch_offline/{file} does not match {constant} in "
            "mmsearch_offline/identity.py; reinstall mmsearch-offline, or, if you changed "
            f"the {what} on purpose, update the hash (it makes a new space)."
        )
    lines = data.decode("utf-8").splitlines()
    if len(lines) != CLASS_COUNT:
        raise OfflineWeightsError(f"expected {CLASS_COUNT} {what}, found {len(lines)}")
    return lines


def class_names() -> list[str]:
    """The ImageNet-1k class names in class-index order, checked against their hash."""
    return _class_lines("imagenet_classes.txt", CLASSES_SHA256, "CLASSES_SHA256", "class names")


def class_glosses() -> list[str]:
    """WordNet's gloss of each class, in class-index order, checked against their hash."""
    return _class_lines("imagenet_glosses.txt", GLOSSES_SHA256, "GLOSSES_SHA256", "glosses")


def class_vectors(
    embed: Callable[[Sequence[str]], FloatArray],
    prompt: str,
    dim: int,
    cache: VectorCache,
    glosses: bool = False,
) -> FloatArray:
    """The ``(1000, dim)`` embedded class texts, from the cache or computed and cached.

    With ``glosses``, each class is the unit mean of its prompt ("a photo of a tabby
    cat.") and its name with WordNet's gloss ("tabby cat: a cat with a grey or tawny coat
    mottled with black"): the gloss carries the hypernym a person searches with.
    """
    cached = cache.load((CLASS_COUNT, dim))
    if cached is not None:
        return cached
    names = class_names()
    vectors = embed([prompt.format(name) for name in names])
    if glosses:
        glossed = embed([f"{n}: {g}" for n, g in zip(names, class_glosses(), strict=True)])
        mixed = vectors + glossed
        vectors = (mixed / np.linalg.norm(mixed, axis=1, keepdims=True)).astype(np.float32)
    cache.save(vectors)
    return vectors


class Conse:
    """Maps class probabilities to unit vectors in the text space."""

    def __init__(self, class_vectors: FloatArray, top: int) -> None:
        self.class_vectors = torch.from_numpy(np.ascontiguousarray(class_vectors))
        self.top = min(top, len(class_vectors))

    def project(self, probabilities: torch.Tensor) -> FloatArray:
        """One unit row per image: the top-T class vectors mixed by their probabilities."""
        values, indices = probabilities.float().topk(self.top, dim=-1)
        weights = values / values.sum(dim=-1, keepdim=True).clamp_min(1e-12)
        mixed = torch.einsum("nt,ntd->nd", weights, self.class_vectors[indices])
        mixed = mixed / mixed.norm(dim=-1, keepdim=True).clamp_min(1e-12)
        rows: FloatArray = mixed.numpy().astype(np.float32, copy=False)
        return rows
