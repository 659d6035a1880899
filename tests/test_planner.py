"""The query planner end to end: weights and negatives, confidence, pooling, duplicates,
diversity, explanations, fusion, plans, the query cache, and never a stale hit.

Everything runs on the deterministic hash encoder (through ``CountingEncoder``):
a text's vector is a feature-hashed bag of its words, so texts sharing words
are similar, and an image's is a projection of its 8x8 thumbnail. Filters have
their own tests in ``test_filters.py``.
"""

from __future__ import annotations

import dataclasses
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from support import CountingEncoder, save_image

from mmsearch import Library
from mmsearch.contracts import ExtractSettings
from mmsearch.errors import UsageError
from mmsearch.query.hits import Hit
from mmsearch.query.keyword import COVERAGE_FOR_CONFIDENCE
from mmsearch.query.planner import RRF_K, SearchOptions
from mmsearch.query.runner import SearchResult

WEAK = SearchOptions(k=100, keep_weak=True)
VECTOR = "vector:counting"

# Unrelated words for filler files: they give the calibration an ordinary library to
# measure, and the rankings something to beat. None shares a hash slot with a word the
# tests search for (with 256 slots, words collide easily).
FILLER_WORDS = (
    "lettuce", "rake", "compost", "trowel", "hedge", "orchid", "basil", "lute", "spade",
    "greenhouse", "violin", "cello", "sonata", "tuba", "banjo", "oboe", "anthem", "meadow",
    "drum", "bassoon", "glacier", "volcano", "canyon", "tundra", "lagoon", "summit", "prairie",
    "dune", "delta", "marsh", "spreadsheet", "invoice", "ledger", "audit", "dividend",
    "receipt", "voucher", "tariff", "pension", "mortgage",
)  # fmt: skip


def write_fillers(root: Path, count: int = 24) -> None:
    """``count`` short texts of five filler words each, no two alike."""
    n = len(FILLER_WORDS)
    for i in range(count):
        words = [FILLER_WORDS[(i * 7 + j * 3) % n] for j in range(5)]
        (root / f"filler{i:02d}.txt").write_text(" ".join(words) + ".")


def name(hit: Hit) -> str:
    """A hit's file name."""
    return hit.path.rsplit("/", 1)[-1]


def ranking(result: SearchResult) -> list[str]:
    """The file names of a result's hits, best first."""
    return [name(hit) for hit in result.hits]


def signal(hit: Hit, which: str) -> dict[str, Any]:
    """One signal of a hit's explanation."""
    found: list[dict[str, Any]] = [s for s in hit.why["signals"] if s["signal"] == which]
    assert found, f"{name(hit)} has no {which} signal: {hit.why['signals']}"
    return found[0]


def hit_named(result: SearchResult, file_name: str) -> Hit:
    """The hit for one file."""
    found = [hit for hit in result.hits if name(hit) == file_name]
    assert found, f"{file_name} not in {ranking(result)}"
    return found[0]


@pytest.fixture
def scenes(library: Library, tmp_path: Path) -> Library:
    """Beach and sunset texts, a cat and a dog, and fillers."""
    root = tmp_path / "scenes"
    root.mkdir()
    (root / "beach-sunset.txt").write_text("A quiet beach at sunset, the sky turning orange.")
    (root / "beach-people.txt").write_text("A crowded beach with people playing volleyball.")
    (root / "sunset-city.txt").write_text("The sunset over the city skyline and its towers.")
    (root / "cat.txt").write_text("A cat asleep on the windowsill.")
    (root / "dog.txt").write_text("A dog chasing a ball in the yard.")
    write_fillers(root)
    library.index(root)
    return library


# -- weights and negatives ---------------------------------------------------------------


