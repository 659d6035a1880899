"""all-MiniLM-L6-v2 as an ONNX copy: a query's words embedded without torch or
sentence-transformers (seconds of imports and a gigabyte of memory otherwise).

What sentence-transformers does for this model, and what this does the same way: the
package's ``tokenizer.json`` (Hugging Face ``tokenizers``, a small Rust library), cut at
256 word pieces (``sentence_bert_config.json``), padded to the longest text of the batch,
BERT, the mean of the token vectors under the attention mask (``1_Pooling``), unit length
(``2_Normalize``). The BERT graph with the pooling is exported from the torch model when
that is loaded anyway (an index run, or a query that found no copy), and kept only if it
gives sentence-transformers' vectors to a cosine of 0.9999 on probe texts (the rules are
:mod:`mmsearch.onnx_cache`'s). Loading side only: numpy, tokenizers, onnxruntime.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from mmsearch.onnx_cache import discard, model_path, open_session
from mmsearch_offline.identity import DIM, TEXT_MODEL, TEXT_WEIGHTS_SHA256

FloatArray = npt.NDArray[np.float32]
FORMAT = "1"
"""Bumped when the exported graph changes."""
CACHE_NAME = "offline"
MAX_TOKENS = 256
INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def copy_path() -> Path:
    """Where the ONNX copy of the text model is kept (named after the weights' hash)."""
    return model_path(CACHE_NAME, f"{FORMAT}|{TEXT_MODEL}@{TEXT_WEIGHTS_SHA256}|{MAX_TOKENS}")


def load_tokenizer(folder: Path) -> Any:
    """The package's fast tokenizer, cut and padded as sentence-transformers does."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tokenizer.enable_truncation(max_length=MAX_TOKENS)
    pad = tokenizer.token_to_id("[PAD]")
    tokenizer.enable_padding(pad_id=0 if pad is None else pad, pad_token="[PAD]")
    return tokenizer


def token_arrays(tokenizer: Any, texts: Sequence[str]) -> dict[str, npt.NDArray[np.int64]]:
    """The graph's three int64 inputs for ``texts``."""
    encodings = tokenizer.encode_batch(list(texts))
    return {
        "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
        "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
        "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64),
    }


class OnnxTextModel:
    """Texts to 384-d unit vectors with the ONNX copy; same API as ``TextModel.encode``."""

    def __init__(self, session: Any, tokenizer: Any) -> None:
        self.session = session
        self.tokenizer = tokenizer
        self._lock = threading.Lock()  # tokenizers' padding state is per instance

    @classmethod
    def load(cls) -> OnnxTextModel | None:
        """The cached copy, or None when there is none that loads."""
        from mmsearch_offline.weights import text_model_folder

        path = copy_path()
        session = open_session(path)
        if session is None:
            return None
        outputs = session.get_outputs()
        if not outputs or outputs[0].shape[-1] != DIM:
            discard(path)
            return None
        return cls(session, load_tokenizer(text_model_folder()))

    def encode(self, texts: Sequence[str]) -> FloatArray:
        """Unit vectors, one row per text; text past 256 word pieces is cut off."""
        if not texts:
            return np.empty((0, DIM), dtype=np.float32)
        with self._lock:
            inputs = token_arrays(self.tokenizer, texts)
        pooled = np.asarray(self.session.run(None, inputs)[0], dtype=np.float32)
        unit: FloatArray = pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        return unit
