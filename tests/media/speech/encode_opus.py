"""Encode a WAV file as 16 kHz mono Ogg Opus at 24 kbit/s with PyAV: ``encode_opus.py IN OUT``."""

from __future__ import annotations

import sys

import av
import numpy as np


def encode(source: str, target: str) -> None:
    """Re-encode ``source`` (any audio PyAV reads) as small Ogg Opus."""
    with av.open(source) as reader:
        frames = [f.to_ndarray() for f in reader.decode(audio=0)]
    pcm = np.concatenate(frames, axis=1).astype(np.int16)
    with av.open(target, "w", format="ogg") as writer:
        stream = writer.add_stream("libopus", rate=16000, layout="mono")
        stream.bit_rate = 24000
        frame = av.AudioFrame.from_ndarray(pcm[:1], format="s16", layout="mono")
        frame.sample_rate = 16000
        for packet in stream.encode(frame):
            writer.mux(packet)
        for packet in stream.encode(None):
            writer.mux(packet)


if __name__ == "__main__":
    encode(sys.argv[1], sys.argv[2])
