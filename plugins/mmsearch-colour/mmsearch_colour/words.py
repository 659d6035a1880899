"""Reading colour words in a query: "mostly blue", "dark red", "orange sunset", "#ff8800".

A phrase becomes weighted colours: each colour name (or scene word, which
stands for a small palette) is taken with the modifiers before it ("dark",
"pale", "vivid") and a weight from its quantifier ("mostly" 3, "some" 0.35).
"no red" and "without red" drop the colour. Other words are ignored, so a
whole caption can be a query.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from mmsearch_colour.lab import FloatArray, srgb_to_lab

RGB = tuple[int, int, int]

COLOURS: dict[str, RGB] = {
    "black": (18, 18, 18),
    "charcoal": (70, 70, 72),
    "grey": (128, 128, 128),
    "gray": (128, 128, 128),
    "silver": (192, 192, 192),
    "white": (246, 246, 246),
    "red": (215, 35, 35),
    "crimson": (185, 20, 50),
    "scarlet": (240, 40, 20),
    "maroon": (115, 20, 25),
    "burgundy": (110, 20, 45),
    "wine": (115, 25, 50),
    "pink": (242, 150, 180),
    "rose": (230, 110, 140),
    "magenta": (205, 45, 165),
    "fuchsia": (205, 45, 165),
    "purple": (115, 45, 155),
    "violet": (140, 80, 200),
    "indigo": (70, 40, 140),
    "lavender": (185, 165, 220),
    "lilac": (195, 160, 210),
    "mauve": (170, 120, 160),
    "navy": (22, 32, 100),
    "blue": (35, 85, 215),
    "azure": (40, 130, 240),
    "cobalt": (0, 70, 170),
    "sky": (125, 180, 238),
    "cyan": (45, 200, 210),
    "turquoise": (50, 210, 195),
    "aqua": (60, 220, 220),
    "teal": (20, 115, 118),
    "green": (50, 165, 65),
    "emerald": (30, 150, 90),
    "lime": (160, 220, 90),
    "mint": (160, 230, 190),
    "olive": (120, 118, 40),
    "khaki": (190, 180, 120),
    "yellow": (245, 220, 45),
    "gold": (200, 155, 35),
    "golden": (200, 155, 35),
    "mustard": (205, 170, 40),
    "amber": (245, 170, 20),
    "orange": (240, 135, 30),
    "peach": (250, 190, 150),
    "coral": (250, 125, 90),
    "salmon": (245, 140, 120),
    "rust": (175, 75, 30),
    "brown": (115, 70, 35),
    "chocolate": (90, 50, 25),
    "tan": (205, 175, 135),
    "beige": (225, 205, 170),
    "sand": (220, 195, 145),
    "sandy": (220, 195, 145),
    "cream": (242, 234, 205),
    "ivory": (250, 248, 230),
    "bluish": (35, 85, 215),
    "reddish": (215, 35, 35),
    "greenish": (50, 165, 65),
    "yellowish": (245, 220, 45),
    "pinkish": (242, 150, 180),
    "purplish": (115, 45, 155),
    "brownish": (115, 70, 35),
    "orangey": (240, 135, 30),
}

PAIRS: dict[str, RGB] = {
    "sky blue": (125, 180, 238),
    "baby blue": (160, 200, 240),
    "navy blue": (22, 32, 100),
    "royal blue": (50, 70, 200),
    "forest green": (25, 85, 40),
    "olive green": (110, 120, 45),
    "lime green": (140, 215, 70),
    "hot pink": (240, 80, 160),
    "off white": (240, 236, 220),
}

SCENES: dict[str, tuple[tuple[RGB, float], ...]] = {
    "sunset": (
        ((240, 135, 30), 3.0),
        ((240, 110, 100), 2.0),
        ((200, 155, 35), 1.0),
        ((115, 45, 155), 1.0),
        ((22, 32, 100), 1.0),
    ),
    "night": (((18, 18, 18), 3.0), ((22, 32, 100), 2.0)),
    "forest": (((25, 85, 40), 3.0), ((50, 165, 65), 2.0), ((115, 70, 35), 1.0)),
    "grass": (((50, 165, 65), 3.0), ((160, 220, 90), 1.0)),
    "sea": (((35, 85, 215), 2.0), ((20, 115, 118), 1.0), ((22, 32, 100), 1.0)),
    "beach": (((220, 195, 145), 2.0), ((125, 180, 238), 1.0), ((35, 85, 215), 1.0)),
    "snow": (((246, 246, 246), 3.0), ((192, 192, 192), 1.0), ((125, 180, 238), 0.5)),
    "fire": (((240, 135, 30), 2.0), ((215, 35, 35), 2.0), ((245, 220, 45), 1.0)),
    "desert": (((205, 175, 135), 2.0), ((240, 135, 30), 1.0), ((125, 180, 238), 1.0)),
    "autumn": (((240, 135, 30), 2.0), ((215, 35, 35), 1.0), ((115, 70, 35), 1.0)),
    "fog": (((192, 192, 192), 2.0), ((128, 128, 128), 1.0), ((246, 246, 246), 1.0)),
}
_SCENE_WORDS = {
    "sunrise": "sunset",
    "dusk": "sunset",
    "nighttime": "night",
    "woods": "forest",
    "jungle": "forest",
    "lawn": "grass",
    "meadow": "grass",
    "ocean": "sea",
    "lake": "sea",
    "snowy": "snow",
    "flames": "fire",
    "fall": "autumn",
    "foggy": "fog",
    "mist": "fog",
    "misty": "fog",
}

# (lightness shift, chroma factor) applied in OKLab before the colour is placed.
MODIFIERS: dict[str, tuple[float, float]] = {
    "dark": (-25.0, 1.0),
    "deep": (-18.0, 1.1),
    "light": (22.0, 0.7),
    "pale": (25.0, 0.45),
    "pastel": (22.0, 0.45),
    "bright": (6.0, 1.3),
    "vivid": (0.0, 1.35),
    "vibrant": (0.0, 1.35),
    "neon": (8.0, 1.4),
    "saturated": (0.0, 1.35),
    "muted": (0.0, 0.45),
    "dull": (-5.0, 0.45),
    "dusty": (0.0, 0.5),
    "faded": (10.0, 0.45),
    "greyish": (0.0, 0.4),
    "grayish": (0.0, 0.4),
}
QUANTIFIERS: dict[str, float] = {
    **dict.fromkeys(
        ("mostly", "mainly", "largely", "predominantly", "dominant", "all", "entirely"), 3.0
    ),
    **dict.fromkeys(("completely", "fully", "totally", "lots", "plenty"), 3.0),
    **dict.fromkeys(("some", "little", "bit", "touch", "hint", "few", "splash", "accent"), 0.35),
    **dict.fromkeys(("accents", "spots", "dots", "patch", "specks", "tiny", "small"), 0.35),
}
_SHADES = ((-20.0, 0.8), (20.0, 0.6))
"""(lightness shift, chroma factor) of the darker and lighter shades a bare colour name covers."""
_SHADE_WEIGHT = 0.35
NEGATIONS = frozenset({"no", "not", "without", "except", "never"})
_TOKEN = re.compile(r"#[0-9a-f]{6}\b|#[0-9a-f]{3}\b|[a-z]+|[.;!?]")


@dataclass(frozen=True, slots=True)
class Mention:
    """One colour the phrase asks for, in OKLab (x100), with its weight."""

    lab: tuple[float, float, float]
    weight: float


@dataclass(slots=True)
class _Pending:
    weight: float = 1.0
    shift: float = 0.0
    chroma: float = 1.0
    negated: bool = False


def _hex(token: str) -> RGB:
    digits = token[1:]
    if len(digits) == 3:
        digits = "".join(ch * 2 for ch in digits)
    return int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16)


def _term(tokens: list[str], i: int) -> tuple[tuple[tuple[RGB, float], ...], int]:
    """The colours the term at ``tokens[i]`` stands for, and how many tokens it spans."""
    word = tokens[i]
    if i + 1 < len(tokens) and f"{word} {tokens[i + 1]}" in PAIRS:
        return ((PAIRS[f"{word} {tokens[i + 1]}"], 1.0),), 2
    if word.startswith("#"):
        return ((_hex(word), 1.0),), 1
    scene = SCENES.get(_SCENE_WORDS.get(word, word))
    if scene is not None:
        return scene, 1
    singular = word[:-1] if word.endswith("s") and word[:-1] in COLOURS else word
    if singular in COLOURS:
        return ((COLOURS[singular], 1.0),), 1
    return (), 1


def _adjust(rgb: RGB, pending: _Pending) -> tuple[float, float, float]:
    lightness, a, b = (float(v) for v in srgb_to_lab(np.array(rgb, dtype=np.float64)))
    lightness = min(97.0, max(3.0, lightness + pending.shift))
    return lightness, a * pending.chroma, b * pending.chroma


def mentions(text: str) -> list[Mention]:
    """The weighted colours a phrase asks for, in order; empty when it names none."""
    tokens = _TOKEN.findall(text.lower())
    found: list[Mention] = []
    pending = _Pending()
    i = 0
    while i < len(tokens):
        word = tokens[i]
        colours, span = _term(tokens, i)
        if colours:
            if not pending.negated:
                found.extend(_place(colours, pending))
            pending = _Pending()
        elif word in ".;!?":
            pending = _Pending()
        else:
            _modify(pending, word)
        i += span
    return found


def _place(colours: tuple[tuple[RGB, float], ...], pending: _Pending) -> Iterator[Mention]:
    """Mentions for a term; a bare colour name also covers its lighter and darker shades."""
    bare = pending.shift == 0.0 and pending.chroma == 1.0
    for rgb, weight in colours:
        lightness, a, b = _adjust(rgb, pending)
        yield Mention((lightness, a, b), weight * pending.weight)
        if bare:
            # "blue" means the family: sky blue and navy count, a little less than blue itself.
            for shift, chroma in _SHADES:
                shade = min(97.0, max(3.0, lightness + shift))
                place = (shade, a * chroma, b * chroma)
                yield Mention(place, weight * pending.weight * _SHADE_WEIGHT)


def _modify(pending: _Pending, word: str) -> None:
    if word in NEGATIONS:
        pending.negated = True
    elif word in QUANTIFIERS:
        pending.weight = QUANTIFIERS[word]
    elif word in MODIFIERS:
        shift, chroma = MODIFIERS[word]
        pending.shift += shift
        pending.chroma *= chroma


def mention_arrays(found: list[Mention]) -> tuple[FloatArray, FloatArray]:
    """The OKLab values and the weights of ``found``, as two arrays."""
    labs = np.array([m.lab for m in found], dtype=np.float64)
    return labs, np.array([m.weight for m in found], dtype=np.float64)
