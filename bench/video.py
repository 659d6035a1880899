"""Video indexing: speed (frames alone, frames + speech), peak memory, moment accuracy.

Builds a 1080p H.264/AAC video (30 fps) from the sample photos (scenes of 5 to 9 s,
a slow pan each) with the committed speech recordings mixed in at known times
(tests/videos.py), then indexes it in a fresh process with the library's default
encoder and settings, twice: with the video plugin alone (frames, OCR on them) and
with whisper too (frames + the sound track's speech). It prints the real-time
factor (video seconds per second of indexing) and the peak memory of each, then
asks one query per scene (words for what the photo shows, and the photo itself as an
example) and one per spoken line, and counts the hits on the right moment: a
scene's start within 1 s, a line's start within 2 s.

``--long-seconds N`` also indexes an N-second 1080p video (default 0: skipped; 3600
for an hour) for peak memory; it is encoded at 10 fps, with one picture per scene,
so that building it takes minutes, not an hour.

    .venv/bin/python bench/video.py                    # 60 s video, about 3 minutes
    .venv/bin/python bench/video.py --seconds 20       # smoke run
    .venv/bin/python bench/video.py --long-seconds 3600
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.videos import (  # noqa: E402  (after the path is set)
    MEETING_BUDGET_AT,
    Scene,
    photo,
    sound_track,
    speech,
    write_video,
)

# What each sample photo shows, in words a person would type.
WORDS = {
    "DSC_0311.jpg": "a temple with a pagoda roof",
    "DSC_0318.jpg": "a flower in bloom",
    "IMG_2041.jpg": "a cat looking at the camera",
    "IMG_2044.jpg": "a cup of coffee",
    "IMG_2107.jpg": "a rocket on the launch pad",
    "IMG_2210.jpg": "a brick wall",
    "IMG_2301.jpg": "an astronaut in a space suit",
}
LINES = (  # recording, where its words start in it, a query for them
    ("meeting.ogg", MEETING_BUDGET_AT, "budget for the new library building"),
    ("weather.ogg", 0.0, "sunny and warm with a light breeze"),
    ("question.ogg", 0.0, "when did the council agree to pay"),
)

_INDEX = r"""
import json, resource, sys, time
from mmsearch import Library
db, folder, warm = sys.argv[1], sys.argv[2], sys.argv[3]
with Library.open(db) as lib:
    lib.index(warm)  # loads the models (a one-off per process), on a 2 s video
    start = time.perf_counter()
    report = lib.index(folder)
    seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": seconds, "peak_mb": peak, "report": report.to_json()}))
