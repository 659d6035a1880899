"""Index runs that recover: skips retried when their cause goes, no hangs, no wiped roots.

Each test pins one hard case of issue 10 (the index side): a skipped file that
never came back after the user fixed what the message said; a file swapped for
a FIFO after the scan that hung the run holding the writer lock; an unmounted
root that wiped its entries; advice that named the wrong cause.
"""

from __future__ import annotations

import errno
import os
import shutil
import socket
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from click.testing import CliRunner, Result
from support import CountingEncoder, first_party_extractors, make_registry, save_image

import mmsearch.index.extraction as extraction
import mmsearch.index.workers as workers
from mmsearch import Extractor, IndexOptions, Library, MediaType, Segment, SkipFile, Source
from mmsearch.cli import cli
from mmsearch.contracts import ExtractSettings
from mmsearch.index.report import IndexReport
from mmsearch.index.scanner import Scanner, ScanResult
from mmsearch.plugins import Registry
from mmsearch.store.locations import lock_path
from mmsearch.store.locking import writer_lock
from mmsearch.testing.media import bomb_png

HANG_GUARD_S = 60.0
"""Only a guard so a regression fails instead of hanging the suite; nothing is timed."""


def _items(db_path: Path) -> dict[str, tuple[str, str | None]]:
    with sqlite3.connect(db_path) as conn:
        rows = conn.execute("SELECT display, status, reason FROM items").fetchall()
    return {display: (status, reason) for display, status, reason in rows}


def _reasons(report: IndexReport) -> dict[str, str]:
    return {p.path.rsplit("/", 1)[-1]: p.reason for p in report.skipped}


def _detail(report: IndexReport, name: str) -> str:
    [problem] = [p for p in report.skipped if p.path.endswith("/" + name)]
    return problem.detail


def _run_cli(*args: str | Path) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def _after_scan(monkeypatch: pytest.MonkeyPatch, change: Callable[[], None]) -> None:
    """Make ``change`` happen between the scan and the reading of the files."""

    class ChangingScanner(Scanner):
        def scan(self) -> ScanResult:
            result = Scanner.scan(self)
            change()
            return result

    monkeypatch.setattr("mmsearch.index.indexer.Scanner", ChangingScanner)