def test_negative_part_pushes_files_with_it_down(scenes: Library) -> None:
    plain = ranking(scenes.search("beach", options=WEAK))
    assert set(plain[:2]) == {"beach-sunset.txt", "beach-people.txt"}
    steered = ranking(scenes.search("beach -people", options=WEAK))
    assert steered[0] == "beach-sunset.txt"
    assert steered.index("beach-people.txt") > plain.index("beach-people.txt")


def test_plus_part_and_negative_rank_the_file_with_both_first(scenes: Library) -> None:
    result = scenes.search("beach +sunset -people", options=WEAK)
    order = ranking(result)
    assert order[0] == "beach-sunset.txt"
    # sunset-city has one of the wanted concepts and none of the unwanted one.
    assert order.index("sunset-city.txt") < order.index("beach-people.txt")
    assert result.hits[0].confident


def test_pushed_down_names_the_negative_part(scenes: Library) -> None:
    result = scenes.search("beach +sunset -people", options=WEAK)
    pushed = hit_named(result, "beach-people.txt").why["pushed_down"]
    assert pushed and {p["part"] for p in pushed} == {"people"}
    assert all(p["penalty"] > 0 for p in pushed)
    assert {p["signal"] for p in pushed} == {"keyword", VECTOR}
    assert hit_named(result, "beach-sunset.txt").why["pushed_down"] == []


def test_weights_flip_the_order_of_two_concepts(scenes: Library) -> None:
    cat_first = ranking(scenes.search("2:cat dog", options=WEAK))
    dog_first = ranking(scenes.search("cat 2:dog", options=WEAK))
    assert cat_first[:2] == ["cat.txt", "dog.txt"]
    assert dog_first[:2] == ["dog.txt", "cat.txt"]


def test_weighted_parts_are_scored_separately_from_bare_words(scenes: Library) -> None:
    plan = scenes.plan("2:cat dog")
    assert [(p.label, p.weight, p.negative) for p in plan.parts] == [
        ("cat", 2.0, False),
        ("dog", 1.0, False),
    ]


# -- no confident match -------------------------------------------------------------------


def test_nonsense_query_is_not_confident_and_returns_nothing(scenes: Library) -> None:
    result = scenes.search("xqzvbl plorkth")
    assert not result.confident
    assert result.hits == []
    assert result.best_weak is not None and not result.best_weak.confident


def test_keep_weak_returns_weak_hits_marked_not_confident(scenes: Library) -> None:
    result = scenes.search("xqzvbl plorkth", options=SearchOptions(k=5, keep_weak=True))
    assert not result.confident
    assert len(result.hits) == 5
    assert not any(hit.confident for hit in result.hits)
    assert result.best_weak == result.hits[0]


def test_query_with_words_of_one_file_is_confident(scenes: Library) -> None:
    result = scenes.search("cat asleep windowsill")
    assert result.confident
    assert ranking(result)[0] == "cat.txt"
    assert all(hit.confident for hit in result.hits)
    assert result.best_weak is None


def test_min_score_raises_and_lowers_the_bar(scenes: Library) -> None:
    default = scenes.search("cat asleep windowsill")
    best = max(s["calibrated"] for s in default.hits[0].why["signals"])
    strict = scenes.search("cat asleep windowsill", options=SearchOptions(min_score=best + 1))
    assert strict.hits == [] and not strict.confident
    assert strict.best_weak is not None and name(strict.best_weak) == "cat.txt"
    lax = scenes.search("xqzvbl plorkth", options=SearchOptions(k=5, min_score=-100.0))
    assert lax.confident and len(lax.hits) == 5


# -- attention pooling over a file's segments ---------------------------------------------

RELEVANT = "Finally the quarterly harbour budget review, approved by the harbour board."
PARAGRAPHS = 40


