"""Benchmark: real-time factor of indexing speech with the whisper plugin.

Builds a recording of ``--minutes`` of continuous speech, sentences that
espeak-ng speaks from random words (seeded, so every run hears the same), as
16 kHz Opus, then times ``transcribe_file`` on it: PyAV
decoding, the voice-activity filter, whisper and the windowing, end to end.
The real-time factor is seconds of work per second of audio; lower is faster.
The model is loaded before timing (its load time is printed apart), and each
configuration runs ``--repeat`` times; the line reports the median of those runs
("median of N") and, beside it, the fastest ("best"), since other processes on a
shared machine only ever make a run slower.

Target: RTF <= 0.15 for the default (faster-whisper tiny.en, int8, CPU).

This is not a test: it prints figures. Run from the repository root:

    .venv/bin/python bench/transcribe.py               # 3 minutes of speech, ~2 minutes
    .venv/bin/python bench/transcribe.py --minutes 1   # smoke run
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import av
import numpy as np
import numpy.typing as npt
from mmsearch_whisper import transcribe_file
from mmsearch_whisper.options import WhisperOptions
from mmsearch_whisper.runtimes import runtime_for

from mmsearch import ExtractSettings, Source

RATE = 16000

CONFIGS: list[tuple[str, dict[str, Any]]] = [
    ("default (beam 1, threads = cores)", {}),
    ("beam 5", {"whisper_beam_size": 5}),
    ("1 thread", {"whisper_threads": 1}),
]


_SUBJECTS = (
    "The finance team",
    "Our new intern",
    "The city council",
    "My neighbour",
    "The project lead",
    "A visiting engineer",
    "The school board",
    "Every customer",
    "The night shift",
    "Our landlord",
)
_VERBS = (
    "reviewed",
    "postponed",
    "questioned",
    "approved",
    "rewrote",
    "forgot about",
    "celebrated",
    "measured",
    "described",
    "rejected",
)
_OBJECTS = (
    "the quarterly budget",
    "the parking rules",
    "a broken water pipe",
    "the spring festival",
    "the new bicycle lanes",
    "an overdue invoice",
    "the library roof",
    "the hiring plan",
    "a strange noise in the attic",
    "the holiday schedule",
)
_WHEN = (
    "on Monday morning",
    "after lunch",
    "before the long weekend",
    "during the storm",
    "at the last meeting",
    "without telling anyone",
    "twice in one week",
    "late last night",
)


def speech(minutes: float) -> npt.NDArray[np.int16]:
    """``minutes`` of continuous speech by espeak-ng, every sentence different.

    Repeating a few recordings would not do: whisper re-decodes a transcript that
    compresses too well (a loop, to it), which real speech seldom triggers.
    """
    if shutil.which("espeak-ng") is None:
        sys.exit("bench/transcribe.py needs espeak-ng to make its speech: apt install espeak-ng")
    rng = random.Random(0)
    words = int(minutes * 150)  # espeak-ng speaks about 150 words a minute at -s 150
    sentences: list[str] = []
    while sum(len(s.split()) for s in sentences) < words:
        parts = (_SUBJECTS, _VERBS, _OBJECTS, _WHEN)
        sentences.append(" ".join(rng.choice(p) for p in parts) + ".")
    with tempfile.TemporaryDirectory() as folder:
        wav = Path(folder) / "speech.wav"
        subprocess.run(["espeak-ng", "-s", "150", "-w", str(wav), " ".join(sentences)], check=True)
        return _decode(wav)


def _decode(path: Path) -> npt.NDArray[np.int16]:
    resampler = av.AudioResampler(format="s16", layout="mono", rate=RATE)
    with av.open(str(path)) as container:
        frames = [f for frame in container.decode(audio=0) for f in resampler.resample(frame)]
    return np.concatenate([f.to_ndarray().reshape(-1) for f in frames]).astype(np.int16)


def write_opus(path: Path, pcm: npt.NDArray[np.int16]) -> None:
    """A 16 kHz mono Ogg Opus file, like a voice recording."""
    with av.open(str(path), "w", format="ogg") as out:
        stream = out.add_stream("libopus", rate=RATE, layout="mono")
        stream.bit_rate = 24000
        frame = av.AudioFrame.from_ndarray(pcm[None, :], format="s16", layout="mono")
        frame.sample_rate = RATE
        out.mux(stream.encode(frame))
        out.mux(stream.encode(None))


def timed_runs(path: Path, options: dict[str, Any], repeat: int) -> tuple[list[float], int]:
    """The seconds of each of ``repeat`` runs, and the number of windows made."""
    raw = os.fsencode(path)
    source = Source(raw, path.name, path.stat().st_size, ExtractSettings(options=options))
    times, windows = [], 0
    for _ in range(repeat):
        started = time.perf_counter()
        windows = len(transcribe_file(source))
        times.append(time.perf_counter() - started)
    return times, windows


def load_seconds(options: dict[str, Any]) -> float:
    """Time to load the model these settings use (zero if it is loaded already)."""
    runtime = runtime_for(WhisperOptions.from_mapping(options))
    started = time.perf_counter()
    runtime.load()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--minutes", type=float, default=3.0)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "talk.ogg"
        pcm = speech(args.minutes)
        write_opus(path, pcm)
        seconds = len(pcm) / RATE
        print(f"recording: {seconds:.0f} s of speech, {path.stat().st_size / 1e3:.0f} kB Opus")
        for label, options in CONFIGS:
            loaded = load_seconds(options)
            times, windows = timed_runs(path, options, args.repeat)
            median, best = statistics.median(times), min(times)
            print(
                f"{label:36s} RTF {median / seconds:.3f} median of {len(times)} "
                f"(best {best / seconds:.3f}; {median:.1f} s, {windows} windows, "
                f"model load {loaded:.1f} s)"
            )


if __name__ == "__main__":
    main()
