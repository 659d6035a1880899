"""Several extractors per file: companions, per-extractor runs, partial re-index, migration."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import ClassVar

import pytest
from alembic import command
from sqlalchemy import create_engine

from mmsearch import Encoder, Extractor, Library, MediaType, Segment, SkipFile, Source
from mmsearch.index.indexer import IndexOptions
from mmsearch.index.report import IndexReport
from mmsearch.store.catalog import Catalog
from mmsearch.store.database import _alembic_config
from tests.support import CountingEncoder, make_registry

MAGIC = b"FAKEVIDEO\n"


class Frames(Extractor):
    """A 'video' extractor: one text segment per line after the magic (its 'frames')."""

    name: ClassVar[str] = "test-frames"
    media_type: ClassVar[MediaType] = "video"
    extensions: ClassVar[frozenset[str]] = frozenset({"vid"})
    signatures: ClassVar[tuple[bytes, ...]] = (MAGIC,)

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.calls: list[str] = []

    def extract(self, source: Source) -> Iterable[Segment]:
        self.calls.append(source.display)
        if self.fail:
            raise SkipFile("corrupt video", "the frames cannot be decoded")
        body = Path(source.fspath).read_text().splitlines()[1:]
        return [
            Segment("frame", "text", f"frame {line}", f"frame {line}", start=float(i))
            for i, line in enumerate(body)
            if not line.startswith("say ")
        ]


class Speech(Extractor):
    """A companion for videos: one segment per 'say ...' line (the audio track's speech)."""

    name: ClassVar[str] = "test-speech"
    media_type: ClassVar[MediaType] = "audio"
    extensions: ClassVar[frozenset[str]] = frozenset()
    contributes_to: ClassVar[frozenset[MediaType]] = frozenset({"video"})

    def __init__(self, raise_error: bool = False) -> None:
        self.raise_error = raise_error
        self.calls: list[str] = []

    def extract(self, source: Source) -> Iterable[Segment]:
        self.calls.append(source.display)
        if self.raise_error:
            raise RuntimeError("the speech model crashed")
        lines = [ln for ln in Path(source.fspath).read_text().splitlines() if ln.startswith("say")]
        if not lines:
            raise SkipFile("no speech", "no speech was heard in it")
        return [Segment("speech", "text", ln[4:], ln[4:], start=1.0, end=2.0) for ln in lines]


class SpeechV2(Speech):
    version: ClassVar[str] = "2"


def _write(folder: Path) -> Path:
    folder.mkdir(exist_ok=True)
    (folder / "clip.vid").write_bytes(MAGIC + b"pool\nsay happy birthday\nbeach\n")
    (folder / "mute.vid").write_bytes(MAGIC + b"garden\n")
    return folder


def _index(
    db: Path, folder: Path, *extractors: Extractor, options: IndexOptions | None = None
) -> IndexReport:
    registry = make_registry(CountingEncoder(), extractors=list(extractors))
    with Library.open(db, registry=registry) as lib:
        return lib.index(folder, options=options)


def _first_hit(db: Path, query: str) -> tuple[str, float | None]:
    with Library.open(db, registry=make_registry(CountingEncoder(), extractors=[])) as lib:
        hit = lib.search(query).hits[0]
    return Path(hit.path).name, hit.start


def _segments(db: Path) -> list[tuple[str, str, str | None, int]]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT i.display, s.text, s.extractor, s.id FROM segments s "
            "JOIN items i ON i.id = s.item_id ORDER BY i.display, s.ordinal"
        ).fetchall()
    conn.close()
    return [(Path(d).name, t, e, sid) for d, t, e, sid in rows]


def _runs(db: Path) -> dict[tuple[str, str], tuple[str, str, str | None]]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT i.display, r.extractor, r.version, r.status, r.reason "
            "FROM item_extractors r JOIN items i ON i.id = r.item_id"
        ).fetchall()
    conn.close()
    return {(Path(d).name, e): (v, s, r) for d, e, v, s, r in rows}


def _status(db: Path) -> dict[str, str]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT display, status FROM items").fetchall()
    conn.close()
    return {Path(d).name: s for d, s in rows}