@pytest.fixture
def recording(library: Library, tmp_path: Path) -> Library:
    """A long "recording" with one relevant minute, and a short, weakly related note.

    A long text of 41 paragraphs stands in for a recording's transcript: pooling
    works the same on any file of many segments. Chunks of at most 120 characters
    make each paragraph its own segment.
    """
    root = tmp_path / "talks"
    root.mkdir()
    paragraphs = [_paragraph(i) for i in range(PARAGRAPHS)]
    # A few paragraphs touch the subject, so the segment scores are not all alike.
    for i in (5, 17, 33):
        paragraphs[i] = _paragraph(i, "harbour")
    paragraphs.insert(23, RELEVANT)
    assert all(60 <= len(p) <= 118 for p in paragraphs), "one paragraph per 120-char chunk"
    (root / "long-talk.txt").write_text("\n\n".join(paragraphs))
    (root / "short-note.txt").write_text("A short note on the harbour.")
    write_fillers(root)
    library.index(root, settings=ExtractSettings(text_chunk_chars=120))
    return library


QUERY = "quarterly harbour budget review"


def _paragraph(i: int, first: str | None = None) -> str:
    n = len(FILLER_WORDS)
    words = [FILLER_WORDS[(i * 5 + j) % n] for j in range(9)]
    if first:
        words[0] = first
    return f"Part {i}: " + " ".join(words) + "."


VECTOR_ONLY = SearchOptions(k=100, keep_weak=True, signals=("vector",))


def test_long_file_with_one_relevant_paragraph_beats_a_weakly_related_short_one(
    recording: Library,
) -> None:
    """Vector signal only: the long file's words would win it the keyword signal anyway."""
    assert ranking(recording.search(QUERY, options=VECTOR_ONLY))[:2] == [
        "long-talk.txt",
        "short-note.txt",
    ]
    # Pooled nearly as a plain mean, 40 unrelated paragraphs drown the relevant one:
    # the ranking above is the attention's doing.
    flat = dataclasses.replace(VECTOR_ONLY, temperature=1000.0)
    assert ranking(recording.search(QUERY, options=flat))[:2] == [
        "short-note.txt",
        "long-talk.txt",
    ]


def test_long_file_wins_with_both_signals(recording: Library) -> None:
    order = ranking(recording.search(QUERY))
    assert order[0] == "long-talk.txt"


def test_hit_moment_is_the_relevant_paragraph(recording: Library, tmp_path: Path) -> None:
    hit = recording.search(QUERY).hits[0]
    assert name(hit) == "long-talk.txt"
    assert hit.text == RELEVANT
    start = (tmp_path / "talks" / "long-talk.txt").read_text().index(RELEVANT)
    assert (hit.char_start, hit.char_end) == (start, start + len(RELEVANT))
    assert hit.why["moment"]["text"] == RELEVANT
    assert signal(hit, VECTOR)["attention"]["segments"] == PARAGRAPHS + 1


def test_without_attention_the_best_segment_scores_the_file(recording: Library) -> None:
    """With attention off, exact re-scoring's best segment is the file's score (max pooling)."""
    pooled = recording.search(QUERY, options=VECTOR_ONLY)
    best_only = recording.search(
        QUERY, options=dataclasses.replace(VECTOR_ONLY, no_rerank=("attention",))
    )
    assert ranking(best_only)[0] == ranking(pooled)[0] == "long-talk.txt"
    assert best_only.hits[0].text == RELEVANT
    top = signal(best_only.hits[0], VECTOR)
    assert "attention" not in top
    # A softmax-weighted mean never exceeds its largest value.
    assert signal(pooled.hits[0], VECTOR)["calibrated"] <= top["calibrated"]
    assert [r.name for r in best_only.plan.rerankers] == ["exact", "dedupe"]


def test_lower_temperature_pools_closer_to_the_best_segment(recording: Library) -> None:
    def pooled(temperature: float | None) -> float:
        options = dataclasses.replace(
            VECTOR_ONLY,
            temperature=temperature or 1.0,
            no_rerank=("attention",) if temperature is None else (),
        )
        hit = hit_named(recording.search(QUERY, options=options), "long-talk.txt")
        return float(signal(hit, VECTOR)["calibrated"])

    best = pooled(None)
    scores = [pooled(t) for t in (0.05, 0.5, 1.0, 2.0, 8.0)]
    assert scores == sorted(scores, reverse=True)
    assert scores[-1] < scores[0]  # the temperature matters on this file
    assert best - scores[0] < 1e-3 < best - scores[-1]


