"""Reading video with PyAV (FFmpeg's libraries, in the wheel: no ffmpeg program).

:func:`open_video` and :func:`video_stream` refuse what cannot be read with a
reason; :func:`candidate_frames` yields the frames worth comparing, decoding only
key frames when asked (the decoder then skips every other frame's work), and
tolerates a few damaged packets: a cut-off download keeps what came before.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import av
import av.error
from av.container import InputContainer
from av.stream import Disposition
from av.video.stream import VideoStream

from mmsearch import SkipFile, Source

log = logging.getLogger(__name__)

SAMPLE_EVERY = 0.5
"""Seconds between compared frames when every frame is decoded (``video_decode=all``)."""
_BAD_PACKETS = 20


def corrupt(what: str) -> SkipFile:
    """The skip for a video that cannot be decoded."""
    return SkipFile(
        "corrupt video",
        f"the video cannot be decoded ({what}); it may be truncated or damaged: "
        "check that it plays, or export it again",
    )


def open_video(source: Source) -> InputContainer:
    """The file opened as a container; SkipFile when FFmpeg cannot parse it."""
    try:
        return av.open(source.fspath, metadata_errors="ignore")
    except OSError:
        raise  # permissions, a vanished file: the engine reports these itself
    except av.error.FFmpegError as exc:
        raise corrupt(describe(exc)) from exc


def video_stream(container: InputContainer) -> VideoStream:
    """The first real video stream (not cover art); SkipFile when there is none."""
    streams = [s for s in container.streams.video if not s.disposition & Disposition.attached_pic]
    if not streams:
        raise SkipFile(
            "no video",
            "the file holds no video stream (only sound, or cover art): there are no frames "
            "to index; its speech is still read when the whisper plugin is installed",
        )
    stream = streams[0]
    if stream.codec_context is None:
        raise SkipFile(
            "unsupported video codec",
            "its video is in a codec that PyAV's FFmpeg cannot decode; "
            "convert it (H.264, VP9 or AV1) to index its frames",
            once=True,
        )
    return stream


def duration(container: InputContainer, stream: VideoStream) -> float | None:
    """Seconds, from the header, or None when it does not say."""
    if container.duration is not None and container.duration > 0:
        return container.duration / av.time_base
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    return None


KEYFRAME_GAP = 2.0
"""Largest key-frame spacing (seconds) at which key frames alone place cuts well enough."""
_PROBE_SECONDS = 30.0


def keyframes_suffice(source: Source, stream_index: int) -> bool:
    """Whether the first half minute's key frames are at most ``KEYFRAME_GAP`` apart.

    Reads packets only (no decoding: a few milliseconds). Phones and most encoders
    put a key frame every second or two and at each cut; a screen recording or a
    file made with a long group of pictures does not, and is decoded whole.
    """
    with open_video(source) as container:
        stream = container.streams[stream_index]
        last: float | None = None
        widest = 0.0
        for packet in container.demux(stream):
            if packet.pts is None or packet.time_base is None:
                continue
            time = float(packet.pts * packet.time_base)
            if packet.is_keyframe:
                widest = max(widest, time - last) if last is not None else widest
                last = time
            if last is None and time > KEYFRAME_GAP:
                return False
            if last is not None and time - last > KEYFRAME_GAP:
                return False
            if time > _PROBE_SECONDS:
                break
        return last is not None and widest <= KEYFRAME_GAP


def candidate_frames(
    container: InputContainer, stream: VideoStream, mode: str, source: Source
) -> Iterator[av.VideoFrame]:
    """Frames in time order: key frames only, or one every ``SAMPLE_EVERY`` seconds."""
    context = stream.codec_context
    context.thread_type = "AUTO"  # frame and slice threads: decoding is most of the cost
    if mode == "keyframes":
        context.skip_frame = "NONKEY"
    decoder = _Decoder(source)
    last = float("-inf")
    try:
        # demux() ends with an empty packet, which flushes the decoder's last frames.
        for packet in container.demux(stream):
            if mode == "keyframes" and not packet.is_keyframe and packet.size:
                continue  # not even parsed; the empty packet at the end still flushes
            for frame in decoder.decode(packet):
                if frame.time is None:
                    continue
                # Key frames always: encoders place one at each cut they see.
                if mode == "all" and not frame.key_frame and frame.time - last < SAMPLE_EVERY:
                    continue
                last = frame.time
                yield frame
    except av.error.FFmpegError as exc:
        if isinstance(exc, OSError) and not isinstance(exc, av.error.InvalidDataError):
            raise  # an I/O error, not bad data: the engine says the file is unreadable
        if not decoder.good:
            raise corrupt(describe(exc)) from exc
        log.warning(
            "%s: the video is damaged part way through (%s); indexing what came before",
            source.display,
            describe(exc),
        )
    if not decoder.good:
        raise corrupt("no frame could be decoded")


class _Decoder:
    """Decodes packets, counting those that fail; too many make the file corrupt."""

    def __init__(self, source: Source) -> None:
        self.source = source
        self.good = 0
        self.bad = 0

    def decode(self, packet: av.Packet[VideoStream]) -> list[av.VideoFrame]:
        try:
            frames = packet.decode()
        except av.error.FFmpegError as exc:
            if isinstance(exc, OSError) and not isinstance(exc, av.error.InvalidDataError):
                raise
            self.bad += 1
            if self.bad > max(_BAD_PACKETS, self.good // 10):
                raise corrupt(f"{self.bad} damaged packets: {describe(exc)}") from exc
            return []
        self.good += len(frames)
        return frames


def describe(exc: BaseException) -> str:
    """FFmpeg's short message (its str() repeats the errno and the path)."""
    message = getattr(exc, "strerror", None) or str(exc).strip()
    return message or type(exc).__name__
