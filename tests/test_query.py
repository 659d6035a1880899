"""Queries: ranking, filters, scoping, one hit per file, and never a stale hit."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from mmsearch import Library
from mmsearch.errors import UsageError


@pytest.fixture
def indexed(library: Library, media: Path) -> Library:
    library.index(media)
    return library


def test_text_query_ranks_the_matching_text_first(indexed: Library) -> None:
    hits = indexed.query("red car harbour", k=3)
    assert hits[0].path.endswith("car.txt")
    assert hits[0].modality == "text" and hits[0].kind == "text"
    assert hits[0].text == "A red car parked by the harbour at sunset."
    assert (hits[0].char_start, hits[0].char_end) == (0, 42)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_k_limits_the_number_of_results(indexed: Library) -> None:
    assert len(indexed.query("anything", k=2)) == 2
    assert len(indexed.query("anything", k=50)) == 5


def test_type_filter_is_exact(indexed: Library) -> None:
    hits = indexed.query("red car", k=10, media_type="image")
    assert {h.modality for h in hits} == {"image"} and len(hits) == 2


def test_in_scopes_results_to_a_folder(indexed: Library, media: Path) -> None:
    hits = indexed.query("red car", k=10, within=media / "holiday")
    assert sorted(h.path.rsplit("/", 1)[-1] for h in hits) == ["blue.jpg", "diary.txt"]


def test_one_hit_per_file_with_its_best_segment(library: Library, tmp_path: Path) -> None:
    root = tmp_path / "long"
    root.mkdir()
    paragraphs = [f"Paragraph {i} talks about gardening and soil." for i in range(60)]
    paragraphs[41] = "Here the speaker finally mentions the quarterly budget review."
    (root / "long.txt").write_text("\n\n".join(paragraphs))
    (root / "short.txt").write_text("gardening")
    library.index(root)
    hits = library.query("quarterly budget review", k=5)
    assert [h.path.rsplit("/", 1)[-1] for h in hits] == ["long.txt", "short.txt"]
    assert "quarterly budget" in (hits[0].text or "")


def test_deleted_item_never_appears_even_if_the_index_still_has_it(
    indexed: Library, media: Path
) -> None:
    space = indexed.catalog.active_space()
    assert space is not None
    store = indexed.store(space)
    # Delete behind the index's back: the FAISS index still holds the ids.
    with sqlite3.connect(indexed.db_path) as conn:
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("DELETE FROM items WHERE display = 'car.txt'")
    runner_hits = indexed.query("red car harbour", k=10)
    assert all(not h.path.endswith("car.txt") for h in runner_hits)
    assert len(runner_hits) == 4
    assert store is not indexed.store(space), "a changed generation reloads the index"


def test_query_needs_text_or_example(indexed: Library) -> None:
    with pytest.raises(UsageError, match="query text"):
        indexed.query("   ")


def test_missing_example_file_is_a_usage_error(indexed: Library, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="does not exist"):
        indexed.query(example=tmp_path / "nope.jpg")


def test_unreadable_example_says_why(indexed: Library, tmp_path: Path) -> None:
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 10)
    with pytest.raises(UsageError, match=r"Cannot use .*bad\.png"):
        indexed.query(example=bad)


def test_empty_library_returns_no_results(library: Library) -> None:
    assert library.query("anything") == []


def test_index_file_is_reused_between_opens(
    indexed: Library, registry: object, caplog: pytest.LogCaptureFixture
) -> None:
    path = indexed.db_path
    indexed.close()
    with Library.open(path, registry=indexed.registry) as again:
        again.query("red car")
    assert not [r for r in caplog.records if "Rebuilding" in r.getMessage()]


def test_deleted_index_file_is_rebuilt_with_a_warning(
    indexed: Library, caplog: pytest.LogCaptureFixture
) -> None:
    path = indexed.db_path
    indexed.close()
    for file in (path.parent / "catalog.db.indexes").iterdir():
        file.unlink()
    with Library.open(path, registry=indexed.registry) as again:
        hits = again.query("red car harbour", k=1)
    assert hits[0].path.endswith("car.txt")
    assert len([r for r in caplog.records if "Rebuilding" in r.getMessage()]) == 1


def test_unchanged_rescan_does_not_rewrite_the_index_file(indexed: Library, media: Path) -> None:
    index_file = next((indexed.db_path.parent / "catalog.db.indexes").iterdir())
    before = index_file.stat().st_mtime_ns
    indexed.index(media)
    assert index_file.stat().st_mtime_ns == before
    (media / "new.txt").write_text("a new note")
    indexed.index(media)
    assert index_file.stat().st_mtime_ns != before
