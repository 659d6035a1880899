"""The open-clip encoder and the image decoding it relies on, all offline.

Models are randomly initialised (``ARCH:random``, or weights saved by the test
itself): the tiny ``mmsearch-tiny`` architecture for the pipeline, and ViT-B-32 where
a real architecture's numerics matter (bf16, trimming, draft decoding). Each model
loads once per module. Random towers embed even different photos alike, so the checks
here that compare their embeddings (bf16, draft decoding) are smoke tests only; the
faithfulness checks that can fail are in tests/test_open_clip_fidelity.py.
"""

from __future__ import annotations

import copy
import io
import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np
import open_clip
import pytest
import torch
import torch.nn.functional as F
from mmsearch_images import PillowImageExtractor, draft_side
from mmsearch_images import heif as heif_module
from mmsearch_images import reduce as reduce_module
from mmsearch_open_clip import TINY_ARCH, OpenClipEncoder, parse_choice
from mmsearch_open_clip import network as network_module
from mmsearch_open_clip import runtime as runtime_module
from mmsearch_open_clip import text as text_module
from mmsearch_open_clip import weights as weights_module
from mmsearch_open_clip.configs import register_own_configs
from mmsearch_open_clip.hardware import has_native_bf16, thread_count, wants_bf16
from mmsearch_open_clip.network import unreachable_reason
from mmsearch_open_clip.runtime import ImageTower, probe_images
from mmsearch_open_clip.text import TextTower
from PIL import Image
from safetensors.torch import save_file
from support import CountingEncoder, PluginObject

from mmsearch import ExtractSettings, Library, SearchOptions, SkipFile, Source
from mmsearch.index.encoding import encode_all
from mmsearch.index.extraction import extract_file
from mmsearch.plugins import load_plugins
from mmsearch.testing.conformance import EncoderConformance

TINY = f"{TINY_ARCH}:random"
B32 = "ViT-B-32:random"
DEFAULT_REPO_FOLDER = "models--laion--CLIP-ViT-B-32-laion2B-s34B-b79K"


# -- shared models and media ---------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny() -> OpenClipEncoder:
    encoder = OpenClipEncoder(TINY)
    encoder.model()
    return encoder


@pytest.fixture(scope="module")
def b32() -> OpenClipEncoder:
    """ViT-B-32 with its image tower in fp32, the reference the bf16 test compares with."""
    encoder = OpenClipEncoder(B32)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MMSEARCH_OPEN_CLIP_PRECISION", "fp32")
        assert encoder.model().images.dtype == torch.float32
    return encoder


@pytest.fixture(scope="module")
def tiny_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny model made by open_clip itself, saved as safetensors: the reference's weights."""
    register_own_configs()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(1234)
        model = open_clip.create_model(TINY_ARCH)
    path = tmp_path_factory.mktemp("weights") / "tiny.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path))
    return path


def photo(size: tuple[int, int], seed: int) -> Image.Image:
    """A detailed, photo-like picture: smooth shapes, fine stripes and sensor-like noise."""
    width, height = size
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    channels = [
        128 + 90 * np.sin(xs / (width / (3 + seed)) + c) * np.cos(ys / (height / 2.5))
        for c in range(3)
    ]
    pixels = np.stack(channels, axis=-1)
    pixels += (14 * np.sin(xs * 0.9 + ys * 0.35))[..., None]
    pixels += rng.normal(0, 6, (height, width, 1))
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def source(path: Path, **options: Any) -> Source:
    raw = os.fsencode(path)
    return Source(raw, str(path), path.stat().st_size, ExtractSettings(options=options))


def extract_picture(path: Path, **options: Any) -> Image.Image:
    segments = list(PillowImageExtractor().extract(source(path, **options)))
    assert len(segments) == 1
    picture = segments[0].content
    assert isinstance(picture, Image.Image) and picture.mode == "RGB"
    return picture


def cosine(a: np.ndarray[Any, Any], b: np.ndarray[Any, Any]) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def open_library(db_path: Path, encoder: OpenClipEncoder) -> Library:
    plugin = PluginObject([PillowImageExtractor()], [encoder])
    return Library.open(db_path, registry=load_plugins(plugin, discover=False))


