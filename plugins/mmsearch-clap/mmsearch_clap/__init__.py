"""mmsearch plugin: sounds that are not speech, found by words, with CLAP.

``clap-sound`` cuts the audio of recordings and videos into 10 s windows (PyAV, 48 kHz
mono) beside whisper's transcript; the ``clap`` encoder embeds them with a CLAP model
(transformers' ``ClapModel``) into a space of their own, which text queries reach. Add the
space to a library with ``mmsearch index DIR --space clap`` (or ``--space clap=FOLDER``
for a saved model folder). No CLAP weights ship on PyPI: they load from a local folder or
the Hugging Face cache, never from the network during a run.
"""

from __future__ import annotations

from collections.abc import Callable

from mmsearch import Encoder, Extractor, hookimpl
from mmsearch_clap.encoder import SAMPLE_RATE, ClapEncoder
from mmsearch_clap.extractor import SoundExtractor

__all__ = [
    "SAMPLE_RATE",
    "ClapEncoder",
    "SoundExtractor",
    "register_encoders",
    "register_extractors",
]


@hookimpl
def register_extractors(register: Callable[[Extractor], None]) -> None:
    """Register the sound-window extractor (cheap: PyAV is imported on the first file)."""
    register(SoundExtractor())


@hookimpl
def register_encoders(register: Callable[[Encoder], None]) -> None:
    """Register the CLAP encoder (cheap: transformers and torch load on the first batch)."""
    register(ClapEncoder())
