"""Query filters are exact: every hit passes them, and every file that passes is found.

The corpus mixes images, texts and "recordings": files read by a small test
extractor that yields timed segments (``start``/``end`` in seconds), the way a
transcribing audio extractor does, so ``duration:`` has something to measure.
Searches keep weak hits and ask for many, so a test sees the whole set of files
a filter lets through, not only the confident ones.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

import pytest
from support import CountingEncoder, first_party_extractors, make_registry, save_image

from mmsearch import Extractor, Library, Segment, Source
from mmsearch.errors import UsageError
from mmsearch.plugins import Registry
from mmsearch.query.planner import SearchOptions
from mmsearch.query.querylang import DurationRange, Filters
from mmsearch.query.runner import SearchResult

ALL = SearchOptions(k=1000, keep_weak=True)


class TimedTranscript(Extractor):
    """``.rec`` files of ``START-END: words`` lines: one timed speech segment per line."""

    name: ClassVar[str] = "test-timed-transcript"
    media_type: ClassVar[Any] = "audio"
    extensions: ClassVar[frozenset[str]] = frozenset({"rec"})

    def extract(self, source: Source) -> Iterator[Segment]:
        with open(source.path, encoding="utf-8") as handle:
            for line in handle:
                span, _, words = line.partition(":")
                start, _, end = span.partition("-")
                yield Segment(
                    kind="speech",
                    modality="text",
                    content=words.strip(),
                    text=words.strip(),
                    start=float(start),
                    end=float(end),
                )


def _recording(path: Path, seconds: int, words: str) -> None:
    """A recording of ``seconds`` in 30-second segments, ``words`` in each."""
    lines = [f"{t}-{min(t + 30, seconds)}: {words} part {t}" for t in range(0, seconds, 30)]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """Images, texts and recordings in a few folders."""
    root = tmp_path / "corpus"
    save_image(root / "photos" / "2023" / "beach.png", (230, 200, 60))
    save_image(root / "photos" / "old" / "city.jpg", (60, 60, 200))
    save_image(root / "holidays" / "snow.png", (240, 240, 250))
    (root / "photos" / "2023" / "notes.txt").write_text("notes from the beach trip in 2023")
    (root / "docs").mkdir()
    (root / "docs" / "report.md").write_text("# Report\n\nThe harbour report for the board.\n")
    (root / "docs" / "invoice.txt").write_text("Please pay invoice 12345 for the harbour cranes.")
    (root / "docs" / "reversed.txt").write_text("Number 12345 is not an invoice for the harbour.")
    _recording(root / "recordings" / "long.rec", 300, "harbour meeting minutes")
    _recording(root / "recordings" / "short.rec", 45, "harbour voice memo")
    return root


@pytest.fixture
def lib(db_path: Path, counting_encoder: CountingEncoder, corpus: Path) -> Iterator[Library]:
    extractors = [*first_party_extractors(), TimedTranscript()]
    registry = make_registry(counting_encoder, extractors=extractors)
    with Library.open(db_path, registry=registry) as library:
        report = library.index(corpus)
        assert report.indexed == 9 and not (report.failed or report.skipped), report
        yield library


def names(result: SearchResult) -> set[str]:
    """The file names of a result's hits."""
    return {hit.path.rsplit("/", 1)[-1] for hit in result.hits}


EVERYTHING = {
    "beach.png", "city.jpg", "snow.png", "notes.txt", "report.md", "invoice.txt",
    "reversed.txt", "long.rec", "short.rec",
}  # fmt: skip


def test_without_filters_every_file_can_be_returned(lib: Library) -> None:
    # The baseline the other tests narrow down: a filter test passing on a search
    # that returns everything would prove nothing.
    assert names(lib.search("harbour", options=ALL)) == EVERYTHING


def test_type_filter_returns_exactly_that_type(lib: Library) -> None:
    assert names(lib.search("harbour type:image", options=ALL)) == {
        "beach.png", "city.jpg", "snow.png"
    }  # fmt: skip
    assert names(lib.search("harbour type:audio", options=ALL)) == {"long.rec", "short.rec"}


def test_several_types_mean_any_of_them(lib: Library) -> None:
    found = names(lib.search("harbour type:photo,recording", options=ALL))
    assert found == {"beach.png", "city.jpg", "snow.png", "long.rec", "short.rec"}


def test_extension_filter_is_exact_and_ignores_case_and_dot(lib: Library) -> None:
    assert names(lib.search("harbour ext:.PNG", options=ALL)) == {"beach.png", "snow.png"}
    assert names(lib.search("harbour ext:jpg,md", options=ALL)) == {"city.jpg", "report.md"}


