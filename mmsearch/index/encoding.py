"""Running an encoder so that one bad input costs only its own item.

A batch that raises is split in half and retried until the bad input stands
alone; rows that are not finite, have the wrong shape, or are all zeros are
rejected one by one.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from mmsearch.contracts import Encoder, FloatArray, Modality

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Encoded:
    """Vectors for a list of inputs; ``errors[i]`` is set where input ``i`` failed."""

    vectors: FloatArray
    errors: list[str | None]


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _validate(encoder: Encoder, result: Any, expected: int) -> FloatArray:
    array = np.asarray(result, dtype=np.float32)
    if array.shape != (expected, encoder.dim):
        raise ValueError(
            f"encoder {encoder.encoder_id} returned shape {array.shape}, "
            f"expected ({expected}, {encoder.dim})"
        )
    return array


def _row_error(row: FloatArray) -> str | None:
    if not np.all(np.isfinite(row)):
        return "the encoder returned NaN or infinite values"
    if not np.any(row):
        return "the encoder returned an all-zero vector"
    return None


def _encode_range(
    encoder: Encoder,
    modality: Modality,
    contents: Sequence[Any],
    out: FloatArray,
    errors: list[str | None],
    offset: int,
) -> None:
    try:
        array = _validate(encoder, encoder.encode_batch(modality, contents), len(contents))
    except Exception as exc:
        if len(contents) == 1:
            errors[offset] = f"encoder {encoder.encoder_id} failed: {_describe(exc)}"
            return
        mid = len(contents) // 2
        log.debug("batch of %d failed (%s); retrying in halves", len(contents), exc)
        _encode_range(encoder, modality, contents[:mid], out, errors, offset)
        _encode_range(encoder, modality, contents[mid:], out, errors, offset + mid)
        return
    for i, row in enumerate(array):
        problem = _row_error(row)
        if problem:
            errors[offset + i] = problem
        else:
            out[offset + i] = row / np.linalg.norm(row)


def encode_all(encoder: Encoder, modality: Modality, contents: Sequence[Any]) -> Encoded:
    """Encode ``contents`` in the encoder's batch size, isolating failures per input."""
    out = np.zeros((len(contents), encoder.dim), dtype=np.float32)
    errors: list[str | None] = [None] * len(contents)
    if modality not in encoder.modalities:
        message = f"encoder {encoder.encoder_id} cannot embed {modality}"
        return Encoded(out, [message] * len(contents))
    # One input needs no batching, and asking a torch encoder its batch size imports torch
    # (to look for a GPU): a query's one text would pay seconds for nothing.
    step = max(1, encoder.batch_size) if len(contents) > 1 else 1
    for start in range(0, len(contents), step):
        _encode_range(encoder, modality, contents[start : start + step], out, errors, start)
    return Encoded(out, errors)
