"""A reader's loaded index catches up with another process's commits without a full reload."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from mmsearch import Library
from mmsearch.store import catch_up as catch_up_module
from mmsearch.store.catch_up import catch_up
from tests.support import CountingEncoder, make_registry, save_image


def _open(db: Path, read_only: bool = False) -> Library:
    return Library.open(db, registry=make_registry(CountingEncoder()), read_only=read_only)


@pytest.fixture
def media(tmp_path: Path) -> Path:
    root = tmp_path / "media"
    root.mkdir()
    save_image(root / "red.png", (220, 20, 20))
    for i in range(4):
        (root / f"note{i}.txt").write_text(f"Note {i} about the harbour and the budget.")
    return root


def test_a_reader_takes_the_writers_new_and_removed_vectors_without_reloading(
    tmp_path: Path, media: Path, caplog: pytest.LogCaptureFixture
) -> None:
    db = tmp_path / "catalog.db"
    with _open(db) as writer:
        writer.index(media)
        reader = _open(db, read_only=True)
        assert reader.search("budget").hits
        space = reader.catalog.active_space()
        assert space is not None
        loaded = reader._stores[space.id]

        (media / "lighthouse.txt").write_text("A lighthouse on the cliffs at night.")
        (media / "note0.txt").unlink()
        writer.index(media)
        with caplog.at_level(logging.WARNING):
            paths = [Path(h.path).name for h in reader.query("lighthouse cliffs", k=20)]
        assert "lighthouse.txt" in paths and "note0.txt" not in paths
        assert reader._stores[space.id] is loaded, "caught up in place, not reloaded"
        assert not [r for r in caplog.records if "Rebuilding" in r.getMessage()]
        assert loaded.ids() == set(reader.catalog.vector_ids(space.id).tolist())
        assert loaded.generation == reader.catalog.space_generation(space.id)
        reader.close()


def test_digests_that_differ_leave_the_reload_to_the_caller(
    tmp_path: Path, media: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A vector changed in place keeps its id: only the digest tells, and then it reloads."""
    db = tmp_path / "catalog.db"
    with _open(db) as writer:
        writer.index(media)
        reader = _open(db, read_only=True)
        reader.search("budget")
        space = reader.catalog.active_space()
        assert space is not None
        index = reader._stores[space.id]
        (media / "extra.txt").write_text("Something new.")
        writer.index(media)
        monkeypatch.setattr(catch_up_module, "space_digest", lambda _c, _s: "0" * 16)
        hits = reader.query("something new", k=20)  # the catch-up fails: a full reload
        assert "extra.txt" in [Path(h.path).name for h in hits]
        assert reader._stores[space.id] is not index
        reloaded = reader._stores[space.id]
        assert reloaded.ids() == set(reader.catalog.vector_ids(space.id).tolist())
        reader.close()


def test_a_large_change_is_left_to_a_reload(tmp_path: Path, media: Path) -> None:
    db = tmp_path / "catalog.db"
    with _open(db) as writer:
        writer.index(media)
        reader = _open(db, read_only=True)
        reader.search("budget")
        space = reader.catalog.active_space()
        assert space is not None
        index = reader._stores[space.id]
        for i in range(1_200):
            (media / f"more{i:04d}.txt").write_text(f"More words, number {i}.")
        writer.index(media)
        assert not catch_up(index, reader.catalog, space)
        reader.close()