def test_a_video_gets_segments_from_its_extractor_and_its_companion(
    tmp_path: Path, db_path: Path
) -> None:
    folder = _write(tmp_path / "media")
    report = _index(db_path, folder, Frames(), Speech())
    assert [(n, t, e) for n, t, e, _ in _segments(db_path)] == [
        ("clip.vid", "frame pool", "test-frames"),
        ("clip.vid", "frame beach", "test-frames"),
        ("clip.vid", "happy birthday", "test-speech"),
        ("mute.vid", "frame garden", "test-frames"),
    ]
    runs = _runs(db_path)
    assert runs[("clip.vid", "test-speech")] == ("1", "done", None)
    # A video without speech lacks nothing: the companion's skip is recorded, not reported.
    assert runs[("mute.vid", "test-speech")] == ("1", "skipped", "no speech")
    assert _status(db_path) == {"clip.vid": "done", "mute.vid": "done"}
    assert report.partial == [] and report.failed == [] and report.indexed == 2
    assert _first_hit(db_path, "happy birthday") == ("clip.vid", 1.0)


def test_a_failing_companion_keeps_the_other_segments_and_is_rerun_alone(
    tmp_path: Path, db_path: Path
) -> None:
    folder = _write(tmp_path / "media")
    frames = Frames()
    report = _index(db_path, folder, frames, Speech(raise_error=True))
    assert _status(db_path) == {"clip.vid": "done", "mute.vid": "done"}
    assert {e for _, _, e, _ in _segments(db_path)} == {"test-frames"}
    assert sorted(Path(p.path).name for p in report.partial) == ["clip.vid", "mute.vid"]
    assert "the speech model crashed" in report.partial[0].detail
    assert report.to_json()["partial"][0]["reason"].startswith("indexed without test-speech")
    before = {t: sid for _, t, _, sid in _segments(db_path)}

    # Unchanged files, the same failing extractor: nothing runs without --retry-failed.
    speech = Speech()
    assert _index(db_path, folder, frames, speech).unchanged == 2
    assert speech.calls == []
    _index(db_path, folder, frames, speech, options=IndexOptions(retry_failed=True))
    assert len(frames.calls) == 2, "the frames extractor did not run again"
    assert sorted(Path(c).name for c in speech.calls) == ["clip.vid", "mute.vid"]
    after = _segments(db_path)
    assert [t for _, t, e, _ in after if e == "test-speech"] == ["happy birthday"]
    assert {t: sid for _, t, e, sid in after if e == "test-frames"} == before, "kept as they were"
    assert _runs(db_path)[("clip.vid", "test-speech")] == ("1", "done", None)


def test_a_failing_identifying_extractor_keeps_the_companions_segments(
    tmp_path: Path, db_path: Path
) -> None:
    folder = _write(tmp_path / "media")
    report = _index(db_path, folder, Frames(fail=True), Speech())
    assert _status(db_path) == {"clip.vid": "done", "mute.vid": "skipped"}
    assert [(n, t) for n, t, _, _ in _segments(db_path)] == [("clip.vid", "happy birthday")]
    assert [Path(p.path).name for p in report.partial] == ["clip.vid"]
    assert [p.reason for p in report.skipped] == ["corrupt video"]


def test_a_newly_installed_companion_reads_only_what_it_adds(tmp_path: Path, db_path: Path) -> None:
    folder = _write(tmp_path / "media")
    frames = Frames()
    _index(db_path, folder, frames)
    kept = {t: sid for _, t, _, sid in _segments(db_path)}
    speech = Speech()
    report = _index(db_path, folder, frames, speech)
    assert _first_hit(db_path, "happy birthday") == ("clip.vid", 1.0)
    assert len(frames.calls) == 2 and len(speech.calls) == 2
    assert report.segments == 1
    segments = _segments(db_path)
    assert {t: sid for _, t, e, sid in segments if e == "test-frames"} == kept
    # A third run has nothing to do.
    assert _index(db_path, folder, frames, speech).unchanged == 2
    assert len(speech.calls) == 2