def _index_in_thread(run: Callable[[], IndexReport], unblock: Callable[[], None]) -> IndexReport:
    """Run an index call that must finish on its own; ``unblock`` frees it if it hangs."""
    out: dict[str, Any] = {}

    def target() -> None:
        try:
            out["report"] = run()
        except BaseException as exc:  # re-raised in the test's thread
            out["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(HANG_GUARD_S)
    hung = thread.is_alive()
    unblock()
    thread.join(HANG_GUARD_S)
    assert not hung, "the index run hung"
    if "error" in out:
        raise out["error"]
    report: IndexReport = out["report"]
    return report


# -- 1. skipped files recover ---------------------------------------------------------


def test_text_over_the_size_cap_is_read_once_the_cap_is_raised(
    library: Library, media: Path
) -> None:
    (media / "long.txt").write_text("a long note about the harbour " * 100)
    small = ExtractSettings(max_text_bytes=1000)
    assert _reasons(library.index(media, settings=small)) == {"long.txt": "too large"}
    again = library.index(media, settings=ExtractSettings())
    assert again.indexed == 1 and again.skipped == []
    assert _items(library.db_path)["long.txt"] == ("done", None)


def test_text_size_cap_message_names_the_cli_flag(library: Library, media: Path) -> None:
    (media / "long.txt").write_text("words " * 400)
    report = library.index(media, settings=ExtractSettings(max_text_bytes=1000))
    detail = _detail(report, "long.txt")
    assert "--max-text-mb" in detail, detail


def test_image_over_the_megapixel_cap_is_read_once_the_cap_is_raised(
    library: Library, media: Path
) -> None:
    save_image(media / "big.png", (5, 5, 5), size=(2000, 1000))  # 2 MP
    capped = library.index(media, settings=ExtractSettings(max_image_megapixels=1.5))
    assert _reasons(capped) == {"big.png": "too large"}
    again = library.index(media, settings=ExtractSettings(max_image_megapixels=3))
    assert again.indexed == 1 and again.skipped == []


def test_skip_under_the_same_settings_is_not_read_again(library: Library, media: Path) -> None:
    (media / "long.txt").write_text("words " * 400)
    small = ExtractSettings(max_text_bytes=1000)
    library.index(media, settings=small)
    again = library.index(media, settings=small)
    assert (again.indexed, again.unchanged, again.skipped) == (0, 6, [])


def test_unreadable_file_is_read_once_its_permission_is_fixed(
    library: Library, media: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = os.fsencode(media / "car.txt")
    real = extraction.content_hash

    def denied(source: Source) -> tuple[str, bytes]:
        if source.path == target:  # root reads anything: refuse the way the OS would
            raise PermissionError(13, "Permission denied", source.fspath)
        return real(source)

    monkeypatch.setattr(extraction, "content_hash", denied)
    first = library.index(media)
    assert _reasons(first) == {"car.txt": "unreadable file"}
    monkeypatch.setattr(extraction, "content_hash", real)
    again = library.index(media)  # same size and mtime: only the permission changed
    assert again.indexed == 1 and again.skipped == []
    assert _items(library.db_path)["car.txt"] == ("done", None)


def test_file_with_a_disk_read_error_is_read_again_once_the_drive_is_back(
    library: Library, media: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = os.fsencode(media / "car.txt")
    real = extraction.content_hash

    def failing(source: Source) -> tuple[str, bytes]:
        if source.path == target:
            raise OSError(errno.EIO, "Input/output error", source.fspath)
        return real(source)

    monkeypatch.setattr(extraction, "content_hash", failing)
    first = library.index(media)
    assert _reasons(first) == {"car.txt": "read error"}
    assert "permission" not in _detail(first, "car.txt")
    monkeypatch.setattr(extraction, "content_hash", real)
    assert library.index(media).indexed == 1


class _FlakyExtractor(Extractor):
    """Skips each file the first time it sees it, reads it the second time."""

    name: ClassVar[str] = "flaky"
    media_type: ClassVar[MediaType] = "text"
    extensions: ClassVar[frozenset[str]] = frozenset({"flaky"})

    def __init__(self) -> None:
        self.seen: set[bytes] = set()

    def extract(self, source: Source) -> Iterator[Segment]:
        if source.path not in self.seen:
            self.seen.add(source.path)
            raise SkipFile("busy", "the device was busy; run again with --retry-skipped")
        yield Segment(kind="text", modality="text", content="flaky words", text="flaky words")


def _with_extractor(encoder: CountingEncoder, extractor: Extractor) -> Registry:
    return make_registry(encoder, extractors=[*first_party_extractors(), extractor])


def test_retry_skipped_reads_skipped_files_again_under_the_same_settings(
    db_path: Path, media: Path, counting_encoder: CountingEncoder
) -> None:
    (media / "note.flaky").write_text("flaky words")
    registry = _with_extractor(counting_encoder, _FlakyExtractor())
    with Library.open(db_path, registry=registry) as lib:
        assert _reasons(lib.index(media)) == {"note.flaky": "busy"}
        assert lib.index(media).unchanged == 6  # not asked: the skip stands
        again = lib.index(media, options=IndexOptions(retry_skipped=True))
    assert again.indexed == 1 and again.skipped == []


def test_retry_skipped_has_a_cli_flag(media: Path, tmp_path: Path) -> None:
    (media / "long.txt").write_text("words " * 400)
    db = tmp_path / "c.db"
    assert _run_cli("--db", db, "index", media, "--max-text-mb", "0.001").exit_code == 0
    result = _run_cli("--db", db, "index", media, "--max-text-mb", "0.001", "--retry-skipped")
    assert result.exit_code == 0, result.output
    assert "skipped 1: too large" in result.stdout  # read again (and skipped again)


def test_file_of_an_unsupported_type_is_read_once_a_plugin_reads_it(
    db_path: Path, media: Path, counting_encoder: CountingEncoder
) -> None:
    (media / "note.flaky").write_text("flaky words")
    with Library.open(db_path, registry=make_registry(counting_encoder)) as lib:
        assert _reasons(lib.index(media)) == {"note.flaky": "unsupported type"}
    extractor = _FlakyExtractor()
    extractor.seen.add(os.fsencode(media / "note.flaky"))  # reads it at once
    registry = _with_extractor(counting_encoder, extractor)
    with Library.open(db_path, registry=registry) as lib:
        again = lib.index(media)
    assert again.indexed == 1 and again.skipped == []


def test_skip_recorded_before_skip_keys_existed_is_retried(library: Library, media: Path) -> None:
    (media / "long.txt").write_text("words " * 400)
    library.index(media, settings=ExtractSettings(max_text_bytes=1000))
    with sqlite3.connect(library.db_path) as conn:
        conn.execute("UPDATE items SET skip_key = NULL")  # as migrated from revision 0001
    again = library.index(media)
    assert again.indexed == 1


# -- 2. no open blocks, and no file holds the run ---------------------------------------


def test_file_replaced_by_a_fifo_after_the_scan_is_skipped_without_blocking(
    library: Library, media: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = media / "car.txt"

    def to_fifo() -> None:
        target.unlink()
        os.mkfifo(target)

    def unblock() -> None:  # a blocked open(O_RDONLY) of a FIFO returns once a writer opens
        try:
            fd = os.open(target, os.O_WRONLY | os.O_NONBLOCK)
        except OSError:
            return
        os.close(fd)

    _after_scan(monkeypatch, to_fifo)
    report = _index_in_thread(lambda: library.index(media), unblock)
    assert _reasons(report) == {"car.txt": "not a regular file"}
    assert "FIFO" in _detail(report, "car.txt")
    assert report.indexed == 4


class _HangingExtractor(Extractor):
    """Blocks on ``release``, as a decoder stuck on a dead drive would, once its budget is spent.

    It moves the pool's clock past the budget as it starts, so the run gives it up at
    once while every other file keeps the whole budget: nothing depends on real time.
    """

    name: ClassVar[str] = "hanging"
    media_type: ClassVar[MediaType] = "text"
    extensions: ClassVar[frozenset[str]] = frozenset({"hang"})

    def __init__(self, spend_budget: Callable[[], None]) -> None:
        self.release = threading.Event()
        self.spend_budget = spend_budget

    def extract(self, source: Source) -> Iterator[Segment]:
        self.spend_budget()
        self.release.wait()
        yield Segment(kind="text", modality="text", content="late", text="late")


def test_file_over_its_time_budget_is_skipped_and_the_lock_released(
    db_path: Path, media: Path, counting_encoder: CountingEncoder, monkeypatch: pytest.MonkeyPatch
) -> None:
    budget, elapsed = 60.0, [0.0]
    monkeypatch.setattr(workers, "now", lambda: time.monotonic() + elapsed[0])
    (media / "stuck.hang").write_text("never read in time")
    hanging = _HangingExtractor(lambda: elapsed.__setitem__(0, elapsed[0] + budget + 1))
    registry = _with_extractor(counting_encoder, hanging)
    # One worker: a file started before the clock moved has finished by then.
    options = IndexOptions(file_timeout=budget, workers=1)
    with Library.open(db_path, registry=registry) as lib:
        report = _index_in_thread(lambda: lib.index(media, options=options), hanging.release.set)
        assert _reasons(report) == {"stuck.hang": "took too long"}
        assert "--file-timeout" in _detail(report, "stuck.hang")
        assert report.indexed == 5  # the run went on without it
    with writer_lock(lock_path(db_path)):
        pass  # the run let go of the lock


def test_fifos_and_sockets_in_a_root_are_named_and_counted(
    library: Library, media: Path, tmp_path: Path
) -> None:
    os.mkfifo(media / "pipe")
    # A socket path must be short (108 bytes): bind from inside the folder.
    here = os.getcwd()
    os.chdir(media)
    sock = socket.socket(socket.AF_UNIX)
    try:
        sock.bind("sock")
        report = library.index(media)
    finally:
        sock.close()
        os.chdir(here)
    assert _reasons(report) == {"pipe": "not a regular file", "sock": "not a regular file"}
    assert "FIFO" in _detail(report, "pipe") and "socket" in _detail(report, "sock")
    assert report.skipped_counts() == {"not a regular file": 2}


# -- 3. an empty or replaced root is refused, not wiped ----------------------------------


def _count(db_path: Path) -> int:
    with sqlite3.connect(db_path) as conn:
        return int(conn.execute("SELECT count(*) FROM items").fetchone()[0])


def _empty(folder: Path) -> None:
    shutil.rmtree(folder)
    folder.mkdir()


def test_emptied_root_is_refused_and_nothing_removed(library: Library, media: Path) -> None:
    library.index(media)
    _empty(media)
    report = library.index(media)
    assert report.removed == 0 and _count(library.db_path) == 5
    [refused] = report.unavailable
    assert refused.reason == "root unavailable"
    assert "nothing removed" in refused.detail and "--allow-empty-root" in refused.detail
    assert library.query("red car harbour", k=1)[0].path.endswith("car.txt")


def test_allow_empty_root_removes_the_entries_of_an_emptied_root(
    library: Library, media: Path
) -> None:
    library.index(media)
    _empty(media)
    report = library.index(media, options=IndexOptions(allow_empty_root=True))
    assert report.removed == 5 and report.unavailable == []
    assert _count(library.db_path) == 0


def test_root_replaced_by_another_folder_is_refused(library: Library, media: Path) -> None:
    library.index(media)
    media.rename(media.with_name("media-elsewhere"))  # kept, so the new folder has another inode
    media.mkdir()  # an unmounted mount point: another folder at the same path
    (media / "stray.txt").write_text("written while the drive was not mounted")
    report = library.index(media)
    assert report.removed == 0 and report.indexed == 0
    assert [p.reason for p in report.unavailable] == ["root unavailable"]
    assert _count(library.db_path) == 5


def test_root_copied_back_with_its_files_is_the_same_root(
    library: Library, media: Path, tmp_path: Path
) -> None:
    library.index(media)
    copy = tmp_path / "copy"
    shutil.copytree(media, copy)  # copy2 keeps mtimes: the same files, a new folder
    shutil.rmtree(media)
    copy.rename(media)
    report = library.index(media)
    assert report.unavailable == [] and (report.unchanged, report.removed) == (5, 0)


def test_missing_root_exits_1_and_keeps_its_entries(media: Path, tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    assert _run_cli("--db", db, "index", media).exit_code == 0
    shutil.rmtree(media)
    result = _run_cli("--db", db, "index", media)
    assert result.exit_code == 1, result.output
    assert "root unavailable" in result.stderr and "nothing removed" in result.stderr
    assert _count(db) == 5
    allowed = _run_cli("--db", db, "index", media, "--allow-empty-root", "--json")
    assert allowed.exit_code == 0, allowed.output
    assert _count(db) == 0


def test_empty_root_on_the_cli_exits_1_unless_allowed(media: Path, tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    assert _run_cli("--db", db, "index", media).exit_code == 0
    _empty(media)
    refused = _run_cli("--db", db, "index", media)
    assert refused.exit_code == 1 and "root unavailable" in refused.stderr
    assert _count(db) == 5
    assert _run_cli("--db", db, "index", media, "--allow-empty-root").exit_code == 0
    assert _count(db) == 0


# -- 4. true reasons, each folder once, flags that exist ------------------------------


def test_file_deleted_after_the_scan_is_not_blamed_on_permissions(
    library: Library, media: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _after_scan(monkeypatch, (media / "car.txt").unlink)
    report = library.index(media)
    assert _reasons(report) == {"car.txt": "file vanished"}
    assert "permission" not in _detail(report, "car.txt")


def _deep_folder(root: Path) -> bytes:
    """A folder whose absolute path is longer than PATH_MAX, made one level at a time."""
    name = b"d" * 200
    fd = os.open(root, os.O_RDONLY)
    depth = 0
    try:
        while len(os.fsencode(root)) + depth * (len(name) + 1) <= os.pathconf(root, "PC_PATH_MAX"):
            os.mkdir(name, dir_fd=fd)
            inner = os.open(name, os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = inner
            depth += 1
        os.mkdir(name, dir_fd=fd)
    finally:
        os.close(fd)
    return name


def test_too_long_path_is_not_told_to_chmod(library: Library, media: Path) -> None:
    _deep_folder(media)
    report = library.index(media)
    [problem] = report.skipped
    assert problem.reason == "path too long"
    assert "chmod" not in problem.detail and "shorten" in problem.detail
    assert report.indexed == 5


def test_self_loop_symlink_is_called_a_loop(library: Library, media: Path) -> None:
    os.symlink("self.txt", media / "self.txt")
    os.symlink("nowhere.txt", media / "dangling.txt")
    report = library.index(media)
    assert _reasons(report) == {"self.txt": "symlink loop", "dangling.txt": "broken symlink"}
    assert "points to nothing" not in _detail(report, "self.txt")


def test_follow_symlinks_walks_a_folder_once_when_a_link_points_to_its_ancestor(
    library: Library, media: Path
) -> None:
    inner = media / "holiday" / "inner"
    inner.mkdir()
    (inner / "note.txt").write_text("a note deep in the holiday folder")
    (inner / "up").symlink_to("..", target_is_directory=True)  # -> holiday, not the root
    report = library.index(media, options=IndexOptions(follow_symlinks=True))
    shown = sorted(_items(library.db_path))
    assert not [s for s in shown if "/up/" in s], shown
    assert report.indexed == 6
    assert _reasons(report) == {"up": "symlink loop"}


def test_query_by_a_bomb_image_suggests_a_flag_query_accepts(media: Path, tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    assert _run_cli("--db", db, "index", media).exit_code == 0
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(bomb_png())  # 16 MP
    refused = _run_cli("--db", db, "query", "--image", bomb, "--max-image-megapixels", "1")
    assert refused.exit_code == 2 and "--max-image-megapixels" in refused.output
    assert "--max-image-megapixels" in _run_cli("query", "--help").output
    allowed = _run_cli("--db", db, "query", "--image", bomb, "--max-image-megapixels", "20")
    assert allowed.exit_code == 0, allowed.output
