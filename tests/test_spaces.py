"""Spaces: choosing an encoder, models, switching spaces, annotators and OCR-text fusion."""

from __future__ import annotations

import dataclasses
import logging
import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt
import pytest
from support import CountingEncoder, PluginObject, first_party_extractors, save_image

from mmsearch import Annotator, Encoder, Extractor, Library, Modality, Segment, SkipFile, Source
from mmsearch.errors import EncoderUnavailableError, UsageError
from mmsearch.plugins import load_plugins


class ModelEncoder(CountingEncoder):
    """An encoder with a model choice: each model is its own space."""

    encoder_id: ClassVar[str] = "models"
    priority: ClassVar[int] = 10
    MODELS: ClassVar[dict[str, int]] = {"small": 256, "other": 256}

    def __init__(self, checkpoint: str = "small") -> None:
        super().__init__()
        self.checkpoint = checkpoint
        self.dim = self.MODELS[checkpoint]

    def configure(self, checkpoint: str) -> Encoder:
        if checkpoint not in self.MODELS:
            raise ValueError(f"unknown model {checkpoint!r}; choose one of {sorted(self.MODELS)}")
        return ModelEncoder(checkpoint)

    def encode_batch(self, modality: Modality, contents: Sequence[Any]) -> npt.NDArray[np.float32]:
        out = super().encode_batch(modality, contents)
        if self.checkpoint == "other":
            out = out[:, ::-1].copy()  # a different space: same words, other coordinates
        return out


class UnavailableEncoder(CountingEncoder):
    encoder_id: ClassVar[str] = "needs-weights"
    priority: ClassVar[int] = 100

    def unavailable_reason(self) -> str | None:
        return "weights not found in ~/.cache/x; download them with `x fetch`"


def _library(db_path: Path, *encoders: Encoder, annotators: Sequence[Annotator] = ()) -> Library:
    plugin = PluginObject(first_party_extractors(), encoders, annotators)
    return Library.open(db_path, registry=load_plugins(plugin, discover=False))