@pytest.fixture
def pictures(tmp_path: Path) -> Path:
    root = tmp_path / "pictures"
    root.mkdir()
    for i in range(3):
        photo((96 + 16 * i, 80), seed=i).save(root / f"photo{i}.png")
    photo((640, 480), seed=7).save(root / "camera.jpg", quality=90)
    return root


# -- the encoder through the engine --------------------------------------------------------


def test_tiny_model_indexes_and_answers_text_and_image_queries(
    tiny: OpenClipEncoder, pictures: Path, db_path: Path
) -> None:
    with open_library(db_path, tiny) as lib:
        report = lib.index(pictures)
        assert report.indexed == 4 and not report.failed and not report.skipped
        space = lib.status().spaces[0]
        assert (space.encoder, space.checkpoint, space.dim) == ("open-clip", TINY, 64)
        # Random weights embed every picture nearly alike: no duplicate collapse here.
        plain = SearchOptions(k=10, keep_weak=True, no_rerank=("dedupe",))
        by_text = lib.search("a photo of a cat", options=plain).hits
        assert len(by_text) == 4
        by_image = lib.search(examples=[pictures / "photo1.png"], options=plain).hits
        assert Path(by_image[0].path).name == "photo1.png"
        [vector] = [s for s in by_image[0].why["signals"] if s["signal"].startswith("vector:")]
        assert vector["raw"] == pytest.approx(1.0, abs=1e-4)


def test_engine_vectors_equal_open_clip_reference_pipeline_for_png(
    tiny_weights: Path, pictures: Path, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MMSEARCH_OPEN_CLIP_PRECISION", "fp32")  # bf16 has its own test
    reference, _, preprocess = open_clip.create_model_and_transforms(
        TINY_ARCH, pretrained=str(tiny_weights)
    )
    reference.eval()
    encoder = OpenClipEncoder(f"{TINY_ARCH}:{tiny_weights}")
    with open_library(db_path, encoder) as lib:
        lib.index(pictures)
        space = lib.catalog.active_space()
        assert space is not None
        # Random weights embed every picture nearly alike: no duplicate collapse here.
        plain = SearchOptions(k=10, keep_weak=True, no_rerank=("dedupe",))
        hits = [h for h in lib.search("anything", options=plain).hits if h.path.endswith(".png")]
        stored = lib.catalog.vectors_for(space.id, [h.segment_id for h in hits])
        query = lib.query("a red car", k=1)  # the text path, through the engine
        assert query
    assert len(hits) == 3
    with torch.no_grad():
        for hit in hits:
            image = preprocess(Image.open(hit.path).convert("RGB")).unsqueeze(0)
            expected = reference.encode_image(image, normalize=True)[0].numpy()
            assert cosine(stored[hit.segment_id], expected) >= 0.9999, hit.path
        text = reference.encode_text(open_clip.tokenize(["a red car"]), normalize=True)[0]
    ours = encoder.encode_batch("text", ["a red car"])[0]
    assert cosine(ours, text.numpy()) >= 0.9999


def test_random_weights_are_the_same_in_every_load(tiny: OpenClipEncoder) -> None:
    again = OpenClipEncoder(TINY)
    images = probe_images(64, 2)
    assert np.allclose(again.encode_batch("image", images), tiny.encode_batch("image", images))
    # After its first image batch an encoder embeds texts with the ONNX copy of the text
    # tower (and frees torch's), so the two may embed "x" on different runtimes: equal to
    # float rounding, not bit for bit.
    assert np.allclose(
        again.encode_batch("text", ["x"]), tiny.encode_batch("text", ["x"]), atol=1e-6
    )


class TestOpenClipConformance(EncoderConformance):
    """The plugin kit's encoder contract, on the tiny random model."""

    @pytest.fixture
    def encoder(self, tiny: OpenClipEncoder) -> OpenClipEncoder:
        return OpenClipEncoder(TINY) if tiny.loaded else tiny


# -- lazy loading, configure, checkpoints ----------------------------------------------------

# What makes the check quick, checked without a clock: no heavy import, no connection.
_REGISTRATION_PROBE = """
import json, socket, sys
from mmsearch.plugins import load_plugins
attempts = []
def refuse(sock, address):
    attempts.append(repr(address))
    raise OSError("the registration probe allows no connection")
socket.socket.connect = socket.socket.connect_ex = refuse
encoder = load_plugins().encoder("open-clip")
reason = encoder.unavailable_reason()
print(json.dumps({
    "connections": attempts,
    "reason": reason,
    "heavy": sorted(m for m in ("torch", "open_clip", "torchvision") if m in sys.modules),
    "dim": encoder.dim,
    "checkpoint": encoder.checkpoint,
    "loaded": encoder.loaded,
}))
"""


def test_registration_and_offline_check_import_no_torch_and_connect_nowhere(
    tmp_path: Path,
) -> None:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(tmp_path / "hf")}
    env.pop("MMSEARCH_LOAD_PLUGINS", None)
    run = subprocess.run(
        [sys.executable, "-c", _REGISTRATION_PROBE],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=True,
    )
    found = json.loads(run.stdout.strip().splitlines()[-1])
    assert found["heavy"] == [] and found["loaded"] is False
    assert (found["dim"], found["checkpoint"]) == (512, "ViT-B-32:laion2b_s34b_b79k")
    assert found["connections"] == []
    assert "HF_HUB_OFFLINE=1" in found["reason"]
    assert str(tmp_path / "hf" / DEFAULT_REPO_FOLDER) in found["reason"]
    assert "--model ViT-B-32:/path/to/open_clip_model.safetensors" in found["reason"]


