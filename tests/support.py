"""Helpers for the tests: plugin objects, deterministic encoders, media builders."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt
from PIL import Image

from mmsearch import Annotator, Encoder, Extractor, Modality, hookimpl
from mmsearch.plugins import Registry, load_plugins


class PluginObject:
    """A plugin made of given extractors, encoders and annotators, registered for one test."""

    def __init__(
        self,
        extractors: Sequence[Extractor] = (),
        encoders: Sequence[Encoder] = (),
        annotators: Sequence[Annotator] = (),
    ):
        self.__name__ = "test-plugin"
        self._extractors = list(extractors)
        self._encoders = list(encoders)
        self._annotators = list(annotators)

    @hookimpl
    def register_annotators(self, register: Callable[[Annotator], None]) -> None:
        for annotator in self._annotators:
            register(annotator)

    @hookimpl
    def register_extractors(self, register: Callable[[Extractor], None]) -> None:
        for extractor in self._extractors:
            register(extractor)

    @hookimpl
    def register_encoders(self, register: Callable[[Encoder], None]) -> None:
        for encoder in self._encoders:
            register(encoder)


def first_party_extractors() -> list[Extractor]:
    """The extractors the installed first-party plugins provide."""
    return load_plugins().extractors


def make_registry(*encoders: Encoder, extractors: Sequence[Extractor] | None = None) -> Registry:
    """A registry of the first-party extractors (or given ones) and exactly these encoders."""
    chosen = first_party_extractors() if extractors is None else list(extractors)
    return load_plugins(PluginObject(chosen, encoders), discover=False)


class CountingEncoder(Encoder):
    """The hash encoder's behaviour, counting every input it is asked to embed."""

    encoder_id: ClassVar[str] = "counting"
    modalities: ClassVar[frozenset[Modality]] = frozenset({"text", "image"})
    dim: ClassVar[int] = 256
    batch_size: ClassVar[int] = 8
    near_duplicate_similarity: ClassVar[float | None] = 0.985

    def __init__(self) -> None:
        from mmsearch_hash_encoder import HashEncoder

        self.inner = HashEncoder()
        self.calls: list[int] = []
        self.seen: list[Any] = []

    def encode_batch(self, modality: Modality, contents: Sequence[Any]) -> npt.NDArray[np.float32]:
        self.calls.append(len(contents))
        self.seen.extend(contents)
        return self.inner.encode_batch(modality, contents)

    @property
    def inputs(self) -> int:
        return sum(self.calls)


class PoisonEncoder(CountingEncoder):
    """Raises, returns NaN, or returns the wrong shape whenever a batch holds a marked text."""

    encoder_id: ClassVar[str] = "poison"

    def __init__(self, mode: str, marker: str = "POISON") -> None:
        super().__init__()
        self.mode = mode
        self.marker = marker

    def encode_batch(self, modality: Modality, contents: Sequence[Any]) -> npt.NDArray[np.float32]:
        out = super().encode_batch(modality, contents)
        bad = [i for i, c in enumerate(contents) if isinstance(c, str) and self.marker in c]
        if not bad:
            return out
        if self.mode == "raise":
            raise RuntimeError("model exploded on this input")
        if self.mode == "nan":
            out[bad] = np.nan
            return out
        if self.mode == "shape":
            return out[:, :-1]
        raise AssertionError(self.mode)


def save_image(
    path: Path, colour: tuple[int, int, int], size: tuple[int, int] = (64, 48), **save_args: Any
) -> Path:
    """Write a small image with a coloured block, so different colours embed differently."""
    image = Image.new("RGB", size, colour)
    image.paste(
        (255 - colour[0], 255 - colour[1], 255 - colour[2]), (0, 0, size[0] // 3, size[1] // 3)
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, **save_args)
    return path


def running_as_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0