def test_a_companion_at_a_new_version_is_rerun_alone(tmp_path: Path, db_path: Path) -> None:
    folder = _write(tmp_path / "media")
    frames = Frames()
    _index(db_path, folder, frames, Speech())
    upgraded = SpeechV2()
    _index(db_path, folder, frames, upgraded)
    assert len(frames.calls) == 2 and len(upgraded.calls) == 2
    assert _runs(db_path)[("clip.vid", "test-speech")] == ("2", "done", None)
    assert [t for _, t, e, _ in _segments(db_path) if e == "test-speech"] == ["happy birthday"]


def test_a_changed_file_is_read_again_by_every_extractor(tmp_path: Path, db_path: Path) -> None:
    folder = _write(tmp_path / "media")
    frames, speech = Frames(), Speech()
    _index(db_path, folder, frames, speech)
    (folder / "clip.vid").write_bytes(MAGIC + b"pool\nsay goodbye now\n")
    _index(db_path, folder, frames, speech)
    assert len(frames.calls) == 3 and len(speech.calls) == 3
    assert [t for n, t, _, _ in _segments(db_path) if n == "clip.vid"] == [
        "frame pool",
        "goodbye now",
    ]


class OtherSpace(CountingEncoder):
    encoder_id: ClassVar[str] = "counting-two"


def test_a_new_space_gets_vectors_for_every_extractors_segments(
    tmp_path: Path, db_path: Path
) -> None:
    folder = _write(tmp_path / "media")
    _index(db_path, folder, Frames(), Speech())
    encoder: Encoder = OtherSpace()
    registry = make_registry(CountingEncoder(), encoder, extractors=[Frames(), Speech()])
    with Library.open(db_path, registry=registry) as lib:
        report = lib.index(folder, encoder="counting-two")
    assert report.reembedded == 2
    with sqlite3.connect(db_path) as conn:
        missing = conn.execute(
            "SELECT COUNT(*) FROM segments s WHERE NOT EXISTS (SELECT 1 FROM vectors v "
            "WHERE v.segment_id = s.id AND v.space_id = 2)"
        ).fetchone()[0]
    conn.close()
    assert missing == 0


def test_migration_0004_records_each_old_segments_extractor(db_path: Path) -> None:
    Catalog(db_path).close()
    engine = create_engine(f"sqlite:///{db_path}")
    with engine.begin() as conn:
        command.downgrade(_alembic_config(conn), "0003")
    engine.dispose()
    with sqlite3.connect(db_path) as conn:
        conn.execute("INSERT INTO roots (id, path, display, added_at) VALUES (1, x'2f', '/', 0)")
        conn.execute(
            "INSERT INTO items (id, root_id, relpath, display, size, mtime_ns, status, "
            "extractor, media_type, indexed_at) "
            "VALUES (1, 1, x'61', 'a.jpg', 1, 1, 'done', 'pillow-image', 'image', 0), "
            "(2, 1, x'62', 'b.jpg', 1, 1, 'skipped', 'pillow-image', 'image', 0)"
        )
        conn.execute(
            "INSERT INTO segments (id, item_id, ordinal, kind, modality, text) "
            "VALUES (7, 1, 0, 'image', 'image', 'harbour')"
        )
    conn.close()
    Catalog(db_path).close()  # upgrades to head
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("SELECT extractor FROM segments").fetchall() == [("pillow-image",)]
        assert conn.execute("SELECT * FROM item_extractors").fetchall() == [
            (1, "pillow-image", "1", "done", None, None)
        ]
        # The keyword index still follows segments (the FTS triggers survived).
        conn.execute("DELETE FROM segments WHERE id = 7")
        assert conn.execute("SELECT COUNT(*) FROM segments_fts").fetchone()[0] == 0
    conn.close()


@pytest.mark.parametrize("bad", [frozenset({"film"}), frozenset({"video", 3})])
def test_the_kit_refuses_a_contributes_to_that_is_not_media_types(bad: frozenset[object]) -> None:
    from mmsearch.testing.checks import extractor_capability_problems

    class Bad(Speech):
        contributes_to = bad  # type: ignore[assignment]

    assert any("contributes_to" in p for p in extractor_capability_problems(Bad()))
