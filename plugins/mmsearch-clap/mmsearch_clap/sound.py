"""Sound windows of a recording or a video's sound track, for the CLAP encoder.

The audio is decoded with PyAV (no ffmpeg program), resampled to 48 kHz mono float32 and
cut into windows of ``sound_window_seconds`` (10 s: what CLAP hears at once), each a
``sound`` segment ``[start, end]``. Silent windows are left out, so a long quiet recording
costs its decoding only. Settings (``mmsearch index --set KEY=VALUE``):

- ``sound_window_seconds``: window length, 1-10 (default 10).
- ``sound_max_seconds``: windows are taken from the first this many seconds (default
  3600); the rest of a longer file is not heard. Each window is held as float32 until it
  is embedded (about 0.7 GB per hour of sound for a file in flight).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from mmsearch import SkipFile, Source
from mmsearch.contracts import Segment
from mmsearch_clap.encoder import SAMPLE_RATE

log = logging.getLogger(__name__)
FloatArray = npt.NDArray[np.float32]

SILENCE_RMS = 10 ** (-55 / 20)
"""Windows whose loudest 0.1 s is quieter than -55 dBFS hold nothing to hear."""
MIN_WINDOW_SECONDS = 1.0
"""A last window shorter than this is left out (unless it is the file's only sound)."""


@dataclass(frozen=True, slots=True)
class SoundOptions:
    """The sound settings of one run."""

    window: float = 10.0
    max_seconds: float = 3600.0


def options_for(options: Mapping[str, Any]) -> SoundOptions:
    """The settings in ``options``; SkipFile (said once) for a value that is not valid."""
    d = SoundOptions()
    return SoundOptions(
        window=_number(options, "sound_window_seconds", d.window, 1.0, 10.0),
        max_seconds=_number(options, "sound_max_seconds", d.max_seconds, 1.0, float("inf")),
    )


def _number(options: Mapping[str, Any], key: str, default: float, low: float, high: float) -> float:
    raw = options.get(key, default)
    try:
        value = float(raw)
    except (TypeError, ValueError):
        value = float("nan")
    if not low <= value <= high:
        raise SkipFile(
            "bad setting",
            f"--set {key}={raw} is not a number from {low:g} to {high:g}; sounds are not "
            "indexed until it is fixed",
            once=True,
        )
    return value


def sound_windows(source: Source) -> list[Segment]:
    """The file's audible windows as ``sound`` segments; SkipFile when there are none."""
    options = options_for(source.settings.options)
    size = int(options.window * SAMPLE_RATE)
    segments: list[Segment] = []
    for offset, samples in _windows(source, size, int(options.max_seconds * SAMPLE_RATE)):
        too_short = len(samples) < MIN_WINDOW_SECONDS * SAMPLE_RATE and (offset or segments)
        if too_short or _loudest(samples) < SILENCE_RMS:
            continue
        start = offset / SAMPLE_RATE
        end = (offset + len(samples)) / SAMPLE_RATE
        segments.append(Segment("sound", "audio", samples, None, round(start, 3), round(end, 3)))
    if not segments:
        raise SkipFile("silent", "no sound louder than -55 dBFS was heard in it")
    return segments


def _loudest(samples: FloatArray) -> float:
    frame = SAMPLE_RATE // 10
    count = len(samples) // frame
    if count == 0:
        return float(np.sqrt(np.mean(np.square(samples)))) if len(samples) else 0.0
    frames = samples[: count * frame].reshape(count, frame)
    return float(np.sqrt(np.square(frames).mean(axis=1).max()))


def _windows(source: Source, size: int, limit: int) -> Iterator[tuple[int, FloatArray]]:
    """(first sample, samples) of consecutive windows of ``size`` samples, up to ``limit``."""
    pending: list[FloatArray] = []
    held = offset = 0
    for piece in _decoded(source):
        piece = piece[: max(0, limit - offset - held)]
        pending.append(piece)
        held += len(piece)
        while held >= size:
            joined = np.concatenate(pending)
            yield offset, np.ascontiguousarray(joined[:size])
            rest = joined[size:]
            pending, held, offset = [rest], len(rest), offset + size
        if offset + held >= limit:
            break
    if held:
        yield offset, np.ascontiguousarray(np.concatenate(pending))


def _decoded(source: Source) -> Iterator[FloatArray]:
    """The first audio stream, resampled to 48 kHz mono float32, piece by piece."""
    import av

    try:
        container = av.open(source.fspath, metadata_errors="ignore")
    except av.error.FFmpegError as exc:
        if isinstance(exc, OSError) and not isinstance(exc, av.error.InvalidDataError):
            raise
        raise SkipFile("corrupt audio", f"PyAV cannot open it ({exc}); it may be damaged") from exc
    with container:
        if not container.streams.audio:
            raise SkipFile("no audio", "it holds no audio stream: there is no sound to index")
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
        got = 0
        try:
            for packet in container.demux(stream):
                for frame in packet.decode():
                    for out in resampler.resample(frame):
                        got += 1
                        yield out.to_ndarray().reshape(-1).astype(np.float32, copy=False)
            for out in resampler.resample(None):
                yield out.to_ndarray().reshape(-1).astype(np.float32, copy=False)
        except av.error.FFmpegError as exc:
            if isinstance(exc, OSError) and not isinstance(exc, av.error.InvalidDataError):
                raise
            if not got:
                raise SkipFile("corrupt audio", f"its audio cannot be decoded ({exc})") from exc
            # A cut-off file still holds the sounds before the damage: keep them.
            log.warning("%s: the audio is damaged part way (%s); keeping what came before",
                        source.display, exc)  # fmt: skip