def test_unanchored_glob_starts_at_any_folder(lib: Library) -> None:
    assert names(lib.search("harbour path:photos/**", options=ALL)) == {
        "beach.png", "city.jpg", "notes.txt"
    }  # fmt: skip
    assert names(lib.search("harbour path:2023/*.png", options=ALL)) == {"beach.png"}


def test_unanchored_glob_never_starts_inside_a_folder_name(lib: Library) -> None:
    # "otos/**" is not a suffix of the folder name "photos".
    assert names(lib.search("harbour path:otos/**", options=ALL)) == set()


def test_double_star_spans_any_number_of_folders(lib: Library) -> None:
    # photos/**/*.png: photos/2023/beach.png; **/*.png also finds holidays/snow.png.
    assert names(lib.search("harbour path:photos/**/*.png", options=ALL)) == {"beach.png"}
    assert names(lib.search("harbour path:**/*.png", options=ALL)) == {"beach.png", "snow.png"}


def test_anchored_glob_matches_from_the_root_only(lib: Library, corpus: Path) -> None:
    anchored = f"{corpus}/docs/*"
    assert names(lib.search(f'harbour path:"{anchored}"', options=ALL)) == {
        "report.md", "invoice.txt", "reversed.txt"
    }  # fmt: skip
    # Anchored, "/docs/*" must start at the file system's root, where there is no docs.
    assert names(lib.search("harbour path:/docs/*", options=ALL)) == set()


def test_glob_without_wildcard_in_last_name_takes_the_whole_folder(lib: Library) -> None:
    assert names(lib.search("harbour path:recordings", options=ALL)) == {"long.rec", "short.rec"}


def test_quoted_glob_may_hold_spaces(lib: Library, corpus: Path) -> None:
    save_image(corpus / "my photos" / "cliff.png", (120, 90, 60))
    lib.index(corpus)
    assert names(lib.search('harbour path:"my photos/*"', options=ALL)) == {"cliff.png"}


def test_date_filters_use_the_files_modification_time(
    db_path: Path, registry: Registry, tmp_path: Path
) -> None:
    root = tmp_path / "dated"
    root.mkdir()
    for name, year in (("old.txt", 2019), ("mid.txt", 2022), ("new.txt", 2024)):
        (root / name).write_text(f"harbour log of {year}")
        moment = datetime(year, 6, 15, 12, 0).timestamp()
        os.utime(root / name, (moment, moment))
    with Library.open(db_path, registry=registry) as library:
        library.index(root)
        assert names(library.search("harbour after:2023", options=ALL)) == {"new.txt"}
        assert names(library.search("harbour before:2020", options=ALL)) == {"old.txt"}
        found = library.search("harbour after:2020-01 before:2023-01-01", options=ALL)
        assert names(found) == {"mid.txt"}
        # before: is strict, after: inclusive: 15 June 2022 12:00 is on the boundary.
        at_noon = "2022-06-15T12:00"
        assert names(library.search(f"harbour after:{at_noon}", options=ALL)) == {
            "mid.txt", "new.txt"
        }  # fmt: skip
        assert names(library.search(f"harbour before:{at_noon}", options=ALL)) == {"old.txt"}


def test_duration_filter_uses_the_end_of_the_last_segment(lib: Library) -> None:
    assert names(lib.search("harbour duration:<60s", options=ALL)) == {"short.rec"}
    assert names(lib.search("harbour duration:>2m", options=ALL)) == {"long.rec"}
    assert names(lib.search("harbour duration:45s..5m", options=ALL)) == {
        "long.rec", "short.rec"
    }  # fmt: skip
    assert names(lib.search("harbour duration:>45s", options=ALL)) == {"long.rec"}


def test_files_without_a_duration_never_pass_a_duration_filter(lib: Library) -> None:
    # Images and texts have no timed segments: "shorter than an hour" is not true of them.
    found = names(lib.search("harbour duration:<1h", options=ALL))
    assert found == {"long.rec", "short.rec"}


def test_within_restricts_to_folders(lib: Library, corpus: Path) -> None:
    found = lib.search("harbour", within=[corpus / "docs", corpus / "holidays"], options=ALL)
    assert names(found) == {"report.md", "invoice.txt", "reversed.txt", "snow.png"}
    one_file = lib.search("harbour", within=[corpus / "docs" / "invoice.txt"], options=ALL)
    assert names(one_file) == {"invoice.txt"}


