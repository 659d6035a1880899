"""The ONNX copies of the text towers: the same vectors as torch, and torch when they fail.

open-clip is checked on the tiny architecture and on ViT-B-32 (random weights: the real
graph), the offline encoder on the all-MiniLM-L6-v2 weights it ships with. Every copy
lives in the test's own MMSEARCH_HOME (conftest), so each test makes its own.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import open_clip
import pytest
from mmsearch_offline import models as offline_models
from mmsearch_offline.onnx_text import OnnxTextModel
from mmsearch_offline.onnx_text import copy_path as offline_copy_path
from mmsearch_offline.text_model import TextModel
from mmsearch_open_clip import OpenClipEncoder, bpe
from mmsearch_open_clip.onnx_text import OnnxTextTower
from mmsearch_open_clip.onnx_text import copy_path as clip_copy_path

from mmsearch.onnx_cache import MIN_COSINE, WEIGHTS_FILE, smallest_cosine

TEXTS = [
    "a red car",
    "",
    "Invoice 4471 — total €12,50!",
    "naïve café &amp; 東京 😀 don't STOP",
    "word " * 120,
    "  spaces\tand\nnew lines  ",
]


def test_the_bpe_tokenizer_gives_open_clips_ids() -> None:
    ours = bpe.tokenizer()
    assert ours is not None
    theirs = open_clip.get_tokenizer("ViT-B-32")
    assert np.array_equal(ours(TEXTS), theirs(TEXTS).numpy())


def test_plain_ascii_texts_skip_ftfy_and_still_give_open_clips_ids() -> None:
    """A text of printable ASCII (no '&') is not handed to ftfy (import time of a cold
    query); open_clip, which always runs ftfy, must give the same ids for such texts."""
    import random

    rng = random.Random(11)
    alphabet = [chr(c) for c in range(0x20, 0x7F) if c != ord("&")] + ["\t", "\n", "\r\n"]
    texts = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 60))) for _ in range(500)]
    texts += ["a red car", "Invoice\r\n4471", "café &amp;amp; bar", "bell\x07 and \x1b[31mred"]
    ours = bpe.tokenizer()
    assert ours is not None
    theirs = open_clip.get_tokenizer("ViT-B-32")
    assert np.array_equal(ours(texts), theirs(texts).numpy())


@pytest.mark.parametrize("checkpoint", ["mmsearch-tiny:random", "ViT-B-32:random"])
def test_the_open_clip_copy_matches_torch_and_is_used_instead_of_it(checkpoint: str) -> None:
    torch_side = OpenClipEncoder(checkpoint)
    reference = torch_side.model().encode("text", TEXTS)  # loading leaves the copy
    path = clip_copy_path(torch_side.choice)
    assert path is not None and path.is_file()
    cold = OpenClipEncoder(checkpoint)
    vectors = cold.encode_batch("text", TEXTS)
    assert isinstance(cold.text_tower(), OnnxTextTower)
    assert not cold.loaded  # the torch model never loaded
    assert smallest_cosine(reference, vectors) >= MIN_COSINE


def test_a_damaged_open_clip_copy_falls_back_to_torch_and_is_made_again() -> None:
    first = OpenClipEncoder("mmsearch-tiny:random")
    reference = first.encode_batch("text", TEXTS)
    path = clip_copy_path(first.choice)
    assert path is not None and path.is_file()
    path.write_bytes(b"not an onnx model")
    fallback = OpenClipEncoder("mmsearch-tiny:random")
    vectors = fallback.encode_batch("text", TEXTS)
    assert fallback.loaded  # torch answered
    assert smallest_cosine(reference, vectors) >= MIN_COSINE
    assert OnnxTextTower.load(fallback.choice) is not None  # and left a good copy again


def test_a_copy_keeps_its_weights_mapped_beside_the_graph_and_loses_them_cleanly() -> None:
    first = OpenClipEncoder("mmsearch-tiny:random")
    reference = first.encode_batch("text", TEXTS)
    path = clip_copy_path(first.choice)
    assert path is not None and path.is_file()
    weights = path.parent / WEIGHTS_FILE
    # The weights are external data (mapped by onnxruntime), not inside the graph file.
    assert weights.stat().st_size > 10 * path.stat().st_size
    assert not [p for p in path.parent.parent.iterdir() if ".tmp" in p.name]  # no leftovers
    weights.unlink()
    assert OnnxTextTower.load(first.choice) is None  # no copy: torch answers ...
    assert not path.parent.exists()  # ... and the broken copy is gone, to be made again
    again = OpenClipEncoder("mmsearch-tiny:random")
    assert smallest_cosine(reference, again.encode_batch("text", TEXTS)) >= MIN_COSINE
    assert weights.is_file()


def test_mmsearch_onnx_off_keeps_torch_and_writes_no_copy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MMSEARCH_ONNX", "off")
    encoder = OpenClipEncoder("mmsearch-tiny:random")
    encoder.encode_batch("text", ["a red car"])
    assert encoder.loaded and encoder.text_tower() is None
    path = clip_copy_path(encoder.choice)
    assert path is not None and not path.exists()


def test_a_tokenizer_the_copy_does_not_implement_gets_no_copy(tmp_path: Path) -> None:
    config: dict[str, object] = {
        "text_cfg": {"hf_tokenizer_name": "timm/ViT-B-16-SigLIP", "context_length": 64}
    }
    assert not bpe.supports(config)
    assert bpe.supports({"text_cfg": {"context_length": 77}})


def test_the_offline_copy_matches_sentence_transformers_and_falls_back_when_damaged() -> None:
    torch_model = TextModel.load()
    reference = torch_model.encode(TEXTS)
    loaded = offline_models._load_text()  # no copy yet: sentence-transformers, leaving one
    assert isinstance(loaded, TextModel)
    copy = OnnxTextModel.load()
    assert copy is not None
    assert smallest_cosine(reference, copy.encode(TEXTS)) >= MIN_COSINE
    assert smallest_cosine(reference[:1], copy.encode(TEXTS[:1])) >= MIN_COSINE  # no padding
    assert isinstance(offline_models._load_text(), OnnxTextModel)
    offline_copy_path().write_bytes(b"damaged")
    assert isinstance(offline_models._load_text(), TextModel)  # torch again, and a new copy
    assert OnnxTextModel.load() is not None
