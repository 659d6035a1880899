"""Making the ONNX copy of a loaded model's text tower (imports torch; runs at load time).

The graph is ``forward_tokens`` of :mod:`mmsearch_open_clip.text` on one row of 77 tokens
(unnormalised text features out). Its shapes are fixed: the TorchScript exporter bakes
``nn.MultiheadAttention``'s reshapes into constants, so a graph traced with a dynamic batch
or length fails on any other (measured: onnxruntime refuses the reshape); a query embeds
one text, and the causal tower gives the same vector at full length as trimmed. It is
exported from the fp32 tower on the CPU and kept only if it gives the torch tower's
vectors (cosine at least 0.9999) on probe texts of several lengths (see
:mod:`mmsearch.onnx_cache`).
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

import torch

from mmsearch.onnx_cache import export_checked, smallest_cosine
from mmsearch.torch_device import PROBE_TEXTS
from mmsearch_open_clip import bpe
from mmsearch_open_clip.onnx_text import INPUT, OnnxTextTower, copy_path
from mmsearch_open_clip.text import TextTower, forward_tokens

log = logging.getLogger(__name__)

CHECK_TEXTS = (*PROBE_TEXTS, "red car", "A dog running on the beach at sunset, 2019")
OPSET = 17


class _TextGraph(torch.nn.Module):
    def __init__(self, model: Any) -> None:
        super().__init__()
        self.model = model

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return forward_tokens(self.model, tokens).float()


def _export(model: Any, path: Path) -> None:
    example = torch.tensor(bpe.tokenizer()(["a photo of a cat"]))  # type: ignore[misc]
    # The exporter's notes (tracer and opset warnings) are for graph authors, not for the
    # user of an index run; the copy is checked against torch before it is kept.
    with torch.inference_mode(False), torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            _TextGraph(model),
            (example,),
            str(path),
            input_names=[INPUT],
            output_names=["features"],
            opset_version=OPSET,
            dynamo=False,
        )


def export_text_tower(tower: TextTower, choice: Any, dim: int) -> bool:
    """Make the copy for a loaded model if it can have one and has none yet; True if made."""
    path = copy_path(choice)
    tokenizer = bpe.tokenizer()
    if path is None or tokenizer is None or path.exists():
        return False
    if not tower.trims or tower.dtype != torch.float32 or tower.device.type != "cpu":
        return False  # the graph assumes a trimmable fp32 tower (on a GPU, torch answers)
    reference = tower.encode(list(CHECK_TEXTS))

    def check(session: Any) -> float:
        onnx = OnnxTextTower(session, tokenizer, dim)
        return smallest_cosine(reference, onnx.vectors(tokenizer(list(CHECK_TEXTS))))

    return export_checked(
        path, lambda tmp: _export(tower.model, tmp), check, f"{choice.label} text tower"
    )