def test_configure_reads_the_config_and_loads_nothing() -> None:
    default = OpenClipEncoder()
    other = default.configure(B32)
    tiny = default.configure(TINY)
    assert default.configure("") is default
    assert default.configure(default.checkpoint) is default
    assert (other.dim, other.image_min_side, other.loaded) == (512, 224, False)
    assert (tiny.dim, tiny.image_min_side, tiny.loaded) == (64, 64, False)
    assert other.space_key != default.space_key
    assert default.configure("ViT-B-16:laion2b_s34b_b88k").image_min_side == 224


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("ViT-B-99:openai", "Did you mean"),
        ("ViT-B-32", "laion2b_s34b_b79k"),
        ("ViT-B-32:no_such_tag", "Tags for ViT-B-32"),
        ("ViT-B-32:/no/such/weights.safetensors", "does not exist"),
        ("hf-hub:laion/CLIP-ViT-B-32-laion2B-s34B-b79K", "not supported"),
        (f"{TINY_ARCH}:openai", "has no pretrained tags"),
        ("no-such-checkpoint-for-mmsearch-conformance", "unknown open_clip architecture"),
    ],
)
def test_configure_refuses_with_the_valid_choices(value: str, expected: str) -> None:
    with pytest.raises(ValueError, match=expected):
        OpenClipEncoder().configure(value)


def test_tags_are_normalised_like_open_clip_does() -> None:
    assert OpenClipEncoder("ViT-B-32:LAION2B-S34B-B79K").checkpoint == "ViT-B-32:laion2b_s34b_b79k"


def test_local_files_are_spaces_of_their_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = tmp_path / "a.safetensors", tmp_path / "b.safetensors"
    first.write_bytes(b"weights one")
    second.write_bytes(b"weights two")
    one = OpenClipEncoder(f"ViT-B-32:{first}")
    two = OpenClipEncoder(f"ViT-B-32:{second}")
    assert one.space_key != two.space_key
    assert one.checkpoint.startswith(f"ViT-B-32:{first}@sha256:")
    assert one.unavailable_reason() is None

    # Reopening a library reads the digest from the checkpoint instead of rehashing the file.
    def no_hashing(path: str) -> str:
        raise AssertionError("hashed again")

    monkeypatch.setattr("mmsearch_open_clip.choice.file_digest", no_hashing)
    again = OpenClipEncoder().configure(one.checkpoint)
    assert again.checkpoint == one.checkpoint and again.space_key == one.space_key


