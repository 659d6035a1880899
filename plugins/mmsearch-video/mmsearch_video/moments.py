"""Choosing a video's moments from its decoded frames: scene changes, a floor, a cap.

Each candidate frame (a key frame, or one every half second) is compared with
the frame of the moment it may belong to through a 32x18 grey thumbnail: a
mean absolute difference over ``scene_threshold`` is a cut and starts a new
moment; a smaller change starts one only when the moment is ``frame_every``
seconds old (a pan keeps getting frames, a still shot does not); anything else
extends the moment. Consecutive matching frames are thus one moment
``[start, end]`` whose picture is its first frame. No more than
``max_per_minute`` moments start in any 60 s.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Signature = npt.NDArray[np.float32]
SIGNATURE_SIZE = (32, 18)
_STILL = 0.02
"""Below this difference two frames are the same picture (compression noise, a blink)."""


def difference(a: Signature, b: Signature) -> float:
    """Mean absolute difference of two grey thumbnails, 0 (same) to 1."""
    return float(np.mean(np.abs(a - b)))


@dataclass(slots=True)
class Decision:
    """What to do with a candidate frame."""

    new_moment: bool
    cut: bool
    """It starts a new shot (not only the floor of one frame every so often)."""


class MomentPicker:
    """Decides, frame by frame, where moments start."""

    def __init__(self, frame_every: float, max_per_minute: int, scene_threshold: float) -> None:
        self.frame_every = frame_every
        self.max_per_minute = max_per_minute
        self.threshold = scene_threshold
        self.current: Signature | None = None
        self.current_start = 0.0
        self.recent: deque[float] = deque()

    def offer(self, time: float, signature: Signature) -> Decision:
        """Whether the frame at ``time`` starts a new moment."""
        if self.current is None:
            return self._start(time, signature, cut=True)
        change = difference(self.current, signature)
        cut = change > self.threshold
        due = time - self.current_start >= self.frame_every and change > _STILL
        if not (cut or due) or self._over_cap(time):
            return Decision(False, False)
        return self._start(time, signature, cut=cut)

    def _start(self, time: float, signature: Signature, *, cut: bool) -> Decision:
        self.current, self.current_start = signature, time
        self.recent.append(time)
        return Decision(True, cut)

    def _over_cap(self, time: float) -> bool:
        while self.recent and self.recent[0] <= time - 60.0:
            self.recent.popleft()
        return len(self.recent) >= self.max_per_minute