def test_within_a_folder_is_not_a_prefix_of_its_name(lib: Library, corpus: Path) -> None:
    # --in corpus/photos must not take in the sibling folder corpus/photosX.
    save_image(corpus / "photosX" / "extra.png", (10, 200, 10))
    lib.index(corpus)
    found = names(lib.search("harbour", within=[corpus / "photos"], options=ALL))
    assert found == {"beach.png", "city.jpg", "notes.txt"}


def test_within_combines_with_query_filters(lib: Library, corpus: Path) -> None:
    found = lib.search("harbour type:image", within=[corpus / "photos"], options=ALL)
    assert names(found) == {"beach.png", "city.jpg"}


def test_filters_argument_is_merged_with_the_querys_filters(lib: Library) -> None:
    flags = Filters(extensions=frozenset({"png"}))
    assert names(lib.search("harbour type:image", filters=flags, options=ALL)) == {
        "beach.png", "snow.png"
    }  # fmt: skip
    flags = Filters(duration=DurationRange(high=60.0))
    assert names(lib.search("harbour type:audio", filters=flags, options=ALL)) == {"short.rec"}


def test_conflicting_filters_from_query_and_flags_are_a_usage_error(lib: Library) -> None:
    with pytest.raises(UsageError, match="type filters exclude each other"):
        lib.search("harbour type:image", filters=Filters(types=frozenset({"audio"})))


def test_a_filter_that_allows_nothing_returns_no_hits(lib: Library) -> None:
    result = lib.search("harbour ext:gif", options=ALL)
    assert result.hits == [] and not result.confident and result.best_weak is None
    assert result.plan.allowed_segments == 0


def test_quoted_phrase_must_appear_in_that_order(lib: Library) -> None:
    # reversed.txt holds both words, but not as the phrase.
    result = lib.search('"invoice 12345"', options=ALL)
    assert names(result) == {"invoice.txt"}
    assert result.confident


def test_quoted_phrase_combines_with_other_words(lib: Library) -> None:
    assert names(lib.search('harbour "voice memo"', options=ALL)) == {"short.rec"}


def test_filtered_search_is_exact_when_few_files_are_allowed(
    library: Library, tmp_path: Path
) -> None:
    """Two allowed files among 300 are found though they share no word with the query."""
    root = tmp_path / "many"
    root.mkdir()
    for i in range(298):
        (root / f"match{i:03d}.txt").write_text(f"harbour cranes unloading ships, shift {i}")
    (root / "keep").mkdir()
    (root / "keep" / "a.md").write_text("A recipe for lemon cake.")
    (root / "keep" / "b.md").write_text("Knitting a striped scarf.")
    library.index(root)

    unfiltered = library.search("harbour cranes ships", options=SearchOptions(k=50))
    assert len(unfiltered.hits) == 50
    assert not names(unfiltered) & {"a.md", "b.md"}

    # A small candidate depth: an over-fetch-then-filter search would find nothing.
    narrow = SearchOptions(k=10, keep_weak=True, candidates=10)
    assert names(library.search("harbour cranes ships ext:md", options=narrow)) == {
        "a.md", "b.md"
    }  # fmt: skip
    within = library.search("harbour cranes ships", within=[root / "keep"], options=narrow)
    assert names(within) == {"a.md", "b.md"}
    assert within.plan.allowed_segments == 2


def test_recording_hit_points_at_its_matching_moment(lib: Library) -> None:
    # Only the segment from 240 s to 270 s holds the number 240.
    hit = lib.search("harbour meeting part 240 type:audio").hits[0]
    assert hit.path.endswith("long.rec")
    assert (hit.kind, hit.start, hit.end) == ("speech", 240.0, 270.0)
    assert hit.why["moment"]["start"] == 240.0


def test_plan_counts_the_segments_a_filter_allows(lib: Library) -> None:
    # long.rec has ten 30-second segments, short.rec two.
    assert lib.plan("harbour type:audio").allowed_segments == 12
    assert lib.plan("harbour duration:<60s").allowed_segments == 2
    assert lib.plan("harbour").allowed_segments is None


@pytest.mark.parametrize(
    ("pattern", "literal"),
    [("d07/**", "d07/"), ("*.jpg", ".jpg"), ("[ab]*x", "x"), ("a[!bc]def", "def"), ("**", "")],
)
def test_the_native_prefilter_of_a_glob_is_text_every_match_contains(
    pattern: str, literal: str
) -> None:
    from mmsearch.query.filtersql import _longest_literal

    assert _longest_literal(pattern) == literal
