"""A reader's loaded index catches up with another process's commits without a full reload."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest

from mmsearch import Library
from mmsearch.contracts import VectorIndex
from mmsearch.store import catch_up as catch_up_module
from mmsearch.store.catalog import SpaceInfo
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


class Pair(NamedTuple):
    """A writer that indexed ``media`` and a read-only reader that has searched it once."""

    media: Path
    writer: Library
    reader: Library
    space: SpaceInfo
    loaded: VectorIndex
    """The reader's index of the space, as first loaded."""


@pytest.fixture
def pair(tmp_path: Path, media: Path) -> Iterator[Pair]:
    db = tmp_path / "catalog.db"
    with _open(db) as writer:
        writer.index(media)
        reader = _open(db, read_only=True)
        assert reader.search("budget").hits
        space = reader.catalog.active_space()
        assert space is not None
        yield Pair(media, writer, reader, space, reader._stores[space.id])
        reader.close()


def test_a_reader_takes_the_writers_new_and_removed_vectors_without_reloading(
    pair: Pair, caplog: pytest.LogCaptureFixture
) -> None:
    (pair.media / "lighthouse.txt").write_text("A lighthouse on the cliffs at night.")
    (pair.media / "note0.txt").unlink()
    pair.writer.index(pair.media)
    with caplog.at_level(logging.WARNING):
        paths = [Path(h.path).name for h in pair.reader.query("lighthouse cliffs", k=20)]
    assert "lighthouse.txt" in paths and "note0.txt" not in paths
    assert pair.reader._stores[pair.space.id] is pair.loaded, "caught up in place, not reloaded"
    assert not [r for r in caplog.records if "Rebuilding" in r.getMessage()]
    catalog = pair.reader.catalog
    assert pair.loaded.ids() == set(catalog.vector_ids(pair.space.id).tolist())
    assert pair.loaded.generation == catalog.space_generation(pair.space.id)


def test_digests_that_differ_leave_the_reload_to_the_caller(
    pair: Pair, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A vector changed in place keeps its id: only the digest tells, and then it reloads."""
    (pair.media / "extra.txt").write_text("Something new.")
    pair.writer.index(pair.media)
    monkeypatch.setattr(catch_up_module, "space_digest", lambda _c, _s: "0" * 16)
    hits = pair.reader.query("something new", k=20)  # the catch-up fails: a full reload
    assert "extra.txt" in [Path(h.path).name for h in hits]
    reloaded = pair.reader._stores[pair.space.id]
    assert reloaded is not pair.loaded
    assert reloaded.ids() == set(pair.reader.catalog.vector_ids(pair.space.id).tolist())


def test_a_large_change_is_left_to_a_reload(pair: Pair) -> None:
    for i in range(1_200):
        (pair.media / f"more{i:04d}.txt").write_text(f"More words, number {i}.")
    pair.writer.index(pair.media)
    assert not catch_up(pair.loaded, pair.reader.catalog, pair.space)
