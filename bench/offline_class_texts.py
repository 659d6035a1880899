"""Which class texts make the offline space's photos easiest to find (ConSE, measured).

The offline space puts a photo at the mix of its top ImageNet classes' embedded texts. This
compares texts for those classes, the photos' own pixels unchanged: the name in the prompt
(today's "a photo of a {name}."), WordNet's synonyms (lemmas), WordNet's gloss of the class
("tabby cat: a cat with a grey or tawny coat mottled with black": the gloss names the
hypernym, so a tabby is also "a cat"), and a prompt ensemble. The synonyms and glosses are
the WordNet data timm ships (timm/data/_info), no download. Ranking is among the corpus's
photos only (vector signal, raw cosine, which within one modality ranks as the calibrated
score does), for the corpus's photo queries (the tuning set) and for the held-aside photo
queries of bench/gate/photos_heldout.jsonl.

Run from the repository root on a built mixed corpus (bench/mixed_corpus.py)::

    .venv/bin/python bench/offline_class_texts.py /tmp/mixed_corpus
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import timm.data
from mmsearch_offline import models
from mmsearch_offline.conse import Conse, class_names
from PIL import Image

HELD_OUT = Path(__file__).resolve().parent / "gate" / "photos_heldout.jsonl"


def _table(name: str) -> dict[str, str]:
    info = Path(timm.data.__file__).parent / "_info" / name
    return dict(line.rstrip("\n").split("\t", 1) for line in info.open(encoding="utf-8"))


def _photo_queries(path: Path) -> list[tuple[str, str]]:
    rows = [json.loads(x) for x in path.read_text().splitlines() if x.startswith("{")]
    pairs = [(r.get("query"), r["relevant"][0]) for r in rows if isinstance(r["relevant"][0], str)]
    return [(q, p) for q, p in pairs if q and p.startswith("photos/")]


def _unit(rows: np.ndarray) -> np.ndarray:
    out: np.ndarray = rows / np.linalg.norm(rows, axis=-1, keepdims=True)
    return out


def variants(embed: Callable[[Sequence[str]], np.ndarray]) -> dict[str, np.ndarray]:
    """Class vectors (1000 x 384) per candidate text."""
    names = class_names()
    info = Path(timm.data.__file__).parent / "_info"
    wnids = (info / "imagenet_synsets.txt").read_text().split()
    lemma, gloss = (
        _table("imagenet_synset_to_lemma.txt"),
        _table("imagenet_synset_to_definition.txt"),
    )
    name = embed([f"a photo of a {n}." for n in names])
    glossed = embed([f"{n}: {gloss[w]}" for n, w in zip(names, wnids, strict=True)])
    prompts = [embed([p.format(n) for n in names]) for p in
               ("a picture of a {}.", "{}", "a close-up photo of the {}.")]  # fmt: skip
    return {
        "name (today)": name,
        "lemmas": embed([f"a photo of a {lemma[w]}." for w in wnids]),
        "name + gloss": _unit(name + glossed),
        "prompt ensemble": _unit(name + sum(prompts)),
        "ensemble + gloss": _unit(name + sum(prompts) + 2 * glossed),
    }


def main() -> None:
    corpus = Path(sys.argv[1])
    text, image = models.text_model(), models.image_model()

    def embed(texts: Sequence[str]) -> np.ndarray:
        return _unit(np.asarray(text.encode(list(texts)), dtype=np.float32))

    photos = sorted(os.listdir(corpus / "photos"))
    pictures = [Image.open(corpus / "photos" / p).convert("RGB") for p in photos]
    probabilities = image.probabilities(pictures)
    sets = {"tuning set": _photo_queries(corpus / "queries.jsonl"),
            "held aside": _photo_queries(HELD_OUT)}  # fmt: skip
    for label, vectors in variants(embed).items():
        for top in (10, 20):
            vecs = Conse(vectors.astype(np.float32), top).project(probabilities)
            cells = []
            for set_name, queries in sets.items():
                sims = embed([q for q, _ in queries]) @ vecs.T
                targets = [photos.index(os.path.basename(p)) for _, p in queries]
                ranks = [1 + int((s > s[t]).sum()) for s, t in zip(sims, targets, strict=True)]
                r1 = np.mean([r == 1 for r in ranks])
                mrr = np.mean([1 / r for r in ranks])
                cells.append(f"{set_name} ({len(queries)}) R@1 {r1:.3f} MRR {mrr:.3f}")
            print(f"{label:18} top {top:<2}  " + "  |  ".join(cells), flush=True)


if __name__ == "__main__":
    main()
