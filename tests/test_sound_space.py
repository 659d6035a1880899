"""A library with an image/text space and a sound space: each segment goes to the space(s)
that take its modality, a default query searches both and fuses them on the calibrated
scale (issue 14, part 3). The sound space here is tests.sounds.PitchEncoder, whose vectors
a test can predict; tests/test_clap.py runs the real CLAP encoder through the same path."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest
from mmsearch_clap import SoundExtractor
from mmsearch_colour.encoder import ColourEncoder
from mmsearch_images import PillowImageExtractor
from PIL import Image

from mmsearch import Library, SearchOptions
from mmsearch.errors import UsageError
from mmsearch.index.pipeline import runnable_extractors
from mmsearch.query.hits import Hit
from mmsearch.store.companion_spaces import companion_keys
from tests.sounds import PitchEncoder, WavFiles, tone, write_wav
from tests.support import make_registry

RED, BLUE = (220, 20, 20), (20, 40, 220)


def _photo(path: Path, colour: tuple[int, int, int]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (64, 48), colour).save(path)
    return path


@pytest.fixture
def media(tmp_path: Path) -> Path:
    root = tmp_path / "media"
    _photo(root / "red.png", RED)
    _photo(root / "blue.png", BLUE)
    write_wav(root / "beep.wav", tone(3000, 4.0))
    write_wav(root / "hum.wav", tone(120, 4.0))
    write_wav(root / "hiss.wav", tone(0, 4.0))
    return root


def _library(tmp_path: Path, pitch: PitchEncoder | None = None) -> Library:
    extractors = [PillowImageExtractor(), WavFiles(), SoundExtractor()]
    registry = make_registry(ColourEncoder(), pitch or PitchEncoder(), extractors=extractors)
    return Library.open(tmp_path / "lib.db", registry=registry)


def _vectors_by_space(db: Path) -> dict[tuple[str, str], int]:
    """How many vectors each (space encoder, segment modality) pair holds."""
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT sp.encoder_id, s.modality, count(*) FROM vectors v "
            "JOIN spaces sp ON sp.id = v.space_id JOIN segments s ON s.id = v.segment_id "
            "GROUP BY 1, 2"
        ).fetchall()
    return {(enc, modality): n for enc, modality, n in rows}


def _paths(hits: list[Hit]) -> list[str]:
    return [Path(h.path).name for h in hits]


def _signals(hit: Hit) -> set[str]:
    return {s["signal"] for s in hit.why["signals"]}


def test_each_segment_goes_to_the_space_that_takes_its_modality(
    tmp_path: Path, media: Path
) -> None:
    pitch = PitchEncoder()
    with _library(tmp_path, pitch) as lib:
        report = lib.index(media, encoder="colour", spaces=["pitch"])
        assert not report.failed and report.indexed == 5, report.to_json()
        assert [s.encoder_id for s in lib.catalog.spaces()] == ["colour", "pitch"]
        assert lib.catalog.active_space().encoder_id == "colour"  # type: ignore[union-attr]
    # Photos in the colour space only, sounds in the pitch space only, each once.
    assert _vectors_by_space(tmp_path / "lib.db") == {("colour", "image"): 2, ("pitch", "audio"): 3}
    assert {m for m, _ in pitch.calls if _ == _} <= {"audio", "text"}  # texts: calibration probes
    assert sum(n for m, n in pitch.calls if m == "audio") == 3


def test_the_sound_extractor_waits_for_a_space_that_takes_sounds(
    tmp_path: Path, media: Path
) -> None:
    with _library(tmp_path) as lib:
        lib.index(media, encoder="colour")  # no sound space yet
        assert _vectors_by_space(tmp_path / "lib.db") == {("colour", "image"): 2}
        with sqlite3.connect(tmp_path / "lib.db") as conn:
            runs = {r[0] for r in conn.execute("SELECT extractor FROM item_extractors")}
            photo_ids = conn.execute("SELECT id FROM segments ORDER BY id").fetchall()
        assert "clap-sound" not in runs  # left out of the run, so nothing is recorded for it
        # The sound files are skipped ("no speech"), not failed.
        assert lib.status().to_json()["items"].get("failed", 0) == 0

        report = lib.index(media, spaces=["pitch"])
        assert not report.failed, report.to_json()
        assert companion_keys(lib.catalog) == [lib.catalog.spaces()[1].key]
        # The next run fills the new space without being told again; nothing is re-read.
        again = lib.index(media)
        assert again.unchanged == 5 and not again.indexed and not again.partial
    counts = _vectors_by_space(tmp_path / "lib.db")
    assert counts == {("colour", "image"): 2, ("pitch", "audio"): 3}
    with sqlite3.connect(tmp_path / "lib.db") as conn:
        kept = conn.execute("SELECT id FROM segments WHERE modality = 'image' ORDER BY id")
        assert kept.fetchall() == photo_ids  # the photos' segments were not touched


def test_a_text_query_finds_a_sound_and_a_photo_in_one_default_query(
    tmp_path: Path, media: Path
) -> None:
    with _library(tmp_path) as lib:
        lib.index(media, encoder="colour", spaces=["pitch"])
        result = lib.search("red high", options=SearchOptions(k=5))
        names = _paths(result.hits)
        assert [s.encoder for s in result.plan.spaces] == ["colour", "pitch"]
        assert set(names[:2]) == {"red.png", "beep.wav"}, names
        by_name = {Path(h.path).name: h for h in result.hits}
        assert "vector:pitch" in _signals(by_name["beep.wav"])
        assert "vector:colour" in _signals(by_name["red.png"])
        assert "vector:pitch" not in _signals(by_name["red.png"])
        assert "vector:colour" not in _signals(by_name["beep.wav"])
        # One space at a time still works, and answers only from its own segments.
        only_sound = lib.search("high", options=SearchOptions(k=5, spaces=("pitch",)))
        assert _paths(only_sound.hits)[0] == "beep.wav"
        assert all(Path(h.path).suffix == ".wav" for h in only_sound.hits)


def test_a_photo_as_example_leaves_the_sound_space_out(tmp_path: Path, media: Path) -> None:
    with _library(tmp_path) as lib:
        lib.index(media, encoder="colour", spaces=["pitch"])
        result = lib.search(examples=[str(media / "red.png")], options=SearchOptions(k=3))
        assert _paths(result.hits)[0] == "red.png"
        sound = lib.search(examples=[str(media / "hiss.wav")], options=SearchOptions(k=3))
        assert _paths(sound.hits)[0] == "hiss.wav"  # a recording is embedded by its sound
        with pytest.raises(UsageError, match="cannot embed image"):
            lib.search(examples=[str(media / "red.png")], options=SearchOptions(spaces=("pitch",)))


def test_a_changed_sound_is_read_again_into_its_space(tmp_path: Path, media: Path) -> None:
    with _library(tmp_path) as lib:
        lib.index(media, encoder="colour", spaces=["pitch"])
        write_wav(media / "hum.wav", tone(3500, 6.0))  # now high, and longer
        report = lib.index(media)
        assert report.indexed == 1 and not report.failed
        hits = lib.search("high", options=SearchOptions(k=5, spaces=("pitch",))).hits
        assert set(_paths(hits)[:2]) == {"beep.wav", "hum.wav"}
        (media / "beep.wav").unlink()
        assert lib.index(media).removed == 1
        assert lib.store(lib.catalog.spaces()[1]).ntotal == 2  # hum and hiss: one window each


def test_runnable_extractors_leave_out_what_no_space_takes() -> None:
    extractors = [PillowImageExtractor(), WavFiles(), SoundExtractor()]
    alone = runnable_extractors(extractors, [ColourEncoder()])
    assert [e.name for e in alone] == ["pillow-image", "test-wav"]
    both = runnable_extractors(extractors, [ColourEncoder(), PitchEncoder()])
    assert [e.name for e in both] == ["pillow-image", "test-wav", "clap-sound"]


def test_an_unknown_space_is_refused_before_anything_is_written(
    tmp_path: Path, media: Path
) -> None:
    with _library(tmp_path) as lib:
        with pytest.raises(UsageError, match="No installed plugin provides encoder 'nope'"):
            lib.index(media, encoder="colour", spaces=["nope"])
        with pytest.raises(UsageError, match="give an encoder id"):
            lib.index(media, encoder="colour", spaces=["=x"])
        assert companion_keys(lib.catalog) == []


def test_vectors_in_both_spaces_survive_a_rebuild_of_the_indexes(
    tmp_path: Path, media: Path
) -> None:
    with _library(tmp_path) as lib:
        lib.index(media, encoder="colour", spaces=["pitch"])
        rebuilt = {s.encoder_id: n for s, n in lib.rebuild_indexes()}
        assert rebuilt == {"colour": 2, "pitch": 3}
        stored = lib.catalog.vectors_for(lib.catalog.spaces()[1].id, range(1, 100))
        assert all(np.isclose(np.linalg.norm(v), 1.0) for v in stored.values())
