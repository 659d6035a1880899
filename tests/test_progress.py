"""Index progress: stages and counts that move when work finishes, a rate, an ETA, a
terminal line only on a terminal, and the same figures through ``on_progress``."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from click.testing import CliRunner

from mmsearch import Library
from mmsearch.cli import cli
from mmsearch.cli.progress import TerminalProgress, render, terminal_progress
from mmsearch.index.indexer import IndexOptions
from mmsearch.index.progress import IndexProgress, ProgressTracker
from mmsearch.plugins import Registry


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_tracker_counts_finished_work_and_derives_rate_and_eta() -> None:
    clock = FakeClock()
    seen: list[IndexProgress] = []
    tracker = ProgressTracker([seen.append], clock=clock)
    tracker.scanning("/photos")
    tracker.planned(100)
    for i in range(1, 51):
        tracker(i, 100)
    clock.now += 10
    tracker.embedding(50)
    tracker.committing()
    tracker.committed(50)
    snap = seen[-1]
    assert (snap.stage, snap.total, snap.extracted, snap.committed) == ("extract", 100, 50, 50)
    assert snap.rate == pytest.approx(5.0)  # 50 files in the 10 s since the root began
    assert snap.eta == pytest.approx(10.0)
    assert [s.stage for s in seen[-3:]] == ["embed", "commit", "extract"]
    tracker.finishing()
    tracker.done()
    assert [s.stage for s in seen[-2:]] == ["finish", "done"]


def test_library_index_reports_each_stage_and_never_shows_done_before_the_last_commit(
    media: Path, library: Library
) -> None:
    seen: list[IndexProgress] = []
    legacy: list[tuple[int, int]] = []
    report = library.index(
        media,
        options=IndexOptions(commit_every=2),
        on_progress=seen.append,
        progress=lambda done, total: legacy.append((done, total)),
    )
    files = report.indexed + len(report.skipped) + len(report.failed)
    stages = [s.stage for s in seen]
    assert stages[0] == "scan" and stages[-2:] == ["finish", "done"]
    assert {"extract", "embed", "commit"} <= set(stages)
    committed = [s.committed for s in seen if s.stage not in ("finish", "done")]
    assert committed == sorted(committed)  # it only goes forward
    assert all(s.committed < s.total for s in seen if s.stage == "embed")
    last = [s for s in seen if s.stage == "commit"][-1]
    assert last.committed == last.total == files
    assert legacy[-1] == (files, files)
    assert all(done <= total for done, total in legacy)


def test_the_terminal_line_shows_stage_counts_rate_and_eta() -> None:
    snap = IndexProgress("embed", "/photos", 300, 200, 128, 64, 20.0, 6.4, 27.0)
    line = render(snap)
    assert line.startswith("embedding")
    assert "128/300 files" in line and "(batch of 64)" in line
    assert "6.4 files/s" in line and "ETA 0:27" in line and "/photos" in line
    assert len(render(snap, width=30)) <= 30


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_line_is_drawn_only_on_a_terminal_and_wiped_at_the_end() -> None:
    with terminal_progress(io.StringIO()) as none:
        assert none is None
    screen = FakeTerminal()
    with terminal_progress(screen) as drawer:
        assert isinstance(drawer, TerminalProgress)
        drawer(IndexProgress("extract", "/x", 10, 3, 2, 0, 1.0, 2.0, 4.0))
    assert "2/10 files" in screen.getvalue()
    assert screen.getvalue().endswith("\r")  # wiped: the summary starts on a clean line


def test_index_prints_no_progress_when_stderr_is_not_a_terminal(
    media: Path, tmp_path: Path, registry: Registry
) -> None:
    result = CliRunner().invoke(
        cli,
        ["index", str(media), "--db", str(tmp_path / "c.db"), "--encoder", "counting"],
        obj={"registry": registry},
    )
    assert result.exit_code == 0, result.output
    assert "\r" not in result.output and "reading" not in result.output
