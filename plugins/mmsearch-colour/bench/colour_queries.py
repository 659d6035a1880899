"""Retrieval quality of the colour space on synthetic photos: prints MRR and score margins.

Each query has one intended image among 21 (flat colours, two-colour splits,
a four-band sunset), rendered clean and with pixel noise (sigma 18). Run:

    python plugins/mmsearch-colour/bench/colour_queries.py
"""

from __future__ import annotations

import numpy as np
from mmsearch_colour import ColourEncoder
from PIL import Image

Colour = tuple[int, int, int]

SCENES: dict[str, tuple[tuple[Colour, float], ...]] = {
    "blue": (((35, 90, 210), 1.0),),
    "navy": (((20, 30, 90), 1.0),),
    "sky": (((135, 190, 240), 1.0),),
    "red": (((220, 30, 30), 1.0),),
    "maroon": (((110, 20, 25), 1.0),),
    "pink": (((245, 170, 190), 1.0),),
    "green": (((50, 160, 60), 1.0),),
    "darkgreen": (((20, 80, 35), 1.0),),
    "orange": (((245, 140, 30), 1.0),),
    "yellow": (((245, 225, 50), 1.0),),
    "grey": (((128, 128, 128), 1.0),),
    "white": (((245, 245, 245), 1.0),),
    "black": (((15, 15, 15), 1.0),),
    "purple": (((120, 50, 160), 1.0),),
    "brown": (((110, 70, 35), 1.0),),
    "teal": (((20, 115, 118), 1.0),),
    "lavender": (((190, 170, 225), 1.0),),
    "beige": (((225, 205, 170), 1.0),),
    "mostlyblue": (((35, 90, 210), 0.8), ((220, 30, 30), 0.2)),
    "mostlyred": (((220, 30, 30), 0.8), ((35, 90, 210), 0.2)),
    "sunset": (
        ((245, 140, 30), 0.4),
        ((240, 110, 110), 0.25),
        ((120, 50, 150), 0.2),
        ((25, 30, 90), 0.15),
    ),
}
QUERIES = {
    "blue": "blue",
    "navy": "dark blue",
    "sky": "light blue",
    "red": "red",
    "maroon": "dark red",
    "pink": "pink",
    "green": "green",
    "darkgreen": "dark green",
    "orange": "orange",
    "yellow": "yellow",
    "grey": "grey",
    "white": "white",
    "black": "black",
    "purple": "purple",
    "brown": "brown",
    "teal": "teal",
    "lavender": "pale purple",
    "beige": "beige",
    "mostlyblue": "mostly blue with some red",
    "mostlyred": "mostly red with a bit of blue",
    "sunset": "orange sunset",
}


def render(bands: tuple[tuple[Colour, float], ...], noise: float, seed: int) -> Image.Image:
    """Vertical bands of colour, each taking its share of the width, plus pixel noise."""
    pixels = np.zeros((90, 120, 3))
    x = 0
    for colour, share in bands:
        width = round(120 * share)
        pixels[:, x : x + width] = colour
        x += width
    pixels += np.random.default_rng(seed).normal(0.0, noise, pixels.shape) if noise else 0.0
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def evaluate(noise: float) -> None:
    encoder = ColourEncoder()
    names = list(SCENES)
    images = [render(SCENES[n], noise, seed) for seed, n in enumerate(names)]
    vectors = encoder.encode_batch("image", images)
    ranks, margins = [], []
    for target, query in QUERIES.items():
        scores = vectors @ encoder.encode_batch("text", [query])[0]
        order = [names[i] for i in np.argsort(-scores)]
        ranks.append(order.index(target) + 1)
        others = max(s for n, s in zip(names, scores, strict=True) if n != target)
        margins.append(float(scores[names.index(target)] - others))
        if ranks[-1] > 1:
            print(f"  {query!r}: wanted {target}, got {order[:3]}")
    mrr = float(np.mean([1 / r for r in ranks]))
    print(
        f"noise {noise:>4}: MRR {mrr:.3f}, top-1 {sum(r == 1 for r in ranks)}/{len(ranks)}, "
        f"mean margin {np.mean(margins):.3f}, smallest margin {min(margins):.3f}"
    )


if __name__ == "__main__":
    for sigma in (0.0, 18.0, 40.0):
        evaluate(sigma)