"""


def build(folder: Path, seconds: float) -> tuple[Path, list[tuple[str, float]], list[float]]:
    """The benchmark video, its scenes (photo, start) and its lines' start times."""
    names = sorted(WORDS)
    scenes, starts, clock, i = [], [], 0.0, 0
    while clock < seconds:
        length = min(5.0 + (i * 3) % 5, seconds - clock)
        scenes.append(Scene(photo(names[i % len(names)]), length))
        starts.append((names[i % len(names)], clock))
        clock += length
        i += 1
    lines, said = [], []
    at = 2.0
    for n in range(int(seconds // 20)):
        name, offset, _ = LINES[n % len(LINES)]
        lines.append((at, speech(name)))
        said.append(at + offset)
        at += 20.0
    video = write_video(
        folder / "IMG_2231.mp4",
        scenes,
        fps=30,
        size=(1920, 1080),
        audio=sound_track(seconds, lines),
    )
    return video, starts, said


def index(folder: Path, db: Path, plugins: str, warm: Path) -> dict[str, object]:
    """Index ``folder`` into ``db`` in a fresh process with only ``plugins`` loaded.

    The models are loaded first by indexing ``warm`` (a 2 s video): the time is that of
    ``folder`` alone; the peak memory is the process's, models included.
    """
    env = {**os.environ, "MMSEARCH_LOAD_PLUGINS": plugins}
    done = subprocess.run(
        [sys.executable, "-c", _INDEX, str(db), str(folder), str(warm)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def accuracy(
    db: Path, scenes: list[tuple[str, float]], said: list[float], tmp: Path
) -> dict[str, str]:
    """Hits on the right moment: by words and by example for scenes, by words for speech."""
    from mmsearch import Library

    first = {name: start for name, start in reversed(scenes)}  # each photo's first scene
    by_words = by_example = by_speech = 0
    with Library.open(db) as lib:
        for name, start in first.items():
            hit = next(iter(lib.search(WORDS[name]).hits), None)
            by_words += hit is not None and _near(hit.start, [s for n, s in scenes if n == name])
            example = tmp / f"example-{name}.png"
            photo(name).resize((640, 360)).save(example)
            hit = next(iter(lib.search(examples=[example]).hits), None)
            by_example += hit is not None and _near(hit.start, [s for n, s in scenes if n == name])
            del start
        for n, at in enumerate(said):
            hit = next(iter(lib.search(LINES[n % len(LINES)][2]).hits), None)
            by_speech += hit is not None and _near(hit.start, [at], 2.0)
    total = len(first)
    return {
        "scene queries, words (within 1 s)": f"{by_words}/{total}",
        "scene queries, the photo as example (within 1 s)": f"{by_example}/{total}",
        "speech queries (within 2 s)": f"{by_speech}/{len(said)}",
    }


def _near(start: float | None, targets: list[float], tolerance: float = 1.0) -> bool:
    return start is not None and any(abs(start - t) <= tolerance for t in targets)


def _long_video(folder: Path, seconds: float) -> Path:
    names = sorted(WORDS)
    scenes = [Scene(photo(names[i % len(names)]), 30.0) for i in range(int(seconds // 30))]
    lines = [(at, speech("meeting.ogg")) for at in range(5, int(seconds) - 30, 120)]
    return write_video(
        folder / "long.mp4",
        scenes,
        fps=10,
        size=(1920, 1080),
        audio=sound_track(seconds, lines),
        options={"preset": "ultrafast", "g": "20"},
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the video")
    parser.add_argument("--long-seconds", type=float, default=0.0, help="peak-memory video")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="mmsearch-bench-video-"))
    try:
        print(f"load average: {os.getloadavg()[0]:.2f} ({os.cpu_count()} cores)")
        media, warm = tmp / "media", tmp / "warm"
        media.mkdir()
        warm.mkdir()
        track = sound_track(2.0, [(0.2, speech("weather.ogg")[: 16000 * 2])])
        write_video(warm / "warm.mp4", [Scene(photo("IMG_2210.jpg"), 2.0)], audio=track)
        started = time.perf_counter()
        video, scenes, said = build(media, args.seconds)
        print(
            f"built {video.name}: {args.seconds:g} s 1080p30 H.264/AAC, {len(scenes)} scenes, "
            f"{len(said)} spoken lines, {video.stat().st_size / 1e6:.1f} MB "
            f"in {time.perf_counter() - started:.0f} s"
        )
        common = "images,ocr,offline,open-clip,hash-encoder,text"
        for label, plugins, db in (
            ("frames alone", f"video,{common}", tmp / "frames.db"),
            ("frames + speech", f"video,whisper,{common}", tmp / "speech.db"),
        ):
            result = index(media, db, plugins, warm)
            report = result["report"]
            assert isinstance(report, dict)
            factor = args.seconds / float(result["seconds"])  # type: ignore[arg-type]
            print(
                f"{label}: {result['seconds']:.1f} s, {factor:.1f}x real time, "
                f"peak {result['peak_mb']:.0f} MB, {report['segments']} segments "
                f"({report['space']})"
            )
        for what, figure in accuracy(tmp / "speech.db", scenes, said, tmp).items():
            print(f"{what}: {figure}")
        if args.long_seconds:
            folder = tmp / "long"
            folder.mkdir()
            started = time.perf_counter()
            _long_video(folder, args.long_seconds)
            print(
                f"built a {args.long_seconds:g} s 1080p10 video in "
                f"{time.perf_counter() - started:.0f} s"
            )
            for label, plugins in (
                ("frames", f"video,{common}"),
                ("frames + speech", f"video,whisper,{common}"),
            ):
                result = index(folder, tmp / f"long-{label[:6]}.db", plugins, warm)
                print(
                    f"{args.long_seconds:g} s video, {label}: {result['seconds']:.0f} s, "
                    f"peak {result['peak_mb']:.0f} MB"
                )
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
