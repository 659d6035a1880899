"""--watch: files written, changed, moved and deleted under a watched folder are indexed."""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any

from conftest import Served, make_library, start_server, stop_server


def _wait_for(served: Served, query: str, check: Any, timeout: float = 60.0) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        _, _, found = served.get(f"/api/v1/search?q={query}&show_weak=true&k=20")
        if check([h["path"] for h in found["results"]]):
            return time.monotonic() - started
        time.sleep(0.1)
    raise AssertionError(f"{query!r} did not change as expected within {timeout} s")


def test_watched_folder_follows_new_changed_moved_and_deleted_files(tmp_path: Path) -> None:
    db, media = make_library(tmp_path)
    served = start_server(db, media, "--watch", str(media), home=tmp_path / "home")
    try:
        delays = []
        for n in range(20):
            name = f"note{n}.txt"
            (media / name).write_text(f"The zeppelin{n} hangar opens at dawn.")
            delays.append(
                _wait_for(served, f"zeppelin{n}", lambda p, n=name: any(x.endswith(n) for x in p))
            )
        print(f"new file searchable after {statistics.median(delays):.2f} s (p50 of 20)")
        (media / "note0.txt").write_text("Now about a walrus colony.")
        _wait_for(served, "walrus", lambda p: any(x.endswith("note0.txt") for x in p))
        (media / "note1.txt").rename(media / "moved.txt")
        _wait_for(served, "zeppelin1", lambda p: any(x.endswith("moved.txt") for x in p))
        (media / "note2.txt").unlink()
        _wait_for(served, "zeppelin2", lambda p: not any(x.endswith("note2.txt") for x in p))
        _, _, jobs = served.get("/api/v1/jobs")
        assert {j["source"] for j in jobs["jobs"]} == {"watch"}
        moved = [j for j in jobs["jobs"] if j["report"] and j["report"]["moved"]]
        assert moved, "the rename was indexed as a move (its vectors kept)"
    finally:
        assert stop_server(served) == 0


def test_a_burst_of_new_files_becomes_a_few_batched_runs(tmp_path: Path) -> None:
    db, media = make_library(tmp_path)
    served = start_server(db, media, "--watch", str(media), home=tmp_path / "home")
    try:
        _wait_for(served, "harbour", lambda p: bool(p))  # the start-up run is over
        burst = media / "burst"
        burst.mkdir()
        for i in range(1000):
            (burst / f"b{i:04d}.txt").write_text(f"Burst note {i} about a narwhal{i}.")
        _wait_for(served, "narwhal999", lambda p: any(x.endswith("b0999.txt") for x in p), 300)
        deadline = time.monotonic() + 120
        while True:  # files written late in the burst may be in one more run
            _, _, jobs = served.get("/api/v1/jobs")
            runs = [j for j in jobs["jobs"] if j["report"] and j["report"]["indexed"]]
            if sum(j["report"]["indexed"] for j in runs) >= 1000 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert sum(j["report"]["indexed"] for j in runs) == 1000
        assert len(runs) <= 10, [j["report"]["indexed"] for j in runs]  # not 1,000 runs
    finally:
        stop_server(served)