def test_new_library_passes_over_an_encoder_that_cannot_run(
    db_path: Path, media: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with (
        caplog.at_level(logging.WARNING),
        _library(db_path, UnavailableEncoder(), ModelEncoder()) as lib,
    ):
        report = lib.index(media)
    assert report.space == "models (256-d)"
    assert "Not using needs-weights: weights not found" in caplog.text


def test_asking_for_an_encoder_that_cannot_run_says_what_to_do(db_path: Path, media: Path) -> None:
    with (
        _library(db_path, UnavailableEncoder()) as lib,
        pytest.raises(EncoderUnavailableError, match="download them"),
    ):
        lib.index(media, encoder="needs-weights")


def test_unknown_model_is_a_usage_error_naming_the_choices(db_path: Path, media: Path) -> None:
    with _library(db_path, ModelEncoder()) as lib, pytest.raises(UsageError, match="small"):
        lib.index(media, encoder="models", model="huge")


def test_switching_model_fills_a_new_space_then_switches(db_path: Path, media: Path) -> None:
    with _library(db_path, ModelEncoder()) as lib:
        lib.index(media)
        first = lib.catalog.active_space()
        report = lib.index(media, model="other")
        second = lib.catalog.active_space()
        assert first is not None and second is not None
        assert first.checkpoint == "small" and second.checkpoint == "other"
        assert report.reembedded == 5 and report.indexed == 0
        assert lib.query("red car harbour", k=1)[0].path.endswith("car.txt")
        # Both spaces hold every segment; neither lost anything.
        with sqlite3.connect(db_path) as conn:
            per_space = dict(conn.execute("SELECT space_id, count(*) FROM vectors GROUP BY 1"))
        assert per_space == {first.id: 5, second.id: 5}
        assert lib.store(second).ids() == lib.store(first).ids()


def test_text_items_are_reembedded_from_the_catalog_without_reading_files(
    db_path: Path, media: Path
) -> None:
    with _library(db_path, ModelEncoder()) as lib:
        lib.index(media)
        (media / "car.txt").chmod(0)  # unreadable now, but its text is in the catalog
        try:
            report = lib.index(media, model="other")
        finally:
            (media / "car.txt").chmod(0o644)
    assert report.reembedded == 5 and report.skipped == []


def test_old_space_answers_until_the_new_one_is_complete(
    db_path: Path, media: Path, tmp_path: Path
) -> None:
    other_root = tmp_path / "more"
    (other_root).mkdir()
    (other_root / "note.txt").write_text("a note in another root")
    with _library(db_path, ModelEncoder()) as lib:
        lib.index(media, other_root)
        lib.index(media, model="other")  # only one of the two roots
        active = lib.catalog.active_space()
        assert active is not None and active.checkpoint == "small"
        lib.index(other_root, model="other")
        active = lib.catalog.active_space()
        assert active is not None and active.checkpoint == "other"


class WordsInImage(Annotator):
    """Pretends to OCR: images whose name holds 'invoice' say 'invoice 12345'."""

    name: ClassVar[str] = "fake-ocr"
    kinds: ClassVar[frozenset[str]] = frozenset({"image"})

    def annotate(self, segment: Segment, source: Source) -> Segment:
        if b"invoice" in source.path:
            return dataclasses.replace(segment, text="invoice 12345 total due")
        return segment


class BrokenAnnotator(Annotator):
    name: ClassVar[str] = "broken"
    kinds: ClassVar[frozenset[str]] = frozenset({"image"})

    def annotate(self, segment: Segment, source: Source) -> Segment:
        raise RuntimeError("OCR model missing")


class FusingEncoder(CountingEncoder):
    encoder_id: ClassVar[str] = "fusing"
    text_fusion_weight: ClassVar[float] = 0.5


def test_annotator_text_is_stored_and_fused_into_the_image_vector(
    db_path: Path, media: Path
) -> None:
    save_image(media / "invoice-scan.png", (250, 250, 250))
    with _library(db_path, FusingEncoder(), annotators=[BrokenAnnotator(), WordsInImage()]) as lib:
        report = lib.index(media)
        assert report.indexed == 6 and report.failed == []
        [hit] = lib.query("invoice 12345", k=1, media_type="image")
        assert hit.path.endswith("invoice-scan.png")
        assert hit.text == "invoice 12345 total due"
        assert hit.score > 0.4, "the words pulled the image towards the text query"


class MissingDecoder(Extractor):
    name: ClassVar[str] = "heic"
    media_type = "image"
    extensions: ClassVar[frozenset[str]] = frozenset({"xyz"})

    def extract(self, source: Source) -> Iterable[Segment]:
        raise SkipFile("missing decoder", "XYZ needs pillow-xyz: pip install pillow-xyz", once=True)


def test_missing_decoder_is_said_once_and_counted(
    db_path: Path, media: Path, caplog: pytest.LogCaptureFixture
) -> None:
    for i in range(3):
        (media / f"phone-{i}.xyz").write_bytes(b"a format nothing else reads" + bytes(20))
    registry = load_plugins(
        PluginObject([*first_party_extractors(), MissingDecoder()], [CountingEncoder()]),
        discover=False,
    )
    with caplog.at_level(logging.WARNING), Library.open(db_path, registry=registry) as lib:
        report = lib.index(media)
    assert report.skipped_counts() == {"missing decoder": 3}
    assert caplog.text.count("pip install pillow-xyz") == 1


class OptionsSpy(Extractor):
    name: ClassVar[str] = "spy"
    media_type = "text"
    extensions: ClassVar[frozenset[str]] = frozenset({"spy"})
    seen: ClassVar[list[dict[str, Any]]] = []

    def extract(self, source: Source) -> Iterable[Segment]:
        OptionsSpy.seen.append(dict(source.settings.options))
        yield Segment("text", "text", "spy", "spy")


class SidedEncoder(CountingEncoder):
    encoder_id: ClassVar[str] = "sided"
    image_min_side = 224


def test_plugin_options_and_encoder_hints_reach_extractors(db_path: Path, tmp_path: Path) -> None:
    from mmsearch import ExtractSettings

    root = tmp_path / "spy"
    root.mkdir()
    (root / "a.spy").write_text("x")
    registry = load_plugins(PluginObject([OptionsSpy()], [SidedEncoder()]), discover=False)
    with Library.open(db_path, registry=registry) as lib:
        lib.index(root, settings=ExtractSettings(options={"whisper_model": "small"}))
    assert OptionsSpy.seen == [{"whisper_model": "small", "image_min_side": 224}]
