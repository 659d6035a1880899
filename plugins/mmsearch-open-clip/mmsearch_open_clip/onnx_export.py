"""Making the ONNX copy of a loaded model's text tower (imports torch; runs at load time).

The graph is the text tower of :func:`mmsearch_open_clip.text.forward_tokens` on one row
of tokens cut to its real length, written out block by block: the TorchScript exporter
bakes ``nn.MultiheadAttention``'s reshapes into constants (a graph traced at one length
fails at any other: onnxruntime refuses the reshape, measured), so attention is spelled
here with ``-1`` for the length, and the positions and the causal mask come in as inputs
rather than as slices at a traced length. Running the real tokens only, not all 77, is what
the torch path does too (exact for a causal, argmax-pooled tower). It is exported from the
fp32 tower on the CPU and kept only if it gives the torch tower's vectors (cosine at least
0.9999) on probe texts of several lengths (see :mod:`mmsearch.onnx_cache`).
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from open_clip.transformer import text_global_pool

from mmsearch.onnx_cache import export_checked, smallest_cosine
from mmsearch.torch_device import PROBE_TEXTS
from mmsearch_open_clip import bpe
from mmsearch_open_clip.onnx_text import INPUTS, OnnxTextTower, copy_path, graph_inputs
from mmsearch_open_clip.text import TextTower

log = logging.getLogger(__name__)

CHECK_TEXTS = (*PROBE_TEXTS, "red car", "A dog running on the beach at sunset, 2019")
OPSET = 17


def exportable(model: Any) -> bool:
    """Whether the text tower is laid out as the graph below spells it."""
    transformer = getattr(model, "transformer", None)
    blocks = getattr(transformer, "resblocks", None)
    if not getattr(transformer, "batch_first", False) or blocks is None:
        return False
    return all(
        isinstance(getattr(b, "attn", None), torch.nn.MultiheadAttention)
        and b.attn._qkv_same_embed_dim
        and b.attn.batch_first
        and not hasattr(b, "ln_1_kv")
        for b in blocks
    )


def _attention(attn: Any, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    heads, width = attn.num_heads, attn.embed_dim
    head = width // heads
    qkv = F.linear(x, attn.in_proj_weight, attn.in_proj_bias)
    qkv = qkv.reshape(1, -1, 3, heads, head).permute(2, 0, 3, 1, 4)
    scores = torch.matmul(qkv[0], qkv[1].transpose(-1, -2)) * (head**-0.5) + mask
    out = torch.matmul(scores.softmax(dim=-1), qkv[2]).transpose(1, 2).reshape(1, -1, width)
    return F.linear(out, attn.out_proj.weight, attn.out_proj.bias)


class _TextGraph(torch.nn.Module):
    def __init__(self, model: Any) -> None:
        super().__init__()
        self.model = model

    def forward(
        self, tokens: torch.Tensor, positions: torch.Tensor, mask: torch.Tensor
    ) -> torch.Tensor:
        model = self.model
        x = model.token_embedding(tokens) + model.positional_embedding[positions]
        for block in model.transformer.resblocks:
            x = x + block.ls_1(_attention(block.attn, block.ln_1(x), mask))
            x = x + block.ls_2(block.mlp(block.ln_2(x)))
        x = text_global_pool(model.ln_final(x), tokens, model.text_pool_type)
        projection = model.text_projection
        if isinstance(projection, torch.nn.Linear):
            x = projection(x)
        elif projection is not None:
            x = x @ projection
        out: torch.Tensor = x.float()
        return out


def _export(model: Any, path: Path) -> None:
    tokenizer = bpe.tokenizer()
    assert tokenizer is not None
    inputs = graph_inputs(tokenizer(["a photo of a cat"])[0])
    example = tuple(torch.from_numpy(inputs[name]) for name in INPUTS)
    dynamic = {"tokens": {1: "length"}, "positions": {0: "length"}, "mask": {0: "l", 1: "l"}}
    # The exporter's notes (tracer and opset warnings) are for graph authors, not for the
    # user of an index run; the copy is checked against torch before it is kept.
    with torch.inference_mode(False), torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # eval(): the exporter puts the module back in the mode it had, recursively; a fresh
        # wrapper is in training mode, which left the whole model (image tower too) training.
        torch.onnx.export(
            _TextGraph(model).eval(),
            example,
            str(path),
            input_names=list(INPUTS),
            output_names=["features"],
            dynamic_axes=dynamic,
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
    if not exportable(tower.model):
        return False
    reference = tower.encode(list(CHECK_TEXTS))

    def check(session: Any) -> float:
        onnx = OnnxTextTower(session, tokenizer, dim)
        return smallest_cosine(reference, onnx.vectors(tokenizer(list(CHECK_TEXTS))))

    return export_checked(
        path, lambda tmp: _export(tower.model, tmp), check, f"{choice.label} text tower"
    )
