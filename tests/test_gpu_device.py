"""The GPU path of the torch encoders, as far as a machine without a GPU can check it.

``MMSEARCH_DEVICE`` chooses the device (mmsearch.torch_device); without CUDA everything
stays on the CPU with one log line. The half-precision check runs here on CPU tensors, with
the device injected as the CPU: the same code decides fp16 on a GPU. The branch that moves
tensors to a CUDA device runs only where there is one (bench/gpu_check.py).
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Iterator
from typing import Any

import numpy as np
import open_clip
import pytest
import torch
import torch.nn.functional as F
from mmsearch_open_clip import TINY_ARCH, OpenClipEncoder
from mmsearch_open_clip import runtime as runtime_module
from mmsearch_open_clip.configs import register_own_configs
from mmsearch_open_clip.hardware import half_precision
from mmsearch_open_clip.runtime import RANDOM_SEED, ImageTower, half_to_try
from mmsearch_open_clip.text import TextTower

from mmsearch import torch_device as device_module
from mmsearch.torch_device import (
    DeviceError,
    batch_size,
    default_half,
    encoder_device,
    half_copy,
    probe_images,
    resolve_device,
)

TINY = f"{TINY_ARCH}:random"
CPU = torch.device("cpu")


class Records(logging.Handler):
    """Every record of one logger, whatever the CLI did to its parents' propagation."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    @property
    def messages(self) -> list[str]:
        return [record.getMessage() for record in self.records]


@pytest.fixture
def device_log(monkeypatch: pytest.MonkeyPatch) -> Iterator[Records]:
    """A fresh per-process device choice, no CUDA, and the device logger's records."""
    monkeypatch.delenv("MMSEARCH_DEVICE", raising=False)
    monkeypatch.setattr(device_module, "_chosen", {})
    monkeypatch.setattr(device_module, "cuda_device_count", lambda: 0)
    logger = logging.getLogger("mmsearch.device")
    handler = Records()
    monkeypatch.setattr(logger, "level", logging.INFO)
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)


@pytest.fixture(scope="module")
def tiny_model() -> Any:
    """The tiny random model in fp32 on the CPU; tests convert copies of it."""
    return runtime_module.create_model(OpenClipEncoder(TINY).choice)


# -- choosing the device ---------------------------------------------------------------------