def test_a_changed_weights_file_is_refused_when_loading(tmp_path: Path) -> None:
    path = tmp_path / "w.safetensors"
    path.write_bytes(b"original")
    encoder = OpenClipEncoder(f"ViT-B-32:{path}")
    path.write_bytes(b"replaced")
    with pytest.raises(weights_module.WeightsChanged, match="changed since"):
        weights_module.weights_file(encoder.choice)
    path.unlink()
    reason = encoder.unavailable_reason()
    assert reason is not None and "is missing" in reason and str(path) in reason


def test_a_pickle_only_weights_file_is_refused_not_unpickled(tmp_path: Path) -> None:
    path = tmp_path / "evil.pt"
    torch.save({"state_dict": {"x": torch.zeros(1)}, "note": object.__new__(_Marker)}, path)
    encoder = OpenClipEncoder(f"{TINY_ARCH}:{path}")
    with pytest.raises(runtime_module.UnsafeWeightsError, match="safetensors"):
        encoder.encode_batch("text", ["x"])
    assert not _Marker.unpickled


def test_a_failed_load_is_not_retried_for_every_input(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "w.safetensors"
    path.write_bytes(b"not a safetensors file")
    encoder = OpenClipEncoder(f"{TINY_ARCH}:{path}")
    loads: list[str] = []
    real = weights_module.weights_file
    monkeypatch.setattr(runtime_module, "weights_file", lambda c: loads.append(c.label) or real(c))
    outcome = encode_all(encoder, "text", ["a", "b", "c", "d"])
    assert all(error and "mmsearch-tiny" in error for error in outcome.errors)
    assert len(loads) == 1


class _Marker:
    unpickled = False

    def __setstate__(self, state: Any) -> None:
        _Marker.unpickled = True


# -- are the weights available? ------------------------------------------------------------


def _fake_hf_cache(root: Path, filename: str) -> Path:
    repo = root / DEFAULT_REPO_FOLDER
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("abc123")
    snapshot = repo / "snapshots" / "abc123"
    snapshot.mkdir(parents=True)
    (snapshot / filename).write_bytes(b"weights")
    return snapshot / filename


@pytest.fixture
def hf_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    from huggingface_hub import constants

    folder = tmp_path / "hf-cache"
    folder.mkdir()
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(folder))
    return folder