# -- duplicates and diversity -------------------------------------------------------------


@pytest.fixture
def copies(library: Library, tmp_path: Path) -> tuple[Library, Path]:
    root = tmp_path / "copies"
    for folder in ("a", "b", "c"):
        (root / folder).mkdir(parents=True)
        (root / folder / "minutes.txt").write_text("Minutes of the lighthouse committee meeting.")
    write_fillers(root)
    library.index(root)
    return library, root


def test_identical_copies_show_once_with_their_paths(copies: tuple[Library, Path]) -> None:
    library, root = copies
    result = library.search("lighthouse committee minutes")
    assert ranking(result).count("minutes.txt") == 1
    hit = result.hits[0]
    shown = [hit.path, *hit.copies]
    assert sorted(shown) == [str(root / f / "minutes.txt") for f in ("a", "b", "c")]
    assert hit.why["copies"] == list(hit.copies)
    assert hit.to_json()["copies"] == list(hit.copies)


def test_no_rerank_dedupe_shows_every_copy(copies: tuple[Library, Path]) -> None:
    library, _root = copies
    options = SearchOptions(no_rerank=("dedupe",))
    result = library.search("lighthouse committee minutes", options=options)
    assert ranking(result)[:3] == ["minutes.txt"] * 3
    assert all(hit.copies == () for hit in result.hits)


@pytest.fixture
def pictures(library: Library, tmp_path: Path) -> tuple[Library, Path]:
    """A picture saved as PNG, as a JPEG and resized; and two different pictures."""
    root = tmp_path / "pictures"
    original = save_image(root / "sunset.png", (240, 120, 30), size=(96, 64))
    with Image.open(original) as image:
        image.convert("RGB").save(root / "sunset-copy.jpg", quality=90)
        image.resize((48, 32)).save(root / "sunset-small.png")
    save_image(root / "sea.png", (20, 90, 200), size=(96, 64))
    save_image(root / "forest.png", (30, 160, 40), size=(96, 64))
    library.index(root)
    return library, root


def test_near_duplicate_images_collapse_into_one_hit(pictures: tuple[Library, Path]) -> None:
    library, root = pictures
    result = library.search(examples=[root / "sunset.png"], options=WEAK)
    assert ranking(result)[0] == "sunset.png"
    assert sorted(Path(p).name for p in result.hits[0].copies) == [
        "sunset-copy.jpg",
        "sunset-small.png",
    ]
    assert sorted(ranking(result)) == ["forest.png", "sea.png", "sunset.png"]


def test_different_images_are_not_collapsed(pictures: tuple[Library, Path]) -> None:
    library, root = pictures
    result = library.search(examples=[root / "sea.png"], options=WEAK)
    assert ranking(result)[0] == "sea.png"
    assert result.hits[0].copies == ()


@pytest.fixture
def near_copies(library: Library, tmp_path: Path) -> Library:
    root = tmp_path / "harbour"
    root.mkdir()
    (root / "cranes.txt").write_text("Harbour cranes unload container ships at dawn.")
    (root / "cranes-draft.txt").write_text("Harbour cranes unload container ships at dawn!!")
    (root / "ferries.txt").write_text("Container ferries leave the harbour at dusk.")
    write_fillers(root)
    library.index(root)
    return library


def test_near_copy_is_second_without_mmr(near_copies: Library) -> None:
    # The baseline for the MMR test: relevance alone puts the draft right after its twin.
    order = ranking(near_copies.search("harbour cranes container ships"))
    assert order[:3] in (
        ["cranes.txt", "cranes-draft.txt", "ferries.txt"],
        ["cranes-draft.txt", "cranes.txt", "ferries.txt"],
    )