def test_auto_without_cuda_runs_on_the_cpu_with_one_log_line_for_all_batches(
    device_log: Records, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MMSEARCH_OPEN_CLIP_PRECISION", "fp32")
    encoder = OpenClipEncoder(TINY)
    assert encoder.batch_size == 64
    for _ in range(3):
        encoder.encode_batch("image", probe_images(64, 2))
        encoder.encode_batch("text", ["a cat", "a dog"])
    model = encoder.model()
    assert model.device == CPU and encoder.batch_size == 64
    assert {p.device for p in model.model.parameters()} == {CPU}
    assert encoder_device() == CPU
    assert device_log.messages == [
        "mmsearch encoders run on the CPU: torch sees no CUDA device (MMSEARCH_DEVICE=auto)"
    ]


@pytest.mark.parametrize("setting", ["cuda", "CUDA", "cuda:0", " cuda:1 "])
def test_cuda_asked_for_without_cuda_is_an_error_naming_the_variable(
    setting: str, device_log: Records, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MMSEARCH_DEVICE", setting)
    with pytest.raises(DeviceError, match=r"MMSEARCH_DEVICE=cuda.* torch sees none") as raised:
        encoder_device()
    assert "MMSEARCH_DEVICE=cpu" in str(raised.value)  # what to do instead
    assert device_log.messages == []  # no choice was made, none is announced


def test_an_encoder_told_to_use_cuda_without_it_fails_to_load_with_that_error(
    device_log: Records, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MMSEARCH_DEVICE", "cuda")
    encoder = OpenClipEncoder(TINY)
    assert encoder.batch_size == 64  # reading a capability never raises
    with pytest.raises(DeviceError, match="MMSEARCH_DEVICE=cuda"):
        encoder.encode_batch("text", ["x"])
    with pytest.raises(RuntimeError, match="MMSEARCH_DEVICE=cuda"):  # remembered, not retried
        encoder.encode_batch("text", ["x"])


def test_unknown_setting_lists_the_valid_ones(
    device_log: Records, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MMSEARCH_DEVICE", "gpu")
    with pytest.raises(DeviceError, match=r"MMSEARCH_DEVICE='gpu' is not one of auto, cpu, cuda"):
        encoder_device()
    assert batch_size(32) == 32


def test_cpu_forced_stays_on_the_cpu_even_with_gpus(
    device_log: Records, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(device_module, "cuda_device_count", lambda: 2)
    monkeypatch.setenv("MMSEARCH_DEVICE", "cpu")
    assert encoder_device() == CPU
    assert encoder_device() == CPU
    assert batch_size(64) == 64
    assert device_log.messages == ["mmsearch encoders run on the CPU (MMSEARCH_DEVICE=cpu)"]


def test_settings_resolve_to_devices() -> None:
    assert resolve_device("auto", 0) == "cpu"
    assert resolve_device("auto", 2) == "cuda:0"
    assert resolve_device("cuda", 1) == "cuda:0"
    assert resolve_device("cuda:1", 2) == "cuda:1"
    assert resolve_device("cpu", 4) == "cpu"
    with pytest.raises(DeviceError, match=r"GPU 2, but torch sees 2 \(cuda:0 to cuda:1\)"):
        resolve_device("cuda:2", 2)


def test_precision_to_try_follows_the_device(monkeypatch: pytest.MonkeyPatch) -> None:
    cuda = torch.device("cuda")  # a name only: nothing runs on it
    monkeypatch.delenv("MMSEARCH_OPEN_CLIP_PRECISION", raising=False)
    assert half_precision(True, {}) == "fp16"
    assert half_precision(False, {}) is None  # no native bf16: fp32
    assert half_precision(False, {"avx512_bf16": True}) == "bf16"
    assert half_to_try(cuda) == torch.float16
    assert default_half(cuda) == torch.float16 and default_half(CPU) == torch.float32
    monkeypatch.setenv("MMSEARCH_OPEN_CLIP_PRECISION", "bf16")
    assert half_to_try(cuda) == torch.bfloat16
    monkeypatch.setenv("MMSEARCH_OPEN_CLIP_PRECISION", "fp32")
    assert half_to_try(cuda) == torch.float32
    monkeypatch.setenv("MMSEARCH_OPEN_CLIP_PRECISION", "fp16")
    assert half_precision(False, {}) == "fp16"


# -- the half-precision check, on the CPU ----------------------------------------------------


def test_fp16_image_tower_is_kept_when_it_keeps_the_vectors(tiny_model: Any) -> None:
    images = probe_images(64, 4)
    fp32 = ImageTower(copy.deepcopy(tiny_model), device=CPU, half=torch.float32)
    fp16 = ImageTower(copy.deepcopy(tiny_model), device=CPU, half=torch.float16)
    assert fp32.dtype == torch.float32 and fp16.dtype == torch.float16
    assert next(fp16.model.visual.parameters()).dtype == torch.float16
    assert next(fp16.model.transformer.parameters()).dtype == torch.float32
    reference, vectors = fp32.encode(images), fp16.encode(images)
    assert vectors.dtype == np.float32
    assert float(np.sum(reference * vectors, axis=1).min()) >= 0.999


def test_fp16_image_tower_falls_back_to_fp32_with_one_warning(
    tiny_model: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(runtime_module, "HALF_MIN_COSINE", 1.01)
    with caplog.at_level(logging.INFO, logger=runtime_module.log.name):
        tower = ImageTower(copy.deepcopy(tiny_model), device=CPU, half=torch.float16)
    assert tower.dtype == torch.float32
    assert next(tower.model.visual.parameters()).dtype == torch.float32
    [line] = [r.getMessage() for r in caplog.records if r.name == runtime_module.log.name]
    assert line.startswith("open_clip image tower stays fp32: fp16 changed vectors too much")


@pytest.mark.parametrize("half", [torch.float16, torch.bfloat16])
def test_half_text_tower_keeps_vectors_and_leaves_the_image_tower_alone(
    tiny_model: Any, half: torch.dtype
) -> None:
    tokenizer = open_clip.get_tokenizer(TINY_ARCH)
    texts = ["a photo of a dog on the beach", "quarterly budget", "", "x " * 90]
    reference = TextTower(copy.deepcopy(tiny_model), tokenizer, CPU).encode(texts)
    model = copy.deepcopy(tiny_model)
    tower = TextTower(model, tokenizer, CPU, half, min_cosine=0.99)
    assert tower.dtype == half and tower.trims
    assert next(model.transformer.parameters()).dtype == half
    assert model.token_embedding.weight.dtype == half
    assert next(model.visual.parameters()).dtype == torch.float32
    vectors = tower.encode(texts)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert float(np.sum(reference * vectors, axis=1).min()) >= 0.99


def test_half_text_tower_falls_back_to_fp32_untouched(
    tiny_model: Any, caplog: pytest.LogCaptureFixture
) -> None:
    tokenizer = open_clip.get_tokenizer(TINY_ARCH)
    model = copy.deepcopy(tiny_model)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with caplog.at_level(logging.INFO):
        tower = TextTower(model, tokenizer, CPU, torch.float16, min_cosine=1.01)
    assert tower.dtype == torch.float32
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert "open_clip text tower stays fp32: fp16 changed vectors too much" in caplog.text


def test_half_copy_refuses_what_cannot_run_or_overflows(caplog: pytest.LogCaptureFixture) -> None:
    module = torch.nn.Linear(4, 4)
    reference = torch.ones(2, 4)

    def fails(_: torch.nn.Module) -> torch.Tensor:
        raise RuntimeError("\"addmm\" not implemented for 'Half'")

    def overflows(_: torch.nn.Module) -> torch.Tensor:
        return torch.full((2, 4), float("nan"))

    logger = logging.getLogger("test_gpu_device.half_copy")
    with caplog.at_level(logging.INFO, logger=logger.name):
        for run in (fails, overflows):
            assert (
                half_copy("probe model", module, torch.float16, run, reference, logger=logger)
                is None
            )
        kept = half_copy(
            "probe model", module, torch.float16, lambda m: reference, reference, logger=logger
        )
    assert kept is not None and kept is not module and kept.weight.dtype == torch.float16
    assert module.weight.dtype == torch.float32
    assert "probe model stays fp32: it does not run in fp16 here" in caplog.text
    assert "changed vectors too much (cosine nan < 0.999)" in caplog.text
    assert "probe model runs in fp16 (cosine to fp32 1.0000)" in caplog.text


# -- vectors on the CPU are those of open_clip's reference pipeline --------------------------


def test_cpu_vectors_are_open_clips_reference_vectors(
    device_log: Records, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MMSEARCH_OPEN_CLIP_PRECISION", "fp32")
    encoder = OpenClipEncoder(TINY)
    images = probe_images(64, 3)
    texts = ["a red car", "a cat"]
    register_own_configs()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(RANDOM_SEED)
        reference, _, preprocess = open_clip.create_model_and_transforms(TINY_ARCH)
    reference.eval()
    with torch.no_grad():
        batch = torch.stack([preprocess(image) for image in images])
        image_rows = F.normalize(reference.encode_image(batch), dim=-1).numpy()
        tokens = open_clip.get_tokenizer(TINY_ARCH)(texts)
        text_rows = F.normalize(reference.encode_text(tokens), dim=-1).numpy()
    np.testing.assert_allclose(encoder.encode_batch("image", images), image_rows, atol=1e-6)
    np.testing.assert_allclose(encoder.encode_batch("text", texts), text_rows, atol=1e-5)
