"""The plugin's settings, from ``ExtractSettings.options`` (``mmsearch index --set KEY=VALUE``).

- ``video_frame_every``: seconds; a shot that keeps changing (a pan, people moving)
  gets a new moment at least this often (default 10).
- ``video_max_frames_per_minute``: at most this many moments start in any minute
  (default 12), so a flickering video cannot flood the catalog.
- ``video_scene_threshold``: how different a frame must look from its moment's
  frame to start a new one, 0-1 (default 0.12: the mean absolute difference of
  small grey thumbnails).
- ``video_decode``: ``auto`` (default), ``keyframes`` or ``all``. ``keyframes`` decodes
  only key frames (encoders put one at each cut, phones one every second or two);
  ``all`` decodes every frame and compares two a second, at several times the cost;
  ``auto`` looks at the first half minute's packets (no decoding) and takes
  ``keyframes`` when key frames are at most 2 s apart, else ``all``.
- ``video_frame_side``: the shorter side, in pixels, frames are decoded to for the
  encoder and OCR (default: twice the encoder's ``image_min_side``, at least 360).
- ``max_video_seconds``: longer videos are skipped (default 14400, four hours).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mmsearch import SkipFile

DECODE_MODES = ("auto", "keyframes", "all")


@dataclass(frozen=True, slots=True)
class VideoOptions:
    """The video settings of one run."""

    frame_every: float = 10.0
    max_per_minute: int = 12
    scene_threshold: float = 0.12
    decode: str = "auto"
    frame_side: int = 360
    max_seconds: float = 4 * 3600.0


def options_for(options: Mapping[str, Any]) -> VideoOptions:
    """The settings in ``options``; SkipFile (said once) for a value that is not valid."""
    d = VideoOptions()
    hint = options.get("image_min_side")
    side_default = max(d.frame_side, 2 * int(hint)) if hint else d.frame_side
    decode = str(options.get("video_decode", d.decode)).strip().lower()
    if decode not in DECODE_MODES:
        raise _bad("video_decode", decode, " or ".join(DECODE_MODES))
    return VideoOptions(
        frame_every=_number(options, "video_frame_every", d.frame_every, 0.5, 3600),
        max_per_minute=int(
            _number(options, "video_max_frames_per_minute", d.max_per_minute, 1, 600)
        ),
        scene_threshold=_number(options, "video_scene_threshold", d.scene_threshold, 0.001, 1),
        decode=decode,
        frame_side=int(_number(options, "video_frame_side", side_default, 32, 4320)),
        max_seconds=_number(options, "max_video_seconds", d.max_seconds, 1, float("inf")),
    )


def _number(options: Mapping[str, Any], key: str, default: float, low: float, high: float) -> float:
    raw = options.get(key, default)
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise _bad(key, raw, f"a number from {low:g} to {high:g}") from None
    if not low <= value <= high:
        raise _bad(key, raw, f"a number from {low:g} to {high:g}")
    return value


def _bad(key: str, value: object, wanted: str) -> SkipFile:
    return SkipFile(
        "bad video setting",
        f"--set {key}={value} is not valid: give {wanted} (mmsearch index --set {key}=VALUE)",
        once=True,
    )
