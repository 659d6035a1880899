"""The audio extractors: a recording in, time-coded transcript windows out."""

from __future__ import annotations

from typing import ClassVar

from mmsearch import Extractor, MediaType, Segment, SkipFile, Source
from mmsearch.contracts import ModelSpec
from mmsearch_whisper.sniff import looks_like_audio


class _SpeechExtractor(Extractor):
    media_type: ClassVar[MediaType] = "audio"

    def extract(self, source: Source) -> list[Segment]:
        """Speech windows of the recording; SkipFile when it is too long, silent or broken."""
        return transcribe_file(source)

    def models(self) -> list[ModelSpec]:
        """The bundled speech model, for ``mmsearch models``."""
        from mmsearch_whisper.declared import declared_models

        return declared_models()


class WhisperExtractor(_SpeechExtractor):
    """Audio files recognised by their content: WAV, AIFF, FLAC, Ogg (Opus, Vorbis),
    MP3, AAC, M4A, and WebM/Matroska audio."""

    name: ClassVar[str] = "whisper"
    extensions: ClassVar[frozenset[str]] = frozenset(
        {
            "wav", "wave", "aif", "aiff", "aifc", "flac", "ogg", "oga", "opus", "spx",
            "mp3", "mp2", "aac", "m4a", "m4b", "weba", "mka",
        }
    )  # fmt: skip

    def sniff(self, head: bytes) -> bool:
        """Whether the head is that of an audio format this plugin reads."""
        return looks_like_audio(head)


class AudioContainerExtractor(_SpeechExtractor):
    """M4A and Matroska audio whose first bytes cannot tell audio from video.

    An M4A with only generic brands ("isom", "mp42": many phone recorders) keeps
    its track list at the end of the file; this extractor takes such files by
    their extension when nothing claimed them by content, and checks the streams.
    """

    name: ClassVar[str] = "whisper-container"
    extensions: ClassVar[frozenset[str]] = frozenset({"m4a", "m4b", "weba", "mka"})


class VideoSoundtrackExtractor(_SpeechExtractor):
    """The audio track of a file a video plugin identified: its speech, beside the frames.

    It claims no extension and sniffs nothing, so it never identifies a file itself;
    the engine runs it on every video (``contributes_to``), and a video without sound
    or speech costs only a recorded skip.
    """

    name: ClassVar[str] = "whisper-video"
    extensions: ClassVar[frozenset[str]] = frozenset()
    contributes_to: ClassVar[frozenset[MediaType]] = frozenset({"video"})

    def extract(self, source: Source) -> list[Segment]:
        """Speech windows of the video's first audio stream."""
        return transcribe_file(source, soundtrack=True)


def transcribe_file(source: Source, *, soundtrack: bool = False) -> list[Segment]:
    """Probe, decode in chunks, transcribe, and group into windows. Raises SkipFile.

    With ``soundtrack``, the file may hold video streams: its first audio stream is read.
    """
    # Imported here: registering the plugin must not load PyAV, CTranslate2 or torch.
    from mmsearch_whisper.audio import decode_chunks, is_silent, probe, too_long
    from mmsearch_whisper.options import options_for
    from mmsearch_whisper.runtimes import runtime_for
    from mmsearch_whisper.windows import Piece, group

    options = options_for(source.settings.options)
    duration = probe(source, soundtrack=soundtrack).duration
    if duration is not None and duration > options.max_audio_seconds:
        raise too_long(source, duration, options.max_audio_seconds)
    runtime = runtime_for(options)
    pieces: list[Piece] = []
    chunks = decode_chunks(
        source, options.chunk_seconds, options.max_audio_seconds, soundtrack=soundtrack
    )
    for chunk in chunks:
        # A silent chunk skips the model: hours of silence cost only their decoding.
        heard = [] if is_silent(chunk.samples) else runtime.transcribe(chunk.samples, options)
        pieces.extend(Piece(p.start + chunk.offset, p.end + chunk.offset, p.text) for p in heard)
        del chunk  # let it go before the next one is decoded: two would double the memory
    windows = group(pieces)
    if not windows:
        raise SkipFile(
            "no speech",
            "no speech was heard in it (silence, music or noise); there is nothing to index",
        )
    return [
        Segment("speech", "text", w.text, w.text, start=round(w.start, 3), end=round(w.end, 3))
        for w in windows
    ]
