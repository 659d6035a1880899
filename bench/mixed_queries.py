"""The queries of the mixed evaluation corpus (`bench/mixed_corpus.py`), as data.

These queries were written blind: all of them before any search was run on the corpus,
and none changed after seeing results. They are phrased the way a person looks for their
own files, and fall into four kinds:

- ``exact``: a name, number, code or rare word that appears in a transcript, OCR text
  or document ("invoice 4471", "Rosalind's birthday");
- ``paraphrase``: the meaning of the target in few or none of its words ("how do I get to
  the train station" for directions to "the railway platform");
- ``visual``: what a photo shows ("a cat", "rocket launch");
- ``mixed``: both the picture and its printed words help ("Harbour Road street sign").

Each query has exactly one relevant file. The file names and contents of the corpus were
chosen so that no other file answers it, though other files may share its words (the
best man speech mentions a camping trip; the packing list is the one for it). Keyword
search can also match file names, and some files carry descriptive names, as in a real
library (``coin_collection.png``), while most do not (``IMG_0412.jpg``).

A relevant part of a recording is given as a :class:`Span`: the index of a sentence in
the script the recording was spoken from (``bench/corpus_text/speech/<name>.txt``, one
sentence a line after the header, counted from 0); the corpus builder turns it into
seconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Modality = Literal["image", "audio", "text"]
Kind = Literal["exact", "paraphrase", "visual", "mixed"]


@dataclass(frozen=True)
class Span:
    """Sentence ``sentence`` (0-based) of the recording at ``path``."""

    path: str
    sentence: int


@dataclass(frozen=True)
class Query:
    """One query: its text, the file (or part of one) that answers it, and its kind."""

    id: str
    text: str
    relevant: str | Span
    modality: Modality
    kind: Kind


LONG_TALK = "recordings/long_talk.wav"
SPARE_KEY_SENTENCE = 5  # "the spare house key is hidden...", the middle of 11 sentences


def _q(n: int, text: str, relevant: str | Span, modality: Modality, kind: Kind) -> Query:
    return Query(f"q{n:02d}", text, relevant, modality, kind)


QUERIES: tuple[Query, ...] = (
    # What photos show.
    _q(1, "a cat", "photos/IMG_0412.jpg", "image", "visual"),
    _q(2, "coffee cup", "photos/IMG_0415.jpg", "image", "visual"),
    _q(3, "rocket launch", "photos/IMG_0731.jpg", "image", "visual"),
    _q(4, "a man with a camera", "photos/DSC_1023.jpg", "image", "visual"),
    _q(5, "astronaut in a spacesuit", "photos/portrait_nasa.png", "image", "visual"),
    _q(6, "old coins", "photos/coin_collection.png", "image", "visual"),
    _q(7, "the moon", "photos/IMG_0877.jpg", "image", "visual"),
    _q(8, "galaxies in deep space", "photos/desktop_background.jpg", "image", "visual"),
    _q(9, "red motorbike in the garage", "photos/IMG_1130.jpg", "image", "visual"),
    _q(10, "brick wall", "photos/IMG_0590.jpg", "image", "visual"),
    _q(11, "a horse", "photos/clipart_03.png", "image", "visual"),
    _q(12, "pebbles and small stones", "photos/IMG_0602.jpg", "image", "visual"),
    _q(13, "cells under a microscope", "photos/slide_07.png", "image", "visual"),
    _q(14, "rainbow colours", "photos/colour_wheel.png", "image", "visual"),
    _q(15, "handwritten maths equations", "photos/IMG_0533.jpg", "image", "visual"),
    # Words printed in pictures.
    _q(16, "Green Leaf Grocers", "photos/IMG_2041.jpg", "image", "exact"),
    _q(17, "wifi password", "photos/IMG_2210.jpg", "image", "exact"),
    _q(18, "Blue Finches", "photos/Screenshot_20240302-191544.png", "image", "exact"),
    _q(19, "region-based segmentation", "photos/scan_0001.png", "image", "exact"),
    _q(20, "ferry terminal", "photos/IMG_2107.jpg", "image", "exact"),
    _q(21, "how much did I spend on groceries", "photos/IMG_2041.jpg", "image", "paraphrase"),
    # Pictures where the words and the picture both help.
    _q(22, "Harbour Road street sign", "photos/IMG_2107.jpg", "image", "mixed"),
    _q(23, "jazz concert poster", "photos/Screenshot_20240302-191544.png", "image", "mixed"),
    _q(24, "photo of a shop receipt", "photos/IMG_2041.jpg", "image", "mixed"),
    _q(25, "book page about image segmentation", "photos/scan_0001.png", "image", "mixed"),
    _q(26, "the red Yamaha", "photos/IMG_1130.jpg", "image", "mixed"),
    _q(27, "photo from my eye test at the optician", "photos/eye_scan_left.jpg", "image", "mixed"),
    # What recordings say.
    _q(28, "Rosalind's birthday", "recordings/memo_06.wav", "audio", "exact"),
    _q(29, "Declan the plumber", "recordings/memo_05.wav", "audio", "exact"),
    _q(30, "Android login bug", "recordings/memo_13.wav", "audio", "exact"),
    _q(31, "pancake batter", "recordings/memo_03.wav", "audio", "exact"),
    _q(32, "book club at Margaret's", "recordings/memo_11.wav", "audio", "exact"),
    _q(33, "how do I get to the train station", "recordings/memo_02.wav", "audio", "paraphrase"),
    _q(
        34,
        "the meeting where we talked about money",
        "recordings/memo_01.wav",
        "audio",
        "paraphrase",
    ),
    _q(35, "will it rain tomorrow", "recordings/memo_04.wav", "audio", "paraphrase"),
    _q(36, "the car makes a noise when braking", "recordings/memo_07.wav", "audio", "paraphrase"),
    _q(37, "when is my dentist appointment", "recordings/memo_08.wav", "audio", "paraphrase"),
    _q(38, "things to buy at the supermarket", "recordings/memo_10.wav", "audio", "paraphrase"),
    _q(39, "when does the dog need her jab", "recordings/memo_12.wav", "audio", "paraphrase"),
    _q(40, "what is holding up the app launch", "recordings/memo_13.wav", "audio", "paraphrase"),
    _q(41, "how far did I run this morning", "recordings/memo_09.wav", "audio", "paraphrase"),
    _q(42, "where did I hide the spare key", Span(LONG_TALK, SPARE_KEY_SENTENCE), "audio", "exact"),
    _q(
        43,
        "how to get in if I am locked out of the house",
        Span(LONG_TALK, SPARE_KEY_SENTENCE),
        "audio",
        "paraphrase",
    ),
    # What documents say.
    _q(44, "invoice 4471", "docs/invoice_march.txt", "text", "exact"),
    _q(45, "TP1351", "docs/lisbon_trip.md", "text", "exact"),
    _q(46, "policy HX-20931", "docs/car_insurance.txt", "text", "exact"),
    _q(47, "lentil soup", "docs/lentil_soup.md", "text", "exact"),
    _q(48, "Brother HL-L2350DW toner", "docs/printer_setup.txt", "text", "exact"),
    _q(49, "Kestrel website minutes", "docs/minutes_2024-03-12.md", "text", "exact"),
    _q(50, "who is building the new homepage", "docs/minutes_2024-03-12.md", "text", "paraphrase"),
    _q(51, "a poem about the ocean", "docs/tide.txt", "text", "paraphrase"),
    _q(
        52,
        "how much more will I pay for the flat",
        "docs/letter_from_landlord.txt",
        "text",
        "paraphrase",
    ),
    _q(53, "what to pack for the camping weekend", "docs/packing.txt", "text", "paraphrase"),
    _q(54, "when can the tomato seedlings go outside", "docs/garden.md", "text", "paraphrase"),
    _q(55, "novels I want to read", "docs/reading_list.md", "text", "paraphrase"),
    _q(56, "running schedule before the race", "docs/training.md", "text", "paraphrase"),
    _q(57, "what to say at my friend's wedding", "docs/speech_notes.md", "text", "paraphrase"),
    _q(58, "how much do I owe the carpenter", "docs/invoice_march.txt", "text", "paraphrase"),
)