def test_mmr_keeps_a_near_copy_out_of_rank_two(near_copies: Library) -> None:
    options = SearchOptions(rerank=("mmr",), diversity=0.3)
    result = near_copies.search("harbour cranes container ships", options=options)
    order = ranking(result)
    assert order[0] in ("cranes.txt", "cranes-draft.txt")
    assert order[1] == "ferries.txt"
    assert [r.name for r in result.plan.rerankers][-1] == "mmr"


# -- explanations -------------------------------------------------------------------------


def test_keyword_match_explains_its_words_and_snippet(scenes: Library) -> None:
    hit = scenes.search("cat windowsill").hits[0]
    assert name(hit) == "cat.txt"
    keyword = signal(hit, "keyword")
    assert keyword["matched"] == ["cat", "windowsill"]
    assert "[cat]" in keyword["snippet"] and "[windowsill]" in keyword["snippet"]
    assert keyword["where"]["text"] == "A cat asleep on the windowsill."
    assert hit.why["matched_words"] == ["cat", "windowsill"]


def test_vector_only_match_has_only_the_vector_signal(pictures: tuple[Library, Path]) -> None:
    library, root = pictures
    hit = library.search(examples=[root / "sea.png"]).hits[0]
    assert [s["signal"] for s in hit.why["signals"]] == [VECTOR]
    assert hit.why["matched_words"] == []
    assert signal(hit, VECTOR)["cleared"]


def test_cleared_signals_agree_with_hit_confidence(scenes: Library) -> None:
    for query in ("cat asleep windowsill", "beach +sunset -people", "xqzvbl plorkth"):
        for hit in scenes.search(query, options=WEAK).hits:
            cleared = [s["cleared"] for s in hit.why["signals"]]
            assert hit.confident == any(cleared) == hit.why["confident"], (query, name(hit))
            for s in hit.why["signals"]:
                assert s["cleared"] == (
                    s["calibrated"] >= s["threshold"]
                    and s.get("coverage", 1.0) >= COVERAGE_FOR_CONFIDENCE
                )


def test_hit_to_json_includes_why(scenes: Library) -> None:
    hit = scenes.search("cat asleep windowsill").hits[0]
    shown = hit.to_json()
    assert shown["why"] == hit.why
    assert {"score", "fusion", "confident", "signals", "moment", "pushed_down"} <= set(hit.why)


@pytest.fixture
def named(library: Library, tmp_path: Path) -> Library:
    """Files whose names, not their contents, hold the word searched for."""
    root = tmp_path / "named"
    root.mkdir()
    (root / "zanzibar-trip.txt").write_text("Packing list: towels, hats, sunscreen.")
    (root / "zanzibar_ferry.txt").write_text("Timetable for the morning crossing.")
    (root / "zanzibar").mkdir()
    (root / "zanzibar" / "packing.txt").write_text("Towels, hats, sunscreen.")
    write_fillers(root)
    library.index(root)
    return library


def test_word_in_a_file_name_gives_a_keyword_signal(named: Library) -> None:
    hit = hit_named(named.search("zanzibar", options=WEAK), "zanzibar-trip.txt")
    keyword = signal(hit, "keyword")
    assert keyword["matched"] == ["zanzibar"] and keyword["in_file_name"] == ["zanzibar"]


def test_word_in_a_file_name_with_underscores_gives_a_keyword_signal(named: Library) -> None:
    hit = hit_named(named.search("zanzibar", options=WEAK), "zanzibar_ferry.txt")
    assert signal(hit, "keyword")["in_file_name"] == ["zanzibar"]


