"""The rules of the contracts as plain functions: each returns what is wrong, in words.

The conformance classes assert that these lists are empty; a plugin author
can call them directly too, from any test framework.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, get_args

import numpy as np

from mmsearch.contracts import Annotator, Encoder, Extractor, MediaType, Modality, Segment

MODALITIES: frozenset[str] = frozenset(get_args(Modality))
MEDIA_TYPES: frozenset[str] = frozenset(get_args(MediaType))


def encoder_capability_problems(encoder: Encoder) -> list[str]:
    """What is wrong with an encoder's capability attributes."""
    out = []
    if not isinstance(encoder.encoder_id, str) or not encoder.encoder_id.strip():
        out.append("encoder_id must be a non-empty string")
    if not encoder.modalities or not set(encoder.modalities) <= MODALITIES:
        out.append(f"modalities must be a non-empty subset of {sorted(MODALITIES)}")
    if not isinstance(encoder.dim, int) or encoder.dim < 1:
        out.append(f"dim must be a positive int, not {encoder.dim!r}")
    if not isinstance(encoder.batch_size, int) or encoder.batch_size < 1:
        out.append(f"batch_size must be a positive int, not {encoder.batch_size!r}")
    if not isinstance(encoder.checkpoint, str):
        out.append("checkpoint must be a string (it is part of the space's identity)")
    if not isinstance(encoder.priority, int):
        out.append("priority must be an int")
    if not isinstance(encoder.description, str):
        out.append("description must be a string")
    if not 0.0 <= encoder.text_fusion_weight < 1.0:
        out.append("text_fusion_weight must be in [0, 1)")
    if encoder.indexes is not None and not (
        isinstance(encoder.indexes, frozenset)
        and encoder.indexes
        and encoder.indexes <= set(encoder.modalities)
    ):
        out.append("indexes must be None or a non-empty frozenset within modalities")
    return out


def extractor_capability_problems(extractor: Extractor) -> list[str]:
    """What is wrong with an extractor's capability attributes."""
    out = []
    if not isinstance(extractor.name, str) or not extractor.name.strip():
        out.append("name must be a non-empty string")
    if extractor.media_type not in MEDIA_TYPES:
        out.append(f"media_type must be one of {sorted(MEDIA_TYPES)}")
    bad = [e for e in extractor.extensions if e != e.lower() or e.startswith(".") or not e]
    if bad:
        out.append(f"extensions must be lower case without the dot: {sorted(bad)}")
    if not all(isinstance(sig, bytes) and sig for sig in extractor.signatures):
        out.append("signatures must be non-empty bytes prefixes")
    if not isinstance(extractor.contributes_to, frozenset) or not all(
        kind in MEDIA_TYPES for kind in extractor.contributes_to
    ):
        out.append(f"contributes_to must be a frozenset of media types from {sorted(MEDIA_TYPES)}")
    if not isinstance(extractor.version, str) or not extractor.version.strip():
        out.append("version must be a non-empty string")
    if extractor.produces is not None and not (
        isinstance(extractor.produces, frozenset)
        and extractor.produces
        and extractor.produces <= MODALITIES
    ):
        out.append(f"produces must be None or a non-empty frozenset of {sorted(MODALITIES)}")
    return out


def annotator_capability_problems(annotator: Annotator) -> list[str]:
    """What is wrong with an annotator's capability attributes."""
    out = []
    if not isinstance(annotator.name, str) or not annotator.name.strip():
        out.append("name must be a non-empty string")
    if not annotator.kinds or not all(isinstance(k, str) and k for k in annotator.kinds):
        out.append("kinds must be a non-empty set of segment kinds")
    return out


