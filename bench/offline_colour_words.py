"""Does adding a photo's colour words to its offline vector make photos easier to find?

The offline space (ConSE) places a photo at the mix of its top ImageNet classes' texts; no
class text says which colours the photo holds. `mmsearch_offline.colours` takes the photo's
distribution over the colour plugin's palette and mixes the embedded colour words ("red",
"dark grey", "light blue") into the vector. This compares, among the mixed corpus's photos:
no colour words (the space before), the palette's words weighted by the distribution, those
words in a prompt ("a red photo"), the square-rooted distribution, and a phrase of the top
three colours ("mostly grey, dark grey and brown"), each at a few weights; OCR words are
fused in as the indexer does (text_fusion_weight). Choose on the corpus's photo queries
(the tuning set); the held-aside queries (bench/gate/photos_heldout.jsonl) are reported,
never used to choose.

Run from the repository root on a built mixed corpus (bench/mixed_corpus.py) and a catalog
of it (for the photos' OCR words)::

    .venv/bin/python bench/offline_colour_words.py /tmp/mixed_corpus /tmp/mixed.db
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
from pathlib import Path

import numpy as np
import numpy.typing as npt
from mmsearch_offline import OfflineEncoder, colours, identity, models
from mmsearch_offline.conse import Conse
from PIL import Image

HELD_OUT = Path(__file__).resolve().parent / "gate" / "photos_heldout.jsonl"
Array = npt.NDArray[np.float32]


def _unit(rows: Array) -> Array:
    out: Array = rows / np.linalg.norm(rows, axis=-1, keepdims=True)
    return out


def _photo_queries(path: Path) -> list[tuple[str, str]]:
    rows = [json.loads(x) for x in path.read_text().splitlines() if x.startswith("{")]
    pairs = [(r.get("query"), r["relevant"][0]) for r in rows if isinstance(r["relevant"][0], str)]
    return [(q, os.path.basename(p)) for q, p in pairs if q and p.startswith("photos/")]


def main() -> None:
    corpus, catalog = Path(sys.argv[1]), sys.argv[2]
    text = models.text_model()

    def embed(texts: list[str]) -> Array:
        return _unit(np.asarray(text.encode(texts), dtype=np.float32))

    photos = sorted(os.listdir(corpus / "photos"))
    pictures = [Image.open(corpus / "photos" / p).convert("RGB") for p in photos]
    plain = OfflineEncoder(colours=False)
    vectors = models.class_name_vectors(plain.checkpoint, plain.prompt, plain.dim, True)
    base = Conse(vectors, identity.TOP_T).project(models.image_model().probabilities(pictures))
    hist = np.stack([colours.histogram(p) for p in pictures])
    words = colours.colour_words()
    with sqlite3.connect(catalog) as conn:
        sql = (
            "SELECT i.display, s.text FROM segments s JOIN items i ON i.id = s.item_id "
            "WHERE s.modality = 'image'"
        )
        ocr = dict(conn.execute(sql).fetchall())
    has_words = [bool(ocr.get(p) and any(c.isalnum() for c in ocr[p])) for p in photos]
    ocr_vectors = embed([ocr[p] if w else "-" for p, w in zip(photos, has_words, strict=True)])
    weight = OfflineEncoder.text_fusion_weight

    def indexed(v: Array) -> Array:
        out = v.copy()
        for i, w in enumerate(has_words):
            if w:  # as mmsearch/index/pipeline.py fuses an image's OCR words
                out[i] = _unit((1 - weight) * v[i] + weight * ocr_vectors[i])
        return out

    def phrases() -> list[str]:
        out = []
        for h in hist:
            top = [words[i] for i in np.argsort(-h)[:3] if h[i] >= 0.12] or [words[int(h.argmax())]]
            out.append("mostly " + ", ".join(top[:-1]) + (" and " if top[:-1] else "") + top[-1])
        return out

    kinds = {
        "words by share": lambda: _unit((hist @ embed(words)).astype(np.float32)),
        "prompts by share": lambda: _unit(
            (hist @ embed([f"a {w} photo" for w in words])).astype(np.float32)
        ),
        "words by sqrt": lambda: _unit((np.sqrt(hist) @ embed(words)).astype(np.float32)),
        "top-3 phrase": lambda: embed(phrases()),
    }
    sets = {"tuning set": _photo_queries(corpus / "queries.jsonl"),
            "held aside": _photo_queries(HELD_OUT)}  # fmt: skip
    queries = {k: embed([q for q, _ in v]) for k, v in sets.items()}

    def score(v: Array) -> str:
        cells = []
        for name, pairs in sets.items():
            sims = queries[name] @ v.T
            targets = [photos.index(p) for _, p in pairs]
            ranks = np.array(
                [1 + int((s > s[t]).sum()) for s, t in zip(sims, targets, strict=True)]
            )
            cells.append(f"{name} ({len(pairs)}) R@1 {np.mean(ranks == 1):.3f} "
                         f"MRR {np.mean(1 / ranks):.3f}")  # fmt: skip
        return "  |  ".join(cells)

    print(f"{'no colour words (before)':28} {score(indexed(base))}", flush=True)
    for kind, make in kinds.items():
        colour = make()
        for w in (0.1, 0.2, 0.3, 0.5):
            print(f"{kind:18} w {w:<4}     {score(indexed(_unit(base + w * colour)))}", flush=True)


if __name__ == "__main__":
    main()