def test_file_found_by_keyword_search_has_a_keyword_signal(named: Library) -> None:
    """Either way out is fine: judge the folder names too, or do not search them."""
    result = named.search("zanzibar", options=SearchOptions(keep_weak=True, signals=("keyword",)))
    for hit in result.hits:
        if name(hit) == "packing.txt":
            assert signal(hit, "keyword")["matched"] == ["zanzibar"]


# -- fusion -------------------------------------------------------------------------------


def test_keyword_signal_alone_runs(scenes: Library) -> None:
    result = scenes.search("cat windowsill", options=SearchOptions(signals=("keyword",)))
    assert ranking(result) == ["cat.txt"]
    assert result.plan.to_json()["signals"] == ["keyword"]
    assert "vector" not in result.plan.describe().split("retrieval:")[1].split("fusion:")[0]


def test_keyword_only_hits_carry_only_the_keyword_signal(scenes: Library) -> None:
    result = scenes.search("cat windowsill", options=SearchOptions(signals=("keyword",)))
    assert [s["signal"] for s in result.hits[0].why["signals"]] == ["keyword"]
    assert result.hits[0].score == pytest.approx(
        signal(result.hits[0], "keyword")["calibrated"], abs=1e-3
    )


def test_vector_signal_alone_runs(scenes: Library) -> None:
    result = scenes.search("cat windowsill", options=SearchOptions(signals=("vector",)))
    assert ranking(result)[0] == "cat.txt"
    assert [s["signal"] for s in result.hits[0].why["signals"]] == [VECTOR]
    assert result.hits[0].why["matched_words"] == []


def test_rrf_fusion_runs(scenes: Library) -> None:
    result = scenes.search("cat asleep windowsill", options=SearchOptions(fusion="rrf"))
    assert ranking(result)[0] == "cat.txt"
    top = result.hits[0]
    assert top.why["fusion"] == "rrf" and top.confident
    assert {s["signal"] for s in top.why["signals"]} == {"keyword", VECTOR}
    # Confidence does not depend on the fusion: RRF's tiny scores still clear.
    assert top.score < 1


def test_rrf_score_is_the_sum_of_reciprocal_ranks(scenes: Library) -> None:
    result = scenes.search("beach +sunset", options=SearchOptions(fusion="rrf", keep_weak=True))
    top = result.hits[0]
    assert name(top) == "beach-sunset.txt"
    assert sorted((s["signal"], s["rank"]) for s in top.why["signals"]) == [
        ("keyword", 1),
        (VECTOR, 1),
    ]
    assert top.score == pytest.approx(2 / (RRF_K + 1))
    for hit in result.hits:
        # Only signals that matched (above their null) count.
        matched = [s for s in hit.why["signals"] if s["calibrated"] > 0]
        assert hit.score == pytest.approx(sum(1 / (RRF_K + s["rank"]) for s in matched))
    assert [h.score for h in result.hits] == sorted((h.score for h in result.hits), reverse=True)


# -- plans --------------------------------------------------------------------------------


def test_plan_describe_names_parts_filter_count_and_rerankers(scenes: Library) -> None:
    text = scenes.plan("beach -people type:text").describe()
    assert "+ beach  (weight 1)" in text
    assert "- people  (pushes down 1)" in text
    assert "type is text" in text
    assert "-> 29 segments pass" in text
    order = [text.index(f" {name}: ") for name in ("exact", "attention", "dedupe")]
    assert order == sorted(order)
    assert "mmr" not in text


def test_plan_of_a_filter_allowing_nothing_says_so(scenes: Library) -> None:
    text = scenes.plan("beach -people type:image").describe()
    assert "type is image" in text and "-> 0 segments pass" in text