@pytest.mark.parametrize("filename", ["open_clip_model.safetensors", "open_clip_pytorch_model.bin"])
def test_cached_weights_make_the_default_available_without_network(
    hf_cache: Path, filename: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    cached = _fake_hf_cache(hf_cache, filename)
    encoder = OpenClipEncoder()
    assert encoder.unavailable_reason() is None
    assert weights_module.weights_file(encoder.choice) == str(cached)


def test_a_hub_that_never_answers_is_given_up_after_the_probe_limit_and_said_so(
    hf_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No wall time: the connection hangs until the test ends, and the clock runs out at once."""
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    answer = threading.Event()
    connects: list[float | None] = []
    waits: list[float] = []

    def hang(address: Any, timeout: float | None = None, **kwargs: Any) -> Any:
        connects.append(timeout)
        answer.wait()
        raise OSError("timed out")

    monkeypatch.setattr("socket.create_connection", hang)
    monkeypatch.setattr(network_module, "_wait", lambda worker, seconds: waits.append(seconds))
    try:
        reason = OpenClipEncoder().unavailable_reason()
    finally:
        answer.set()  # the abandoned probe thread ends
    limit = network_module.PROBE_SECONDS
    assert waits == [limit] and connects == [limit]  # bounded, in the thread and the socket
    assert reason is not None and f"did not answer within {limit:g} s" in reason
    assert "huggingface.co" in reason and "cannot be downloaded" in reason


def test_probe_reports_refused_connections() -> None:
    reason = unreachable_reason("http://127.0.0.1:9/", timeout=1.0)
    assert reason is not None and "127.0.0.1:9" in reason


def test_random_weights_are_always_available(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert OpenClipEncoder(B32).unavailable_reason() is None


def test_default_source_table_agrees_with_open_clip() -> None:
    for checkpoint, known in weights_module.KNOWN_SOURCES.items():
        choice = parse_choice(checkpoint)
        assert weights_module.source_of(known) == weights_module.source_of(
            weights_module.pretrained_config(choice)
        )
    constants = open_clip.constants
    assert weights_module.HF_WEIGHTS == constants.HF_WEIGHTS_NAME
    assert weights_module.HF_SAFE_WEIGHTS == constants.HF_SAFE_WEIGHTS_NAME


# -- text: trimming and the query cache ------------------------------------------------------

SHORT_TEXTS = ["a cat", "", "hello! world!", "invoice 12345", "a dog on a red sofa"]
LONG_TEXT = "word " * 120  # over the 77-token context: truncated, nothing to trim


@pytest.mark.parametrize("which", ["tiny", "b32"])
def test_trimmed_text_equals_full_length(which: str, request: pytest.FixtureRequest) -> None:
    encoder: OpenClipEncoder = request.getfixturevalue(which)
    tower = encoder.model().texts
    assert tower.trims
    texts = [*SHORT_TEXTS, LONG_TEXT] if which == "tiny" else SHORT_TEXTS
    tokens = tower._tokens(texts)
    full = tower._full(tokens)
    assert float((full - tower._trimmed(tokens)).abs().max()) <= 1e-5
    for i, text in enumerate(texts):  # alone, each is cut to its own length
        alone = tower._trimmed(tower._tokens([text]))[0]
        assert float((alone - full[i]).abs().max()) <= 1e-5


def test_trimming_stays_off_when_the_check_fails(
    tiny: OpenClipEncoder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(text_module, "TRIM_TOLERANCE", -1.0)
    model = tiny.model()
    assert not TextTower(model.model, model.texts.tokenizer).trims


def test_trimming_stays_off_for_bidirectional_text_towers(tiny: OpenClipEncoder) -> None:
    model = tiny.model().model
    saved = model.attn_mask
    try:
        model.attn_mask = None
        assert not text_module.can_trim(model)
    finally:
        model.attn_mask = saved


def test_repeated_queries_come_from_the_cache(
    tiny: OpenClipEncoder, monkeypatch: pytest.MonkeyPatch
) -> None:
    tower = tiny.model().texts
    first = tiny.encode_batch("text", ["a sunny beach at noon"])
    calls: list[list[str]] = []
    real = tower._embed
    monkeypatch.setattr(tower, "_embed", lambda texts: calls.append(texts) or real(texts))
    again = tiny.encode_batch("text", ["a sunny beach at noon", "something new"])
    assert calls == [["something new"]]
    assert np.array_equal(first[0], again[0])
    again[0, 0] = 99.0  # callers get copies: the cache cannot be corrupted
    assert tiny.encode_batch("text", ["a sunny beach at noon"])[0, 0] != 99.0


# -- image tower: bf16 ---------------------------------------------------------------------


def test_bf16_image_tower_keeps_cosine_to_fp32(b32: OpenClipEncoder) -> None:
    """Smoke test only: bf16 runs and gives vectors of the right shape and sense.

    On random weights this proves little (random towers are nearly blind to detail);
    tests/test_open_clip_fidelity.py checks bf16 on a model with trained weights."""
    model = b32.model()
    images = probe_images(224) + [photo((320, 240), seed=s) for s in range(4)]
    batch = model.images.tensors(images)
    fp32 = model.images.forward(batch)
    visual = copy.deepcopy(model.model.visual).to(torch.bfloat16)  # the shared model stays fp32
    with torch.inference_mode():
        bf16 = F.normalize(visual(batch.to(torch.bfloat16)).float(), dim=-1)
    cosines = (bf16 * fp32).sum(dim=-1)
    assert float(cosines.min()) >= 0.99, cosines


def test_bf16_is_used_only_when_it_keeps_vectors(
    tiny: OpenClipEncoder, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("MMSEARCH_OPEN_CLIP_PRECISION", "bf16")
    model = runtime_module.create_model(tiny.choice)  # fp32 until a tower converts it
    assert ImageTower(copy.deepcopy(model)).dtype == torch.bfloat16
    monkeypatch.setattr(runtime_module, "BF16_MIN_COSINE", 1.01)
    fallback = ImageTower(copy.deepcopy(model))
    assert fallback.dtype == torch.float32
    assert next(fallback.model.visual.parameters()).dtype == torch.float32
    assert "stays fp32" in caplog.text


def test_auto_precision_wants_bf16_only_with_native_bf16(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MMSEARCH_OPEN_CLIP_PRECISION", raising=False)
    assert wants_bf16({"amx_bf16": True, "avx512_bf16": True})
    assert wants_bf16({"amx_bf16": False, "avx512_bf16": True})
    assert not wants_bf16({"amx_bf16": False, "avx512_bf16": False, "avx2": True})
    monkeypatch.setenv("MMSEARCH_OPEN_CLIP_PRECISION", "fp32")
    assert not wants_bf16({"amx_bf16": True})
    monkeypatch.setenv("MMSEARCH_OPEN_CLIP_PRECISION", "fast")
    with pytest.raises(ValueError, match="auto, fp32, bf16"):
        wants_bf16({})


def test_threads_follow_physical_cores_unless_told(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MMSEARCH_TORCH_THREADS", raising=False)
    assert thread_count({"num_physical_cores": 2}) == 2
    assert thread_count({"num_physical_cores": 0}) == max(1, os.cpu_count() or 1)
    monkeypatch.setenv("MMSEARCH_TORCH_THREADS", "1")
    assert thread_count({"num_physical_cores": 2}) == 1
    monkeypatch.setenv("MMSEARCH_TORCH_THREADS", "two")
    with pytest.raises(ValueError, match="MMSEARCH_TORCH_THREADS"):
        thread_count({})


@pytest.mark.skipif(not has_native_bf16(), reason="no AMX-BF16 or AVX512-BF16: auto stays fp32")
def test_auto_precision_loads_bf16_where_the_cpu_has_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MMSEARCH_OPEN_CLIP_PRECISION", raising=False)
    model = OpenClipEncoder(TINY).model()
    assert model.images.dtype == torch.bfloat16
    assert next(model.model.visual.parameters()).dtype == torch.bfloat16
    assert next(model.model.transformer.parameters()).dtype == torch.float32  # text stays fp32


# -- decoding: draft mode and HEIF -----------------------------------------------------------


@pytest.fixture(scope="module")
def camera_jpegs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    folder = tmp_path_factory.mktemp("camera")
    paths = []
    for seed, size in enumerate([(1600, 1200), (1200, 1600), (1000, 900)]):
        path = folder / f"camera{seed}.jpg"
        photo(size, seed).save(path, quality=90)
        paths.append(path)
    return paths


def test_draft_decoding_keeps_embeddings_of_the_reference_path(
    b32: OpenClipEncoder, tiny: OpenClipEncoder, camera_jpegs: list[Path]
) -> None:
    """Smoke test only: drafted pictures embed, at the size the extractor promises.

    Random weights give cosine >= 0.99 even to a blur of radius 8 or a wrong resize
    filter, so the cosine bar here cannot catch a lossy path; the input-tensor check
    against open_clip's preprocess in tests/test_open_clip_fidelity.py can."""
    keep = reduce_module.KEEP_FACTOR * 224
    for path in camera_jpegs:
        full = extract_picture(path)
        drafted = extract_picture(path, image_min_side=b32.image_min_side)
        assert min(drafted.size) >= keep and drafted.size[0] < full.size[0]
        for encoder in (b32, tiny):
            vectors = encoder.encode_batch("image", [full, drafted])
            assert cosine(vectors[0], vectors[1]) >= 0.99, (path.name, encoder.checkpoint)


@pytest.mark.parametrize("fmt", ["PNG", "WEBP"])
def test_large_non_jpeg_pictures_are_reduced_keeping_embeddings(
    b32: OpenClipEncoder, tiny: OpenClipEncoder, tmp_path: Path, fmt: str
) -> None:
    """Smoke test only (random weights, see above); the size is what is checked here."""
    path = tmp_path / f"scan.{fmt.lower()}"
    photo((1400, 1050), 5).save(path, format=fmt, **({"lossless": True} if fmt == "WEBP" else {}))
    full = extract_picture(path)
    reduced = extract_picture(path, image_min_side=224)
    assert reduced.size == (700, 525)  # 1/2: the largest factor keeping twice 224
    for encoder in (b32, tiny):
        vectors = encoder.encode_batch("image", [full, reduced])
        assert cosine(vectors[0], vectors[1]) >= 0.99, encoder.checkpoint


def test_reduction_only_with_a_sane_side_and_never_below_it(tmp_path: Path) -> None:
    jpeg = tmp_path / "big.jpg"
    photo((900, 700), 1).save(jpeg, quality=90)
    # Pictures keep twice the side: 1/2 keeps 350 >= 2 x 112, and 1/2 would leave < 2 x 400.
    assert extract_picture(jpeg, image_min_side="112").size == (450, 350)  # from --set
    assert extract_picture(jpeg, image_min_side=400).size == (900, 700)
    small = tmp_path / "small.png"
    photo((300, 200), 1).save(small)
    assert extract_picture(small, image_min_side=224).size == (300, 200)
    for bad in ("abc", 0, -5, True, None):
        assert draft_side(source(jpeg, image_min_side=bad)) is None
        assert extract_picture(jpeg, image_min_side=bad).size == (900, 700)


def test_draft_decoding_applies_exif_rotation_after_reducing(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    path = tmp_path / "rotated.jpg"
    photo((1200, 800), 3).save(path, quality=90, exif=exif.tobytes())
    assert extract_picture(path, image_min_side=200).size == (400, 600)  # 1/2, then turned


# An ftyp box with the HEIC brand, then junk: enough to be recognised, not to be decoded.
HEIC_HEADER = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + bytes(64)


def _heic_bytes(size: tuple[int, int] = (64, 48)) -> bytes:
    pillow_heif = pytest.importorskip("pillow_heif")
    image = Image.new("RGB", size, (200, 30, 30))
    image.paste((0, 0, 255), (0, 0, size[0] // 3, size[1] // 3))
    buffer = io.BytesIO()
    pillow_heif.from_pillow(image).save(buffer, quality=95)
    return buffer.getvalue()


def test_heic_photo_is_decoded_when_pillow_heif_is_installed(tmp_path: Path) -> None:
    path = tmp_path / "phone.HEIC"
    path.write_bytes(_heic_bytes())
    assert PillowImageExtractor().sniff(path.read_bytes()[:64])
    picture = extract_picture(path)
    assert picture.size == (64, 48)
    red = picture.getpixel((60, 44))
    assert isinstance(red, tuple) and red[0] > 150 and red[2] < 80


def test_heic_without_pillow_heif_is_one_missing_decoder_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setitem(sys.modules, "pillow_heif", None)  # import now fails
    monkeypatch.setattr(heif_module, "_registered", False)
    root = tmp_path / "phone"
    root.mkdir()
    for i in range(3):
        (root / f"IMG_{i}.heic").write_bytes(HEIC_HEADER)
    with pytest.raises(SkipFile) as skipped:
        list(PillowImageExtractor().extract(source(root / "IMG_0.heic")))
    assert skipped.value.reason == "missing decoder" and skipped.value.once
    assert "pip install pillow-heif" in skipped.value.detail
    outcome = extract_file([PillowImageExtractor()], source(root / "IMG_1.heic"))
    assert (outcome.status, outcome.reason, outcome.once) == ("skipped", "missing decoder", True)
    plugin = PluginObject([PillowImageExtractor()], [CountingEncoder()])
    with Library.open(
        tmp_path / "db" / "c.db", registry=load_plugins(plugin, discover=False)
    ) as lib:
        report = lib.index(root)
    assert [p.reason for p in report.skipped] == ["missing decoder"] * 3
    assert caplog.text.count("pip install pillow-heif") == 1


def test_heif_sniffing_leaves_avif_and_other_iso_files_alone() -> None:
    extractor = PillowImageExtractor()
    heic = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic"
    avif = b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miaf"
    avif_generic = b"\x00\x00\x00\x1cftypmif1\x00\x00\x00\x00mif1avifmiaf"
    mp4 = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2"
    assert extractor.sniff(heic)
    assert not any(extractor.sniff(head) for head in (avif, avif_generic, mp4))
