"""Reading audio with PyAV (FFmpeg's libraries, bundled in the wheel: no ffmpeg program).

:func:`probe` reads only the header, so a four-hour file can be refused before
any decoding. :func:`decode_chunks` yields the audio as 16 kHz mono float32 in
chunks of bounded length, each cut at its quietest moment near the boundary so
that words are rarely split, with its exact offset in the file.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass

import av
import av.error
import numpy as np
import numpy.typing as npt
from av.audio.stream import AudioStream
from av.container import InputContainer
from av.stream import Disposition

from mmsearch import SkipFile, Source
from mmsearch_whisper.options import how_to_set

log = logging.getLogger(__name__)

SAMPLE_RATE = 16000
FloatArray = npt.NDArray[np.float32]

_FRAME = SAMPLE_RATE // 10  # 0.1 s: the resolution of the quiet-point search
_CUT_SEARCH = 30 * SAMPLE_RATE
_SILENCE_RMS = 1e-3  # -60 dBFS: below this everywhere, a chunk holds nothing to hear
_SILENCE_BLOCK = 60 * SAMPLE_RATE
_BAD_PACKETS = 20  # a few damaged packets are tolerated; more mean a broken file


@dataclass(frozen=True, slots=True)
class Probe:
    """What the header says about a file's audio."""

    duration: float | None
    """Seconds, or None when the container does not say."""
    codec: str


@dataclass(frozen=True, slots=True)
class Chunk:
    """A stretch of decoded audio and where it starts in the file."""

    offset: float
    samples: FloatArray


def corrupt(source: Source, what: str) -> SkipFile:
    """The skip for audio that cannot be decoded."""
    return SkipFile(
        "corrupt audio",
        f"the audio cannot be decoded ({what}); it may be truncated or damaged: "
        "check that it plays, or export it again",
    )


def probe(source: Source, *, soundtrack: bool = False) -> Probe:
    """The duration and codec of the file's audio, from its header. Raises SkipFile.

    With ``soundtrack``, a video's first audio stream is read instead of refusing the video.
    """
    with _open(source) as container:
        stream = audio_stream(container, soundtrack=soundtrack)
        return Probe(_duration(container, stream), stream.codec_context.name)


def decode_chunks(
    source: Source, chunk_seconds: float, max_seconds: float, *, soundtrack: bool = False
) -> Iterator[Chunk]:
    """The file's audio, 16 kHz mono, in chunks of about ``chunk_seconds``.

    Stops with SkipFile("too long") if the audio runs past ``max_seconds``, for
    files whose header did not say how long they are.
    """
    chunker = _Chunker(int(chunk_seconds * SAMPLE_RATE))
    with _open(source) as container:
        stream = audio_stream(container, soundtrack=soundtrack)
        for samples in _decoded(container, stream, source):
            chunker.add(samples)
            if chunker.seconds > max_seconds:
                raise too_long(source, chunker.seconds, max_seconds)
            yield from chunker.full()
    if chunker.seconds == 0:
        raise corrupt(source, "no audio samples could be decoded")
    yield from chunker.rest()


def too_long(source: Source, seconds: float, cap: float) -> SkipFile:
    """The skip for a recording over the length cap."""
    return SkipFile(
        "too long",
        f"the recording is {_clock(seconds)} long, over the {_clock(cap)} cap; "
        f"raise the cap with {how_to_set('max_audio_seconds')} to index it",
    )


def is_silent(samples: FloatArray) -> bool:
    """True when no 0.1 s stretch is louder than -60 dBFS: digital or near-digital silence."""
    # A minute at a time, so a ten-minute chunk needs no second copy of itself.
    return all(
        _loudest_frame(samples[start : start + _SILENCE_BLOCK]) < _SILENCE_RMS
        for start in range(0, len(samples), _SILENCE_BLOCK)
    )


def _loudest_frame(block: FloatArray) -> float:
    """The RMS of the loudest 0.1 s frame of ``block`` (of all of it, if shorter)."""
    count = len(block) // _FRAME
    if count == 0:
        return float(np.sqrt(np.mean(np.square(block)))) if len(block) else 0.0
    frames = block[: count * _FRAME].reshape(count, _FRAME)
    return float(np.sqrt(np.square(frames).mean(axis=1).max()))


def audio_stream(container: InputContainer, *, soundtrack: bool = False) -> AudioStream:
    """The first audio stream; SkipFile for video (unless ``soundtrack``), or for no audio."""
    if not soundtrack and any(
        not s.disposition & Disposition.attached_pic for s in container.streams.video
    ):
        raise SkipFile(
            "video file",
            "it holds a video stream, and mmsearch-whisper reads audio-only files; "
            "install a video plugin to index videos",
        )
    if not container.streams.audio and soundtrack:
        raise SkipFile("no audio", "the video has no sound track: there is no speech to index")
    if not container.streams.audio:
        raise SkipFile("no audio", "the file holds no audio stream; it may be damaged or misnamed")
    stream = container.streams.audio[0]
    if stream.codec_context is None:
        raise SkipFile(
            "unsupported audio codec",
            "its audio is in a codec that PyAV's FFmpeg cannot decode; "
            "convert it to a common format (FLAC, MP3, Opus, WAV) to index it",
        )
    return stream