def test_plan_to_json_has_every_key(scenes: Library) -> None:
    plan = scenes.plan("beach -people type:image", options=SearchOptions(rerank=("mmr",)))
    shown = plan.to_json()
    assert set(shown) == {
        "query", "parts", "keywords", "negative_keywords", "filters", "allowed_segments",
        "spaces", "signals", "fusion", "rerankers", "threshold", "options", "notes",
        "store_filter",
    }  # fmt: skip
    assert shown["keywords"] == ["beach"] and shown["negative_keywords"] == ["people"]
    assert shown["filters"] == ["type is image"] and shown["allowed_segments"] == 0
    assert [r["name"] for r in shown["rerankers"]] == ["exact", "attention", "dedupe", "mmr"]
    assert shown["spaces"][0]["encoder"] == "counting"


def test_unknown_reranker_is_a_usage_error(scenes: Library) -> None:
    with pytest.raises(UsageError, match=r"Unknown reranker 'fancy'.*installed: attention"):
        scenes.search("beach", options=SearchOptions(rerank=("fancy",)))
    with pytest.raises(UsageError, match="Unknown reranker 'nope'"):
        scenes.plan("beach", options=SearchOptions(no_rerank=("nope",)))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (SearchOptions(k=0), "-k must be at least 1"),
        (SearchOptions(signals=("smell",)), "Unknown signal smell"),
        (SearchOptions(temperature=0), "temperature must be above 0"),
        (SearchOptions(diversity=1.5), "Diversity must be between 0 and 1"),
    ],
)
def test_bad_options_are_usage_errors(
    scenes: Library, options: SearchOptions, message: str
) -> None:
    with pytest.raises(UsageError, match=message):
        scenes.search("beach", options=options)


@pytest.mark.parametrize("query", ["-people", "-people type:image", "type:image", ""])
def test_query_of_only_negatives_or_filters_is_a_usage_error(scenes: Library, query: str) -> None:
    with pytest.raises(UsageError, match=r"Nothing to search for.*negatives.*push results down"):
        scenes.search(query)


# -- the query cache and stale hits -------------------------------------------------------


def test_the_same_text_is_embedded_once(scenes: Library, counting_encoder: CountingEncoder) -> None:
    before = counting_encoder.inputs
    scenes.search("beach sunset")
    assert counting_encoder.inputs == before + 1
    scenes.search("beach sunset")
    assert counting_encoder.inputs == before + 1
    # Parts are cached one by one: only the new one is embedded.
    scenes.search("beach sunset -people")
    assert counting_encoder.inputs == before + 2
    assert counting_encoder.seen[-1] == "people"


def _delete_behind_the_index(library: Library, display: str) -> None:
    with sqlite3.connect(library.db_path) as conn:
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("DELETE FROM items WHERE display = ?", (display,))


def test_deleted_file_never_appears_by_vector_or_keyword(scenes: Library) -> None:
    assert ranking(scenes.search("cat asleep windowsill"))[0] == "cat.txt"
    _delete_behind_the_index(scenes, "cat.txt")
    for options in (WEAK, SearchOptions(signals=("keyword",), keep_weak=True)):
        assert "cat.txt" not in ranking(scenes.search("cat asleep windowsill", options=options))


def test_file_no_longer_done_never_appears(scenes: Library) -> None:
    with sqlite3.connect(scenes.db_path) as conn:
        conn.execute("UPDATE items SET status = 'failed' WHERE display = 'dog.txt'")
    assert "dog.txt" not in ranking(scenes.search("dog chasing ball", options=WEAK))


def test_deleted_copy_is_not_listed_among_copies(copies: tuple[Library, Path]) -> None:
    library, root = copies
    _delete_behind_the_index(library, "b/minutes.txt")
    hit = library.search("lighthouse committee minutes").hits[0]
    assert sorted([hit.path, *hit.copies]) == [
        str(root / "a" / "minutes.txt"),
        str(root / "c" / "minutes.txt"),
    ]


def test_example_file_outside_the_library_is_read_from_disk(
    pictures: tuple[Library, Path],
) -> None:
    library, root = pictures
    outside = root.parent / "outside.png"
    shutil.copy(root / "sea.png", outside)
    assert ranking(library.search(examples=[outside]))[0] == "sea.png"
