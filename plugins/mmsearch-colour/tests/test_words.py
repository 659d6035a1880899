"""Reading colour phrases: names, shades, quantifiers, negation, hex codes, scenes."""

from __future__ import annotations

import numpy as np
import pytest
from mmsearch_colour import ColourEncoder, mentions


@pytest.fixture(scope="module")
def encoder() -> ColourEncoder:
    return ColourEncoder()


def top(encoder: ColourEncoder, phrase: str) -> str:
    distribution = encoder.distribution("text", phrase)
    return encoder.palette.names[int(np.argmax(distribution))]


@pytest.mark.parametrize(
    ("phrase", "expected"),
    [
        ("blue", "blue"),
        ("dark blue", "navy"),
        ("light blue", "sky"),
        ("dark red", "maroon"),
        ("pale purple", "lavender"),
        ("forest green", "forest"),
        ("#ff8800", "orange"),
        ("#f80", "orange"),
        ("greys", "grey"),
        ("a photo of the SEA", "blue"),
    ],
)
def test_phrase_lands_on_its_colour(encoder: ColourEncoder, phrase: str, expected: str) -> None:
    assert top(encoder, phrase) == expected


def test_words_that_name_no_colour_are_ignored() -> None:
    assert mentions("photos of my dog at the party") == []


def test_no_colour_named_gives_the_uniform_distribution(encoder: ColourEncoder) -> None:
    distribution = encoder.distribution("text", "birthday party")
    assert np.allclose(distribution, 1.0 / encoder.dim)


def test_negated_colours_are_dropped() -> None:
    assert mentions("no red, only green") == mentions("only green")
    assert mentions("green without red") == mentions("green")


def test_quantifiers_weigh_colours_against_each_other(encoder: ColourEncoder) -> None:
    names = encoder.palette.names
    mostly = encoder.distribution("text", "mostly blue with some red")
    even = encoder.distribution("text", "blue and red")
    blue, red = names.index("blue"), names.index("red")
    assert mostly[blue] > 3 * mostly[red]
    assert abs(even[blue] - even[red]) < 0.05


def test_a_modifier_applies_to_the_next_colour_only() -> None:
    dark_then_plain = mentions("dark red and blue")
    assert dark_then_plain[0].lab[0] < mentions("red")[0].lab[0]
    assert [m.lab for m in dark_then_plain[1:]] == [m.lab for m in mentions("blue")]


def test_a_sentence_break_resets_a_dangling_quantifier() -> None:
    assert mentions("mostly. blue") == mentions("blue")
