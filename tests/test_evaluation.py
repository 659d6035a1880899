"""Retrieval evaluation: judging hits, the metrics, the query file and the reports."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import pytest

from mmsearch.errors import UsageError
from mmsearch.query.evaluation import (
    EvalFileError,
    EvalQuery,
    EvalReport,
    RankedHit,
    Relevant,
    evaluate,
    format_comparison,
    format_report,
    judge,
    load_queries,
    ndcg_at,
    recall_at,
    reciprocal_rank,
)

# nDCG of relevant hits at ranks 2 and 4 out of 2 relevant entries:
# DCG = 1/log2(3) + 1/log2(5) = 0.63093 + 0.43068; ideal = 1 + 1/log2(3) = 1.63093.
NDCG_RANKS_2_AND_4 = (1 / math.log2(3) + 1 / math.log2(5)) / (1 + 1 / math.log2(3))


def hits(*paths: str) -> list[RankedHit]:
    return [RankedHit(p) for p in paths]


# --- judging and metrics -------------------------------------------------------------------


def test_relevant_at_ranks_2_and_4_of_2() -> None:
    judged = judge(hits("/x", "/a", "/y", "/b", "/z"), [Relevant("/a"), Relevant("/b")])
    assert judged == [-1, 0, -1, 1, -1]
    assert recall_at(judged, 2, 1) == 0.0
    assert recall_at(judged, 2, 5) == 1.0
    assert recall_at(judged, 2, 3) == 0.5  # only /a is in the top 3
    assert reciprocal_rank(judged) == 0.5
    assert ndcg_at(judged, 2, 10) == pytest.approx(NDCG_RANKS_2_AND_4)
    assert round(NDCG_RANKS_2_AND_4, 4) == 0.6509


def test_nothing_relevant_found_scores_zero() -> None:
    judged = judge(hits("/x", "/y"), [Relevant("/a")])
    assert judged == [-1, -1]
    assert (recall_at(judged, 1, 10), reciprocal_rank(judged), ndcg_at(judged, 1, 10)) == (0, 0, 0)


def test_no_hits_at_all_scores_zero() -> None:
    assert (recall_at([], 1, 10), reciprocal_rank([]), ndcg_at([], 1, 10)) == (0, 0, 0)


def test_relevant_at_rank_1_scores_one() -> None:
    judged = judge(hits("/a", "/x"), [Relevant("/a")])
    assert (recall_at(judged, 1, 1), reciprocal_rank(judged), ndcg_at(judged, 1, 10)) == (1, 1, 1)


def test_ideal_dcg_is_capped_at_k_when_more_are_relevant() -> None:
    # 3 relevant, k = 2, both top hits relevant: DCG = ideal = 1 + 1/log2(3).
    assert ndcg_at([0, 1, -1], 3, 2) == pytest.approx(1.0)
    assert recall_at([0, 1, -1], 3, 2) == pytest.approx(2 / 3)


def test_a_duplicate_collapsed_into_a_hit_counts_through_its_copies() -> None:
    ranked = [RankedHit("/x"), RankedHit("/photos/copy.jpg", copies=("/photos/orig.jpg",))]
    assert judge(ranked, [Relevant("/photos/orig.jpg")]) == [-1, 0]


def test_a_hit_with_copies_satisfies_only_one_relevant_entry() -> None:
    ranked = [RankedHit("/a", copies=("/b",)), RankedHit("/b")]
    assert judge(ranked, [Relevant("/a"), Relevant("/b")]) == [0, 1]


def test_a_second_hit_on_the_same_relevant_entry_does_not_count() -> None:
    judged = judge(hits("/a", "/a", "/b"), [Relevant("/a"), Relevant("/b")])
    assert judged == [0, -1, 1]
    # The repeat leaves rank 2 empty: DCG = 1 + 1/log2(4) = 1.5, ideal = 1 + 1/log2(3).
    assert ndcg_at(judged, 2, 10) == pytest.approx(1.5 / (1 + 1 / math.log2(3)))


def test_hit_paths_are_compared_normalised() -> None:
    assert judge(hits("/media/photos/../car.jpg"), [Relevant("/media/car.jpg")]) == [0]


@pytest.mark.parametrize(
    ("start", "end", "counts"),
    [
        (70.0, 80.0, True),  # inside
        (50.0, 65.0, True),  # overlaps the start
        (90.0, 95.0, True),  # touches the end
        (40.0, 60.0, True),  # touches the start
        (91.0, 99.0, False),  # after
        (10.0, 59.5, False),  # before
        (75.0, None, True),  # a moment without an end
        (None, None, False),  # a hit without a time
    ],
)
def test_time_ranged_relevant_needs_an_overlapping_moment(
    start: float | None, end: float | None, counts: bool
) -> None:
    rel = [Relevant("/talk.opus", 60.0, 90.0)]
    assert judge([RankedHit("/talk.opus", start, end)], rel) == [0 if counts else -1]


def test_relevant_without_times_accepts_any_moment_of_the_file() -> None:
    assert judge([RankedHit("/talk.opus", 500.0, 510.0)], [Relevant("/talk.opus")]) == [0]


def test_relevant_with_only_a_start_is_open_ended() -> None:
    rel = [Relevant("/talk.opus", start=60.0)]
    assert judge([RankedHit("/talk.opus", 30.0, 40.0), RankedHit("/talk.opus", 900.0)], rel) == [
        -1,
        0,
    ]


def test_two_moments_of_one_file_are_two_relevant_entries() -> None:
    rel = [Relevant("/t.opus", 0.0, 10.0), Relevant("/t.opus", 50.0, 60.0)]
    ranked = [RankedHit("/t.opus", 55.0, 58.0), RankedHit("/t.opus", 1.0, 2.0)]
    assert judge(ranked, rel) == [1, 0]


def test_metrics_refuse_a_query_without_relevant_entries() -> None:
    with pytest.raises(ValueError, match="n_relevant"):
        recall_at([0], 0, 10)


# --- the query file ------------------------------------------------------------------------


def write(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "queries.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_spec_example_loads_with_paths_resolved_against_the_file(tmp_path: Path) -> None:
    (tmp_path / "examples").mkdir()
    (tmp_path / "examples" / "cat.jpg").write_bytes(b"")
    (tmp_path / "clips").mkdir()
    (tmp_path / "clips" / "q.wav").write_bytes(b"")
    path = write(
        tmp_path,
        "# queries for the holiday library",
        '{"query": "red car by the harbour", "relevant": ["photos/car.jpg"]}',
        "",
        '{"image": "examples/cat.jpg", "relevant": ["photos/chelsea.png", "photos/./cat2.jpg"],'
        ' "modality": "image"}',
        '{"audio": "clips/q.wav", "relevant": '
        '[{"path": "talks/budget.opus", "start": 60, "end": 90}]}',
        "  # an indented comment",
        '{"query": "invoice 12345", "relevant": ["docs/invoice.pdf"], "id": "inv-1"}',
    )
    text, image, audio, invoice = load_queries(path)
    root = str(tmp_path)
    assert text == EvalQuery(
        2,
        "line 2",
        "red car by the harbour",
        None,
        None,
        (Relevant(f"{root}/photos/car.jpg"),),
        None,
    )
    assert image.image == f"{root}/examples/cat.jpg" and image.modality == "image"
    assert image.relevant[1] == Relevant(f"{root}/photos/cat2.jpg")
    assert (image.line, image.id, image.text) == (4, "line 4", None)
    assert audio.audio == f"{root}/clips/q.wav"
    assert audio.relevant == (Relevant(f"{root}/talks/budget.opus", 60.0, 90.0),)
    assert (invoice.line, invoice.id) == (7, "inv-1")


def test_text_mixed_with_an_example_file_is_allowed(tmp_path: Path) -> None:
    (tmp_path / "cat.jpg").write_bytes(b"")
    path = write(tmp_path, '{"query": "on a sofa", "image": "cat.jpg", "relevant": ["a.jpg"]}')
    [query] = load_queries(path)
    assert (query.text, query.image) == ("on a sofa", str(tmp_path / "cat.jpg"))


def test_tilde_and_absolute_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    path = write(tmp_path, '{"query": "q", "relevant": ["~/a.jpg", "/srv/../b.jpg"]}')
    [query] = load_queries(path)
    assert [r.path for r in query.relevant] == [str(tmp_path / "home" / "a.jpg"), "/b.jpg"]


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ('{"query": "a", relevant: []}', "not valid JSON at column 16: Expecting property name"),
        ('["query", "a"]', "expected a JSON object, got list"),
        ('{"query": "a"}', "no 'relevant' list"),
        ('{"query": "a", "relevant": []}', "'relevant' is empty"),
        ('{"query": "a", "relevant": "a.jpg"}', "'relevant' must be a list, got str"),
        ('{"query": "a", "relevant": [3]}', "relevant[0] must be a path or an object"),
        ('{"query": "a", "relevant": [{"start": 1}]}', "relevant[0] needs a non-empty 'path'"),
        ('{"query": "a", "relevant": [{"path": "a", "from": 1}]}', "unknown key 'from'"),
        ('{"query": "a", "relevant": [{"path": "a", "start": "1"}]}', "relevant[0].start must"),
        ('{"query": "a", "relevant": [{"path": "a", "end": -2}]}', "relevant[0].end must"),
        ('{"query": "a", "relevant": ["x", {"path": "a", "start": 9, "end": 3}]}', "start 9 after"),
        ('{"image": "a.jpg", "audio": "b.wav", "relevant": ["x"]}', "both 'image' and 'audio'"),
        ('{"relevant": ["x"]}', "has no 'query', 'image' or 'audio'"),
        ('{"query": null, "relevant": ["x"]}', "has no 'query', 'image' or 'audio'"),
        ('{"query": 5, "relevant": ["x"]}', "'query' must be a non-empty string, got 5"),
        ('{"query": "  ", "relevant": ["x"]}', "'query' must be a non-empty string"),
        ('{"query": "a", "relevant": ["x"], "top": 3}', "unknown key 'top'. Use only"),
        ('{"query": "a", "relevant": ["x"], "k": 5}', "'k' is not supported"),
        ('{"query": "a", "relevant": ["x"], "modality": "photo"}', "'modality' must be one of"),
        ('{"query": "a", "relevant": ["x"], "id": 7}', "'id' must be a non-empty string"),
        ('{"image": "missing.jpg", "relevant": ["x"]}', "example image not found: "),
    ],
)
def test_a_bad_line_names_file_line_and_problem(tmp_path: Path, line: str, problem: str) -> None:
    path = write(tmp_path, "# header", line)
    with pytest.raises(EvalFileError) as info:
        load_queries(path)
    first = info.value.problems[0]
    assert first.startswith(f"{path}:2: ") and problem in first
    assert ". " in first.removeprefix(f"{path}:2: ")  # and says what to do
    assert isinstance(info.value, UsageError)


def test_a_missing_file_is_an_eval_file_error(tmp_path: Path) -> None:
    with pytest.raises(EvalFileError, match=r"nope\.jsonl: no such query file\. Check the path"):
        load_queries(tmp_path / "nope.jsonl")


def test_a_folder_or_binary_file_is_an_eval_file_error(tmp_path: Path) -> None:
    with pytest.raises(EvalFileError, match="is a folder"):
        load_queries(tmp_path)
    (tmp_path / "q.jsonl").write_bytes(b'{"query": "caf\xe9"}')
    with pytest.raises(EvalFileError, match=r"not UTF-8 text \(byte 14\)"):
        load_queries(tmp_path / "q.jsonl")


def test_a_file_of_only_comments_has_no_queries(tmp_path: Path) -> None:
    with pytest.raises(EvalFileError, match="no queries"):
        load_queries(write(tmp_path, "# nothing yet", ""))


def test_all_bad_lines_are_reported_at_once(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '{"query": "fine", "relevant": ["a"]}',
        '{"query": "a"}',
        "not json",
        '{"query": "fine", "relevant": ["a"], "id": "x"}',
        '{"query": "b", "relevant": ["a"], "k": 10, "id": "x"}',
    )
    with pytest.raises(EvalFileError) as info:
        load_queries(path)
    assert info.value.problems == [
        f'{path}:2: no \'relevant\' list. Add "relevant": ["path/of/the/expected/file"]',
        f"{path}:3: not valid JSON at column 1: Expecting value. "
        "Write one JSON object per line (lines starting with # are comments)",
        f"{path}:5: 'k' is not supported (metrics are fixed at 1, 5 and 10). Remove it",
        f"{path}:5: id 'x' is also used on line 4. Make ids unique",
    ]
    assert str(info.value).splitlines()[0] == "4 problems in the query file:"


def test_the_message_lists_at_most_ten_problems(tmp_path: Path) -> None:
    path = write(tmp_path, *['{"query": "a"}'] * 12)
    with pytest.raises(EvalFileError) as info:
        load_queries(path)
    lines = str(info.value).splitlines()
    assert len(info.value.problems) == 12
    assert lines[0] == "12 problems in the query file:"
    assert lines[10].startswith(f"{path}:10: ") and lines[11] == "... and 2 more"


# --- evaluate and the reports --------------------------------------------------------------


def query(line: int, *relevant: str, modality: str | None = None) -> EvalQuery:
    rel = tuple(Relevant(r) for r in relevant)
    return EvalQuery(line, f"line {line}", f"q{line}", None, None, rel, modality)


QUERIES = [
    query(1, "/a", modality="text"),
    query(2, "/b", "/c"),  # image, by the catalog lookup
    query(3, "/d"),  # image, by the catalog lookup, fails in A
    query(4, "/e"),  # not in the catalog: unknown
]
CATALOG = {"/b": "image", "/d": "image", "/a": "audio"}


def fake_search(results: Mapping[int, Sequence[str]]) -> Callable[[EvalQuery], list[RankedHit]]:
    def search(q: EvalQuery) -> list[RankedHit]:
        if q.line not in results:
            raise UsageError("example file is not an image. Use a .jpg")
        return hits(*results[q.line])

    return search


def run(name: str, results: Mapping[int, Sequence[str]]) -> EvalReport:
    return evaluate(
        QUERIES,
        fake_search(results),
        name=name,
        modality_of=lambda q: CATALOG.get(q.relevant[0].path),
    )


REPORT_A = {1: ["/a", "/x"], 2: ["/x", "/b", "/y", "/c"], 4: ["/x"]}
REPORT_B = {1: ["/x", "/a"], 2: ["/b", "/c"], 3: ["/x", "/y", "/d"], 4: ["/x"]}


def test_queries_are_grouped_by_their_modality_or_the_lookup() -> None:
    report = run("A", REPORT_A)
    groups = report.by_modality()
    assert list(groups) == ["text", "image", "unknown"]  # "modality" in the file wins
    assert [m.queries for m in groups.values()] == [1, 2, 1]
    # image: line 2 (ranks 2 and 4 of 2) and line 3 (failed, all zeros)
    image = groups["image"]
    assert (image.queries, image.recall_1, image.recall_5, image.recall_10) == (2, 0, 0.5, 0.5)
    assert image.mrr == 0.25
    assert image.ndcg_10 == pytest.approx(NDCG_RANKS_2_AND_4 / 2)


def test_a_failing_query_counts_as_zero_and_keeps_its_error() -> None:
    report = run("A", REPORT_A)
    failed = report.results[2]
    assert failed.error == "example file is not an image. Use a .jpg"
    assert (failed.judged, failed.reciprocal_rank, failed.recall(10)) == ((), 0.0, 0.0)
    overall = report.overall()
    assert overall.queries == 4 and overall.mrr == pytest.approx((1 + 0.5 + 0 + 0) / 4)
    assert report.to_json()["queries"][2]["error"] == failed.error


def test_other_exceptions_propagate() -> None:
    def broken(q: EvalQuery) -> list[RankedHit]:
        raise KeyError("bug")

    with pytest.raises(KeyError):
        evaluate(QUERIES, broken)


def test_to_json_has_the_stable_shape() -> None:
    data = run("A", REPORT_A).to_json()
    assert data["name"] == "A"
    assert data["overall"] == {
        "queries": 4,
        "recall_1": 0.25,
        "recall_5": 0.5,
        "recall_10": 0.5,
        "mrr": 0.375,
        "ndcg_10": round((1 + NDCG_RANKS_2_AND_4) / 4, 6),
    }
    assert set(data["by_modality"]) == {"text", "image", "unknown"}
    assert data["queries"][1] | {"seconds": 0} == {
        "id": "line 2",
        "line": 2,
        "modality": "image",
        "reciprocal_rank": 0.5,
        "recall_10": 1.0,
        "ndcg_10": round(NDCG_RANKS_2_AND_4, 6),
        "first_relevant_rank": 2,
        "top": ["/x", "/b", "/y", "/c"],
        "top_level": "confident",
        "seconds": 0,
        "error": None,
    }


def test_format_report_prints_aligned_figures() -> None:
    lines = format_report(run("A", REPORT_A)).splitlines()
    assert lines[9] == "gate (rank-1 answer: confident / probably / hidden):"
    lines = lines[:8]
    # overall: recall@1 1/4, recall@5 (1 + 1)/4, MRR (1 + 1/2)/4, nDCG (1 + 0.6509)/4 = 0.4127
    assert lines == [
        "A: 4 queries",
        "         queries  recall@1  recall@5  recall@10    MRR  nDCG@10",
        "overall        4     0.250     0.500      0.500  0.375    0.413",
        "text           1     1.000     1.000      1.000  1.000    1.000",
        "image          2     0.000     0.500      0.500  0.250    0.325",
        "unknown        1     0.000     0.000      0.000  0.000    0.000",
        "1 query failed (counted as 0):",
        "  line 3: example file is not an image. Use a .jpg",
    ]


def test_format_report_per_query_marks_relevant_hits() -> None:
    text = format_report(run("A", REPORT_A), per_query=True)
    block = text.split("\n\n")[1].splitlines()
    assert block[3].startswith("line 2 [image]  RR 0.500  recall@10 1.000  nDCG@10 0.651  ")
    assert block[4:8] == ["   1  /x", "   2* /b", "   3  /y", "   4* /c"]
    assert block[8].startswith("line 3 [image]  RR 0.000  recall@10 0.000  nDCG@10 0.000  ")
    assert block[9] == "  error: example file is not an image. Use a .jpg"
    assert block[-1] == "* = relevant"


def test_format_comparison_shows_both_and_the_difference() -> None:
    a, b = run("default", REPORT_A), run("fusion=rrf", REPORT_B)
    lines = format_comparison(a, b).split("\n\ndefault:")[0].splitlines()
    # B: line 1 relevant at rank 2, line 2 at ranks 1 and 2, line 3 at rank 3, line 4 none.
    # recall@1: A = (1 + 0 + 0 + 0)/4 = 0.25, B = (0 + 1/2 + 0 + 0)/4 = 0.125
    # MRR: A = (1 + 1/2)/4 = 0.375, B = (1/2 + 1 + 1/3)/4 = 0.458
    assert lines[:4] == [
        "A = default, B = fusion=rrf",
        "metric               default  fusion=rrf     B-A",
        "overall (4 queries)",
        "  recall@1             0.250       0.125  -0.125",
    ]
    assert lines[6] == "  MRR                  0.375       0.458  +0.083"
    assert (lines[8], lines[14]) == ("text (1 query)", "image (2 queries)")
    assert lines[18] == "  MRR                  0.250       0.667  +0.417"
    assert lines[-3:] == [
        "B better on 2 queries, worse on 1, same on 1 (by reciprocal rank)",
        "default: 1 query failed (counted as 0):",
        "  line 3: example file is not an image. Use a .jpg",
    ]


def test_format_comparison_per_query_lists_worst_regressions_first() -> None:
    a, b = run("default", REPORT_A), run("fusion=rrf", REPORT_B)
    text = format_comparison(a, b, per_query=True)
    assert text.split("\n\n")[1].splitlines() == [
        "query    A RR   B RR     B-A",
        "line 1  1.000  0.500  -0.500",
        "line 3  0.000  0.333  +0.333",
        "line 2  0.500  1.000  +0.500",
    ]


def test_only_the_top_10_paths_are_kept_but_ranks_go_deeper() -> None:
    ranked = [f"/x{i}" for i in range(11)] + ["/a"]
    [result] = evaluate([query(1, "/a")], fake_search({1: ranked})).results
    assert result.top_paths == tuple(ranked[:10])
    assert (result.first_relevant_rank, result.reciprocal_rank) == (12, 1 / 12)
    assert (result.recall(10), result.ndcg_10) == (0.0, 0.0)


def test_the_report_groups_are_exactly_the_media_types() -> None:
    from mmsearch.contracts import MEDIA_TYPES
    from mmsearch.query.evalfile import MODALITIES

    assert sorted(MODALITIES) == sorted(MEDIA_TYPES)


# --- the gate section ----------------------------------------------------------------------


def test_gate_figures_on_a_hand_checked_case() -> None:
    """Four image queries, two no-answer ones; every figure counted by hand below.

    line 1: right at rank 1, confident   -> kept
    line 2: right at rank 1, probable    -> not kept, but shown
    line 3: wrong at rank 1, confident   -> not refused
    line 4: no hit at all                -> wrong, refused
    no-answer 5: confident -> not refused; no-answer 6: probable -> refused, not hidden
    """
    queries = [query(n, f"/r{n}", modality="image") for n in (1, 2, 3, 4)]
    none = [EvalQuery(n, f"line {n}", f"q{n}", None, None, (), "image") for n in (5, 6)]
    answers = {
        1: [RankedHit("/r1", level="confident")],
        2: [RankedHit("/r2", level="probable"), RankedHit("/x")],
        3: [RankedHit("/x", level="confident"), RankedHit("/r3")],
        4: [],
        5: [RankedHit("/x", level="confident")],
        6: [RankedHit("/y", level="probable")],
    }
    report = evaluate(queries, lambda q: answers[q.line], no_answer=none)
    gate = report.gate()
    assert list(gate) == ["overall", "image"]
    image = gate["image"].to_json()
    assert image["kept"] == {"count": 1, "total": 2, "share": 0.5}
    assert image["shown"] == {"count": 2, "total": 2, "share": 1.0}
    assert image["refused"] == {"count": 1, "total": 2, "share": 0.5}
    assert image["no_answer_refused"] == {"count": 1, "total": 2, "share": 0.5}
    assert image["no_answer_hidden"] == {"count": 0, "total": 2, "share": 0.0}
    assert report.to_json()["gate"]["overall"] == image
    assert [r["top_level"] for r in report.to_json()["no_answer"]] == ["confident", "probable"]
    text = format_report(report)
    assert "right rank-1 shown confident                 0.500 (1/2)" in text


def test_a_gate_figure_over_no_queries_is_a_dash_not_a_number() -> None:
    report = evaluate([query(1, "/a", modality="text")], lambda q: [RankedHit("/a")])
    figures = report.gate()["text"]
    assert figures.refused.share is None and figures.refused.text() == "-"
    assert figures.no_answer_refused.to_json() == {"count": 0, "total": 0, "share": None}


def test_a_no_answer_file_refuses_relevant_entries(tmp_path: Path) -> None:
    path = tmp_path / "none.jsonl"
    path.write_text('{"query": "zorb"}\n{"query": "cat", "relevant": ["a.jpg"]}\n')
    with pytest.raises(EvalFileError, match=r"none.jsonl:2: a no-answer query lists 'relevant'"):
        load_queries(path, no_answer=True)
    path.write_text('{"query": "zorb", "modality": "image"}\n')
    assert [q.relevant for q in load_queries(path, no_answer=True)] == [()]