def _open(source: Source) -> InputContainer:
    try:
        return av.open(source.fspath, metadata_errors="ignore")
    except OSError:
        raise  # permissions, a vanished file: the engine reports these itself
    except av.error.FFmpegError as exc:
        raise corrupt(source, _describe(exc)) from exc


def _duration(container: InputContainer, stream: AudioStream) -> float | None:
    if container.duration is not None and container.duration > 0:
        return container.duration / av.time_base
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    return None


def _decoded(
    container: InputContainer, stream: AudioStream, source: Source
) -> Iterator[FloatArray]:
    """Resampled mono float32 pieces, tolerating a few damaged packets."""
    resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
    packets = _PacketDecoder(source)
    try:
        for packet in container.demux(stream):
            for frame in packets.decode(packet):
                yield from _pieces(resampler.resample(frame))
        yield from _pieces(resampler.resample(None))
    except av.error.FFmpegError as exc:
        if isinstance(exc, OSError):
            raise  # an I/O error, not bad data: the engine says the file is unreadable
        if not packets.good:
            raise corrupt(source, _describe(exc)) from exc
        # A cut-off download still holds what was said before the damage: keep it.
        log.warning(
            "%s: the audio is damaged part way through (%s); indexing what came before",
            source.display,
            _describe(exc),
        )
    if packets.bad:
        log.info("%s: skipped %d damaged audio packets", source.display, packets.bad)


class _PacketDecoder:
    """Decodes packets, counting those that fail; too many make the file corrupt."""

    def __init__(self, source: Source) -> None:
        self.source = source
        self.good = 0
        self.bad = 0

    def decode(self, packet: av.Packet[AudioStream]) -> list[av.AudioFrame]:
        try:
            frames = packet.decode()
        except av.error.FFmpegError as exc:
            if isinstance(exc, OSError):
                raise
            self.bad += 1
            if self.bad > max(_BAD_PACKETS, self.good // 10):
                raise corrupt(self.source, f"{self.bad} damaged packets: {_describe(exc)}") from exc
            return []
        self.good += len(frames)
        return frames


def _pieces(frames: list[av.AudioFrame]) -> Iterator[FloatArray]:
    for frame in frames:
        yield frame.to_ndarray().reshape(-1).astype(np.float32, copy=False)


class _Chunker:
    """Collects decoded pieces and hands them out in chunks cut at quiet moments."""

    def __init__(self, target: int) -> None:
        self.target = target
        self.search = min(_CUT_SEARCH, target // 4)
        self.parts: list[FloatArray] = []
        self.buffered = 0
        self.emitted = 0

    @property
    def seconds(self) -> float:
        """Audio seen so far, emitted or buffered."""
        return (self.emitted + self.buffered) / SAMPLE_RATE

    def add(self, samples: FloatArray) -> None:
        self.parts.append(samples)
        self.buffered += len(samples)

    def full(self) -> Iterator[Chunk]:
        """Every complete chunk buffered so far."""
        while self.buffered >= self.target:
            data = np.concatenate(self.parts)
            cut = _quiet_cut(data[: self.target], self.search)
            rest = data[cut:].copy()  # a copy, so the emitted chunk alone holds ``data``
            self.parts, self.buffered = [rest], len(rest)
            yield self._emit(data[:cut])

    def rest(self) -> Iterator[Chunk]:
        """The last, shorter chunk."""
        if self.buffered:
            data = np.concatenate(self.parts)
            self.parts, self.buffered = [], 0
            yield self._emit(data)

    def _emit(self, samples: FloatArray) -> Chunk:
        chunk = Chunk(self.emitted / SAMPLE_RATE, samples)
        self.emitted += len(samples)
        return chunk


def _quiet_cut(samples: FloatArray, search: int) -> int:
    """Where to end a chunk: the middle of the quietest 0.1 s in its last ``search`` samples."""
    count = search // _FRAME
    if count < 2:
        return len(samples)
    start = len(samples) - count * _FRAME
    energy = np.square(samples[start:]).reshape(count, _FRAME).mean(axis=1)
    # The last of equally quiet frames: the chunk stays as long as it can.
    quietest = count - 1 - int(np.argmin(energy[::-1]))
    return start + quietest * _FRAME + _FRAME // 2


def _describe(exc: BaseException) -> str:
    # FFmpeg errors carry a short message; their str() repeats the errno and the path.
    message = getattr(exc, "strerror", None) or str(exc).strip()
    return message or type(exc).__name__


def _clock(seconds: float) -> str:
    if seconds == float("inf"):
        return "unlimited"
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"
