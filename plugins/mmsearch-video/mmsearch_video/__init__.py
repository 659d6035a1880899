"""mmsearch plugin: videos become moments, a frame for each, found by what they show.

Frames are decoded with PyAV (FFmpeg's libraries inside the wheel; no ffmpeg
program), key frames only by default, at a reduced size, with the rotation phones
record honoured. A new moment starts at each cut, and a changing shot gets one at
least every ``video_frame_every`` seconds, at most ``video_max_frames_per_minute`` a
minute (see :mod:`mmsearch_video.moments`). Each moment is a ``frame`` segment that
the library's image encoder embeds and the OCR annotator reads (slides, subtitles),
so a hit says "IMG_2231.MOV at 00:41". The sound track's speech is the whisper
plugin's (its ``whisper-video`` extractor runs beside this one). Settings:
:mod:`mmsearch_video.options`.
"""

from __future__ import annotations

from collections.abc import Callable

from mmsearch import Extractor, hookimpl
from mmsearch_video.extractor import VideoExtractor
from mmsearch_video.sniff import looks_like_video

__all__ = ["VideoExtractor", "looks_like_video", "register_extractors"]


@hookimpl
def register_extractors(register: Callable[[Extractor], None]) -> None:
    """Register the video extractor (cheap: PyAV is imported on the first video)."""
    register(VideoExtractor())
