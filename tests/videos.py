"""Generated videos for the video tests and bench/video.py: PyAV encodes, no ffmpeg program.

Scenes are the freely licensed sample photos of examples/media/photos (licences in
examples/media/LICENSES.md), each shown for a while with a slow pan, as a phone
would film a still; speech comes from the committed recordings in tests/media/speech
(espeak-ng voices), mixed into the sound track at a chosen time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import numpy.typing as npt
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
PHOTOS = REPO / "examples" / "media" / "photos"
SPEECH = REPO / "tests" / "media" / "speech"
AUDIO_RATE = 16000
MEETING_BUDGET_AT = 8.0
"""In tests/media/speech/meeting.ogg the budget sentence starts at 8.0 s."""


@dataclass(frozen=True, slots=True)
class Scene:
    """A still shown for ``seconds``, panning slowly."""

    picture: Image.Image
    seconds: float


def photo(name: str) -> Image.Image:
    """One of the sample photos, RGB."""
    return Image.open(PHOTOS / name).convert("RGB")


def photo_scenes(seconds: Sequence[float]) -> list[Scene]:
    """Scenes of the sample photos in name order, with the given lengths (cycling photos)."""
    names = sorted(p.name for p in PHOTOS.glob("*.jpg"))
    return [Scene(photo(names[i % len(names)]), s) for i, s in enumerate(seconds)]


def speech(name: str = "meeting.ogg") -> npt.NDArray[np.float32]:
    """A committed recording as 16 kHz mono float32."""
    with av.open(str(SPEECH / name)) as container:
        resampler = av.AudioResampler(format="flt", layout="mono", rate=AUDIO_RATE)
        parts = [
            f.to_ndarray().reshape(-1)
            for frame in container.decode(audio=0)
            for f in resampler.resample(frame)
        ]
    return np.concatenate(parts).astype(np.float32)


def sound_track(
    seconds: float, lines: Sequence[tuple[float, npt.NDArray[np.float32]]]
) -> npt.NDArray[np.float32]:
    """``seconds`` of quiet room noise with each recording mixed in at its time."""
    rng = np.random.default_rng(7)
    track = (rng.standard_normal(int(seconds * AUDIO_RATE)) * 0.002).astype(np.float32)
    for at, samples in lines:
        start = int(at * AUDIO_RATE)
        end = min(len(track), start + len(samples))
        track[start:end] += samples[: end - start]
    return track


def write_video(
    path: Path,
    scenes: Sequence[Scene],
    *,
    fps: int = 25,
    size: tuple[int, int] = (640, 360),
    audio: npt.NDArray[np.float32] | None = None,
    rotation: int = 0,
    codec: str = "libx264",
    frame_times: Sequence[float] | None = None,
    options: dict[str, str] | None = None,
) -> Path:
    """Encode ``scenes`` (H.264 + AAC in MP4 by default; the container follows the suffix).

    ``frame_times`` gives each frame's time instead of a steady ``fps`` (variable frame
    rate); ``rotation`` is recorded in the display matrix, as phones do.
    """
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        stream.codec_context.time_base = Fraction(1, 1000 if frame_times else fps)
        # veryfast keeps x264's scene-cut key frames; a key frame at least every 2 s, as phones.
        x264 = {"preset": "veryfast", "g": str(2 * fps), **(options or {})}
        stream.options = x264 if codec == "libx264" else dict(options or {})
        if rotation:
            stream.set_display_rotation(rotation)
        sound = _add_audio(container, path) if audio is not None else None
        _write_frames(container, stream, scenes, fps, size, frame_times)
        if sound is not None and audio is not None:
            _write_audio(container, sound, audio)
    return path


def _write_frames(
    container: av.container.OutputContainer,
    stream: av.video.stream.VideoStream,
    scenes: Sequence[Scene],
    fps: int,
    size: tuple[int, int],
    frame_times: Sequence[float] | None,
) -> None:
    times = list(frame_times) if frame_times else None
    index = 0
    clock = 0.0
    for scene in scenes:
        wide = scene.picture.resize((size[0] * 21 // 20, size[1] * 21 // 20))
        ends = clock + scene.seconds
        while True:
            t = times[index] if times is not None else index / fps
            if t >= ends - 1e-9 or (times is not None and index >= len(times)):
                break
            # A slow pan: 2.5 % of the width over the scene.
            pan = int(0.025 * size[0] * (t - clock) / max(scene.seconds, 1e-6))
            still = wide.crop((pan, pan // 2, pan + size[0], pan // 2 + size[1]))
            frame = av.VideoFrame.from_image(still)
            frame.pts = round(t * 1000) if times is not None else index
            for packet in stream.encode(frame):
                container.mux(packet)
            index += 1
            if times is not None and index >= len(times):
                break
        clock = ends
    for packet in stream.encode(None):
        container.mux(packet)


def _add_audio(container: av.container.OutputContainer, path: Path) -> av.audio.stream.AudioStream:
    codec = "libopus" if path.suffix in (".webm", ".mkv") else "aac"
    stream = container.add_stream(codec, rate=48000 if codec == "libopus" else AUDIO_RATE)
    stream.layout = "mono"
    return stream


def _write_audio(
    container: av.container.OutputContainer,
    stream: av.audio.stream.AudioStream,
    samples: npt.NDArray[np.float32],
) -> None:
    resampler = av.AudioResampler(format="fltp", layout="mono", rate=stream.rate)
    frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="flt", layout="mono")
    frame.sample_rate = AUDIO_RATE
    frame.pts = 0
    for out in resampler.resample(frame) + resampler.resample(None):
        for packet in stream.encode(out):
            container.mux(packet)
    for packet in stream.encode(None):
        container.mux(packet)