def rows_problems(encoder: Encoder, rows: Any, expected: int, what: str) -> list[str]:
    """What is wrong with an ``encode_batch`` result for ``expected`` inputs."""
    if not isinstance(rows, np.ndarray):
        return [f"{what}: encode_batch returned {type(rows).__name__}, not a numpy array"]
    out = []
    if rows.dtype != np.float32:
        out.append(f"{what}: dtype is {rows.dtype}, not float32")
    if rows.shape != (expected, encoder.dim):
        out.append(f"{what}: shape is {rows.shape}, not ({expected}, {encoder.dim})")
        return out
    if not np.all(np.isfinite(rows)):
        out.append(f"{what}: rows hold NaN or infinite values")
        return out
    norms = np.linalg.norm(rows.astype(np.float64), axis=1)
    off = [round(float(n), 4) for n in norms if abs(n - 1.0) > 1e-3]
    if off:
        out.append(f"{what}: rows are not unit length (norms {off})")
    return out


def segment_problems(segment: Any) -> list[str]:
    """What is wrong with one segment an extractor yielded."""
    if not isinstance(segment, Segment):
        return [f"yielded {type(segment).__name__}, not a Segment"]
    out = []
    if not isinstance(segment.kind, str) or not segment.kind:
        out.append("kind must be a non-empty string")
    if segment.modality not in MODALITIES:
        out.append(f"modality {segment.modality!r} is not one of {sorted(MODALITIES)}")
    out.extend(_content_problems(segment))
    if segment.text is not None and not isinstance(segment.text, str):
        out.append("text must be a string or None")
    out.extend(_span_problems("start/end", segment.start, segment.end))
    out.extend(_span_problems("char_start/char_end", segment.char_start, segment.char_end))
    return out


def _content_problems(segment: Segment) -> list[str]:
    content = segment.content
    if segment.modality == "text":
        if not isinstance(content, str):
            return ["a text segment's content must be a string"]
        if segment.text != content:
            return ["a text segment's text must equal its content (spaces re-embed stored text)"]
    if segment.modality == "image":
        size = getattr(content, "size", None)
        if getattr(content, "mode", None) != "RGB" or not size or min(size) < 1:
            return ["an image segment's content must be a non-empty PIL image in mode RGB"]
    if segment.modality == "audio":
        array = np.asarray(content)
        if array.dtype != np.float32 or array.ndim != 1 or array.size == 0:
            return ["an audio segment's content must be a non-empty 1-D float32 waveform"]
        if not np.all(np.isfinite(array)):
            return ["an audio segment's waveform holds NaN or infinite samples"]
    return []


def _span_problems(name: str, start: float | None, end: float | None) -> list[str]:
    if start is None and end is None:
        return []
    if start is None or end is None:
        return [f"{name} must both be set or both be None"]
    if not (math.isfinite(start) and math.isfinite(end)) or not 0 <= start <= end:
        return [f"{name} must satisfy 0 <= start <= end (got {start}, {end})"]
    return []


def same_segments(first: Sequence[Segment], second: Sequence[Segment]) -> bool:
    """Whether two extractions of a file agree on everything but image and audio objects."""
    if len(first) != len(second):
        return False
    return all(_key(a) == _key(b) for a, b in zip(first, second, strict=True))


def _key(segment: Segment) -> tuple[Any, ...]:
    content = segment.content
    if segment.modality == "image":
        content = (content.size, content.tobytes())
    elif segment.modality == "audio":
        content = np.asarray(content).tobytes()
    return (
        segment.kind,
        segment.modality,
        content,
        segment.text,
        segment.start,
        segment.end,
        segment.char_start,
        segment.char_end,
    )


def loaded_state(obj: object) -> bool | None:
    """The object's ``loaded`` flag (the kit's lazy-loading convention), or None without one."""
    state = getattr(obj, "loaded", None)
    return state if isinstance(state, bool) else None


def cosine(a: Any, b: Any) -> float:
    """Cosine similarity of two vectors, in float64."""
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    norms = float(np.linalg.norm(x)) * float(np.linalg.norm(y))
    return float(x @ y) / max(norms, 1e-30)
