"""The video extractor: a file in, its moments out (a frame each, with its span)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, ClassVar

import numpy as np
from PIL import Image

from mmsearch import Extractor, MediaType, Segment, SkipFile, Source
from mmsearch_video.moments import SIGNATURE_SIZE, MomentPicker, Signature
from mmsearch_video.sniff import looks_like_video

if TYPE_CHECKING:
    import av  # imported by decode.py on the first video: registering stays cheap

EXTENSIONS = frozenset(
    {"mp4", "m4v", "mov", "qt", "mkv", "webm", "avi", "3gp", "3g2", "ts", "mts", "m2ts"}
)
_JPEG_QUALITY = 92


class VideoExtractor(Extractor):
    """MP4/MOV, Matroska/WebM, AVI and MPEG-TS videos, recognised by their content.

    Each moment is a ``frame`` segment: its picture (decoded at a reduced size,
    rotation applied) for the image encoder and OCR, ``start`` the frame's time
    and ``end`` where the next moment begins. The sound track is whisper's (its
    ``whisper-video`` extractor runs on every video beside this one).
    """

    name: ClassVar[str] = "pyav-video"
    media_type: ClassVar[MediaType] = "video"
    extensions: ClassVar[frozenset[str]] = EXTENSIONS

    def sniff(self, head: bytes) -> bool:
        """Whether the head is that of a video container."""
        return looks_like_video(head)

    def extract(self, source: Source) -> Iterator[Segment]:
        """The video's moments; SkipFile when it is too long, holds no video or is broken."""
        from mmsearch_video.decode import (
            candidate_frames,
            duration,
            keyframes_suffice,
            open_video,
            video_stream,
        )
        from mmsearch_video.options import options_for

        options = options_for(source.settings.options)
        with open_video(source) as container:
            stream = video_stream(container)
            length = duration(container, stream)
            if length is not None and length > options.max_seconds:
                raise too_long(length, options.max_seconds)
            mode = options.decode
            if mode == "auto":
                mode = "keyframes" if keyframes_suffice(source, stream.index) else "all"
            picker = MomentPicker(
                options.frame_every, options.max_per_minute, options.scene_threshold
            )
            pending: _Moment | None = None
            last_time = 0.0
            for frame in candidate_frames(container, stream, mode, source):
                time = float(frame.time)
                if time > options.max_seconds:
                    raise too_long(time, options.max_seconds)
                last_time = max(last_time, time)
                if not picker.offer(time, _signature(frame)).new_moment:
                    continue
                if pending is not None:
                    yield pending.segment(end=time)
                picture = _picture(frame, options.frame_side, stream.sample_aspect_ratio)
                pending = _Moment(time, picture)
            if pending is not None:
                end = max(last_time, length or 0.0, pending.start)
                yield pending.segment(end=end)


def too_long(seconds: float, cap: float) -> SkipFile:
    """The skip for a video over the length cap."""
    return SkipFile(
        "too long",
        f"the video is {seconds / 60:.0f} min long, over the {cap / 60:.0f} min cap; raise "
        "the cap with `mmsearch index --set max_video_seconds=SECONDS` to index it",
    )


@dataclass(slots=True)
class _Moment:
    start: float
    picture: Image.Image

    def segment(self, end: float) -> Segment:
        return Segment(
            "frame", "image", self.picture, start=round(self.start, 3), end=round(end, 3)
        )


def _signature(frame: av.VideoFrame) -> Signature:
    small = frame.reformat(width=SIGNATURE_SIZE[0], height=SIGNATURE_SIZE[1], format="gray")
    return small.to_ndarray().astype(np.float32) / 255.0


def _picture(frame: av.VideoFrame, short_side: int, sar: Fraction | None) -> Image.Image:
    """The frame as shown (rotation applied), shorter side ``short_side`` at most.

    Kept as JPEG bytes that Pillow decodes when the encoder asks: an hour of
    moments holds a few megabytes, not a gigabyte of pixels.
    """
    width, height = _display_size(frame, sar)
    scale = min(1.0, short_side / min(width, height))
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    image = frame.reformat(width=size[0], height=size[1], format="rgb24").to_image()  # type: ignore[no-untyped-call]
    rotation = round(frame.rotation or 0) % 360
    if rotation:
        # The display matrix's angle is counter-clockwise, as Pillow's rotate() takes it.
        image = image.rotate(rotation, expand=True)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=_JPEG_QUALITY)
    buffer.seek(0)
    lazy = Image.open(buffer)
    lazy.draft(None, None)  # a plain JPEG at full stored size, decoded on first use
    return lazy


def _display_size(frame: av.VideoFrame, sar: Fraction | None) -> tuple[int, int]:
    """Width and height with anamorphic pixels (a sample aspect ratio) made square."""
    width = frame.width
    if sar is not None and sar.numerator > 0 and sar.denominator > 0 and sar != 1:
        width = round(width * sar.numerator / sar.denominator)
    return width, frame.height
