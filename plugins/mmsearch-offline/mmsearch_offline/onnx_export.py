"""Making the ONNX copy of all-MiniLM-L6-v2 from the loaded sentence-transformers model.

The graph is BERT plus the masked mean pooling (normalising stays in numpy), with the
batch and the length dynamic; it is exported in fp32 from the CPU model and checked
against sentence-transformers' own vectors before it is kept (:mod:`mmsearch.onnx_cache`).
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mmsearch.onnx_cache import export_checked, smallest_cosine
from mmsearch.torch_device import PROBE_TEXTS
from mmsearch_offline.onnx_text import (
    INPUTS,
    OnnxTextModel,
    copy_path,
    load_tokenizer,
    token_arrays,
)
from mmsearch_offline.text_model import TextModel
from mmsearch_offline.weights import text_model_folder

log = logging.getLogger("mmsearch.offline")

CHECK_TEXTS = (*PROBE_TEXTS, "red car", "word " * 400, "Ça coûte 12,50 € — naïve café")
OPSET = 17


class _PooledBert(torch.nn.Module):
    def __init__(self, bert: Any) -> None:
        super().__init__()
        self.bert = bert

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor
    ) -> torch.Tensor:
        hidden = self.bert(
            input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
        )[0]
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        pooled: torch.Tensor = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        return pooled


def _export(bert: Any, tokenizer: Any, path: Path) -> None:
    example = {k: torch.from_numpy(v) for k, v in token_arrays(tokenizer, ["a", "a photo"]).items()}
    dynamic = {name: {0: "batch", 1: "length"} for name in INPUTS}
    with torch.inference_mode(False), torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter's notes are for graph authors
        torch.onnx.export(
            _PooledBert(bert),
            tuple(example[name] for name in INPUTS),
            str(path),
            input_names=list(INPUTS),
            output_names=["pooled"],
            dynamic_axes={**dynamic, "pooled": {0: "batch"}},
            opset_version=OPSET,
            dynamo=False,
        )


def export_text_model(model: TextModel) -> bool:
    """Make the copy if there is none yet and the model is the fp32 CPU one; True if made."""
    path = copy_path()
    if path.exists() or model.dtype != torch.float32 or model.model.device.type != "cpu":
        return False
    bert = model.model[0].auto_model
    tokenizer = load_tokenizer(text_model_folder())
    reference = model.encode(list(CHECK_TEXTS))

    def check(session: Any) -> float:
        onnx = OnnxTextModel(session, tokenizer)
        alone = np.stack([onnx.encode([text])[0] for text in CHECK_TEXTS])
        batched = onnx.encode(list(CHECK_TEXTS))
        return min(smallest_cosine(reference, batched), smallest_cosine(reference, alone))

    return export_checked(
        path, lambda tmp: _export(bert, tokenizer, tmp), check, "offline text model (MiniLM)"
    )
