"""The query language: parts, phrases, weights, filters, globs, and errors that point."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from mmsearch.errors import UsageError
from mmsearch.query.querylang import (
    DurationRange,
    Filters,
    ParsedQuery,
    Part,
    QuerySyntaxError,
    compile_path_glob,
    parse_filter,
    parse_query,
)

ZONE = timezone(timedelta(hours=2))
NOW = datetime(2024, 6, 15, 12, 0, tzinfo=ZONE)


def parse(text: str) -> ParsedQuery:
    return parse_query(text, now=NOW)


def error_of(text: str) -> QuerySyntaxError:
    with pytest.raises(QuerySyntaxError) as caught:
        parse(text)
    return caught.value


def underlined(text: str) -> str:
    """The part of the query the error's carets are under."""
    err = error_of(text)
    return err.query[err.start : err.end]


def glob(pattern: str, path: str) -> bool:
    return compile_path_glob(pattern).fullmatch(path) is not None


# Words, phrases, signs and weights


def test_bare_words_form_one_part() -> None:
    query = parse("red  car\tharbour")
    assert query.parts == (Part("red car harbour"),)
    assert query.keywords == ("red", "car", "harbour")


def test_plus_and_minus_make_separate_parts() -> None:
    query = parse("beach +sunset -people")
    assert query.parts == (Part("beach"), Part("sunset"), Part("people", negative=True))
    assert query.positives == (Part("beach"), Part("sunset"))
    assert query.negatives == (Part("people", negative=True),)
    assert query.keywords == ("beach", "sunset")
    assert query.negative_keywords == ("people",)


def test_bare_part_takes_the_place_of_its_first_word() -> None:
    query = parse('+sunset beach -people "golden hour"')
    assert [p.text for p in query.parts] == ["sunset", "beach golden hour", "people"]


def test_quoted_phrase_is_a_phrase_and_joins_the_bare_part() -> None:
    query = parse('due "invoice   12345" now')
    assert query.parts == (Part("due invoice 12345 now"),)
    assert query.phrases == ("invoice 12345",)
    assert query.keywords == ("due", "invoice", "12345", "now")


def test_signed_phrase_is_one_part_and_not_a_required_phrase() -> None:
    query = parse('+"some phrase" -"new york"')
    assert query.parts == (Part("some phrase"), Part("new york", negative=True))
    assert query.phrases == ()
    assert query.negative_keywords == ("new", "york")


def test_closing_quote_ends_the_token() -> None:
    assert parse('"red car"boat').parts == (Part("red car boat"),)


def test_quote_inside_a_word_is_text() -> None:
    assert parse('12" vinyl').parts == (Part('12" vinyl'),)


def test_minus_inside_a_word_is_text() -> None:
    query = parse("t-shirt print")
    assert query.parts == (Part("t-shirt print"),)
    assert query.keywords == ("t", "shirt", "print")


def test_unterminated_quote_points_at_the_quote() -> None:
    assert str(error_of('beach "sunset glow')) == (
        "Bad query: unterminated quote.\n"
        '  beach "sunset glow\n'
        "        ^\n"
        'Close the phrase with a second ", or remove the quote.'
    )


def test_unterminated_quote_after_a_filter_key_points_at_the_quote() -> None:
    err = error_of('path:"my photos')
    assert (err.start, err.end) == (5, 6)


def test_empty_quotes_are_an_error() -> None:
    assert "empty quotes" in str(error_of('cat ""'))
    assert underlined('cat -""') == '""'


@pytest.mark.parametrize("query", ["cat - dog", "cat +", "-"])
def test_lone_sign_is_an_error(query: str) -> None:
    assert underlined(query) in ("-", "+")
    assert "lone" in error_of(query).message


def test_weight_prefix() -> None:
    query = parse('2:cat 0.5:"big dog" -2:Mouse 1.5:cat')
    assert query.parts == (
        Part("cat", 2.0),
        Part("big dog", 0.5),
        Part("Mouse", 2.0, negative=True),
        Part("cat", 1.5),
    )
    assert query.keywords == ("cat", "big", "dog")
    assert query.negative_keywords == ("mouse",)


def test_zero_weight_points_at_the_weight() -> None:
    assert str(error_of("cat 0:dog")) == (
        "Bad query: weight 0 is out of range.\n"
        "  cat 0:dog\n"
        "      ^\n"
        "A weight is above 0 and at most 100, like 2:cat or 0.5:dog; -cat searches away."
    )


def test_weight_above_100_points_at_the_weight() -> None:
    assert underlined("-100.5:dog") == "100.5"
    assert parse("100:dog").parts == (Part("dog", 100.0),)


def test_time_of_day_is_text_not_a_weight() -> None:
    query = parse("meeting 10:30 2:_x")
    assert query.parts == (Part("meeting 10:30 2:_x"),)


def test_keywords_are_lower_cased_and_de_duplicated_in_order() -> None:
    query = parse('Cat +CAT 2:dog "cat dog" -Dog -bird')
    assert query.keywords == ("cat", "dog")
    assert query.negative_keywords == ("dog", "bird")


def test_empty_query_parses_to_nothing() -> None:
    query = parse("   ")
    assert (query.parts, query.phrases, query.keywords) == ((), (), ())
    assert query.filters.is_empty()


def test_query_with_only_filters_has_no_parts() -> None:
    query = parse("type:image ext:jpg")
    assert query.parts == () and query.keywords == ()
    assert query.filters == Filters(types=frozenset({"image"}), extensions=frozenset({"jpg"}))


# Filters in a query


def test_filter_keys_are_case_insensitive() -> None:
    assert parse("TYPE:Image").filters.types == {"image"}


@pytest.mark.parametrize(
    ("value", "types"),
    [
        ("image,audio", {"image", "audio"}),
        ("photos", {"image"}),
        ("Videos", {"video"}),
        ("doc,document,texts", {"text"}),
        ("sound,speech,recording", {"audio"}),
    ],
)
def test_type_filter_takes_several_values_and_aliases(value: str, types: set[str]) -> None:
    assert parse(f"cat type:{value}").filters.types == types


def test_unknown_type_points_at_it_and_lists_the_valid_ones() -> None:
    err = error_of("type:image,imgae")
    assert err.query[err.start : err.end] == "imgae"
    assert "image, audio, text and video" in err.hint


def test_ext_filter_is_lower_case_without_the_dot() -> None:
    assert parse("ext:jpg,.PNG,Mp3").filters.extensions == {"jpg", "png", "mp3"}


def test_bad_extension_points_at_the_item() -> None:
    assert underlined("ext:jpg,tar.gz") == "tar.gz"


def test_empty_list_item_is_an_error() -> None:
    err = error_of("ext:jpg,,png")
    assert (err.start, "empty item" in err.message) == (8, True)


@pytest.mark.parametrize("query", ["type:", 'path:""', "After:"])
def test_empty_filter_value_points_at_the_filter(query: str) -> None:
    err = error_of(f"cat {query}")
    assert err.query[err.start : err.end] == query
    assert "needs a value" in err.message and "Try " in err.hint


def test_quoted_filter_value_keeps_its_spaces() -> None:
    assert parse('path:"my photos/**" cat').filters.paths == ("my photos/**",)


def test_type_ext_and_path_accumulate_when_repeated() -> None:
    filters = parse("type:image type:audio ext:jpg ext:png path:a path:b").filters
    assert filters.types == {"image", "audio"}
    assert filters.extensions == {"jpg", "png"}
    assert filters.paths == ("a", "b")


@pytest.mark.parametrize("key", ["after", "before", "duration"])
def test_single_filter_given_twice_points_at_the_second(key: str) -> None:
    value = ">1s" if key == "duration" else "2020"
    assert underlined(f"{key}:{value} cat {key}:{value}") == f"{key}:{value}"


def test_misspelled_filter_suggests_the_right_key() -> None:
    assert str(error_of("beach typ:image")) == (
        "Bad query: unknown filter 'typ:'.\n"
        "  beach typ:image\n"
        "        ^^^^\n"
        "Did you mean type:? Filters are type:, ext:, path:, after:, before:, duration:."
    )


@pytest.mark.parametrize(
    ("query", "meant"),
    [("exts:jpg", "ext"), ("befor:2023", "before"), ("Durations:<1s", "duration"), ("et:x", "ext")],
)
def test_near_misses_of_filter_keys_are_errors(query: str, meant: str) -> None:
    assert f"Did you mean {meant}:?" in error_of(query).hint


def test_other_colon_words_are_text() -> None:
    query = parse("note:buy http://x.org re: at:noon")
    assert query.parts == (Part("note:buy http://x.org re: at:noon"),)
    assert query.filters.is_empty()


def test_negated_filter_is_an_error_pointing_at_the_sign() -> None:
    err = error_of("cat -type:image")
    assert (err.start, err.end) == (4, 5)
    assert '"-type:image"' in err.hint


# Dates


def test_after_a_month_is_on_or_after_its_first_day() -> None:
    assert parse("after:2023-01").filters.after == datetime(2023, 1, 1, tzinfo=ZONE)


def test_before_is_strictly_before_the_start_of_the_period() -> None:
    assert parse("before:2023").filters.before == datetime(2023, 1, 1, tzinfo=ZONE)
    assert parse("before:2023-05-07").filters.before == datetime(2023, 5, 7, tzinfo=ZONE)


@pytest.mark.parametrize(
    ("age", "delta"),
    [
        ("12h", timedelta(hours=12)),
        ("30d", timedelta(days=30)),
        ("2w", timedelta(weeks=2)),
        ("6m", timedelta(days=180)),
        ("1y", timedelta(days=365)),
    ],
)
def test_relative_after_uses_now(age: str, delta: timedelta) -> None:
    assert parse(f"after:{age}").filters.after == NOW - delta


def test_iso_time_without_zone_is_in_nows_zone() -> None:
    after = parse('after:2023-05-01T10:00 before:"2023-05-02 08:30"').filters
    assert after.after == datetime(2023, 5, 1, 10, 0, tzinfo=ZONE)
    assert after.before == datetime(2023, 5, 2, 8, 30, tzinfo=ZONE)


def test_iso_time_with_offset_keeps_it() -> None:
    after = parse("after:2023-05-01T10:00+05:00").filters.after
    assert after == datetime(2023, 5, 1, 10, 0, tzinfo=timezone(timedelta(hours=5)))


def test_dates_without_now_are_local_and_timezone_aware() -> None:
    after = parse_query("after:2023-03").filters.after
    assert after is not None and after.tzinfo is not None
    assert after == datetime(2023, 3, 1).astimezone()


@pytest.mark.parametrize("value", ["2023-13", "yesterday", "2023-02-30", "5x"])
def test_bad_date_points_at_the_value(value: str) -> None:
    err = error_of(f"cat after:{value}")
    assert err.query[err.start : err.end] == value
    assert "after:2023-05-01" in err.hint


def test_empty_date_range_points_at_the_second_date() -> None:
    err = error_of("before:2023 cat after:2023")
    assert err.query[err.start : err.end] == "after:2023"
    assert err.message.startswith("empty date range")


# Durations


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("<60s", DurationRange(high=60, high_inclusive=False)),
        ("<=60", DurationRange(high=60)),
        (">10m", DurationRange(low=600, low_inclusive=False)),
        (">=1h", DurationRange(low=3600)),
        ("10s..2m", DurationRange(10, 120)),
        ("1:30..", DurationRange(low=90)),
        ("..500ms", DurationRange(high=0.5)),
        ("<1h30m", DurationRange(high=5400, high_inclusive=False)),
        ("<1:02:03", DurationRange(high=3723, high_inclusive=False)),
        ("<1.5m", DurationRange(high=90, high_inclusive=False)),
    ],
)
def test_duration_values(value: str, expected: DurationRange) -> None:
    assert parse(f"duration:{value}").filters.duration == expected


def test_bare_duration_suggests_a_comparison_or_a_range() -> None:
    err = error_of("duration:60")
    assert err.hint == "Try duration:<60s, duration:>60s or duration:50s..70s."
    assert (err.start, err.end) == (9, 11)


def test_reversed_duration_range_is_an_error() -> None:
    err = error_of("duration:2m..10s")
    assert err.message == "the range is empty"
    assert "duration:10s..2m" in err.hint


@pytest.mark.parametrize(("value", "bad"), [("<6x", "6x"), ("<1:75", "1:75"), ("10s..2q", "2q")])
def test_bad_duration_amount_points_at_it(value: str, bad: str) -> None:
    assert underlined(f"duration:{value}") == bad


def test_duration_range_contains_respects_inclusiveness() -> None:
    closed, open_ = DurationRange(10, 20), DurationRange(10, 20, False, False)
    assert [closed.contains(s) for s in (9.9, 10, 20, 20.1)] == [False, True, True, False]
    assert [open_.contains(s) for s in (10, 15, 20)] == [False, True, False]
    assert DurationRange().contains(1e9)


def test_duration_range_describes_itself() -> None:
    assert DurationRange(high=60, high_inclusive=False).describe() == "< 60 s"
    assert DurationRange(10, 120).describe() == "10 s .. 120 s"
    assert DurationRange(10, 60, low_inclusive=False).describe() == "> 10 s and <= 60 s"
    assert DurationRange(low=0).describe() == ">= 0 s"


# Path globs


def test_path_glob_double_star_matches_nested_folders() -> None:
    assert glob("holidays/**", "/home/u/photos/holidays/2023/a.jpg")
    assert glob("holidays/**/*.jpg", "/x/holidays/a.jpg")
    assert glob("holidays/**/*.jpg", "/x/holidays/2023/june/a.jpg")
    assert not glob("holidays/**/*.jpg", "/x/holidays/2023/a.png")


def test_unanchored_glob_starts_at_a_folder_name() -> None:
    assert glob("holidays/*.jpg", "/x/holidays/a.jpg")
    assert not glob("days/**", "/x/holidays/a.jpg")


def test_single_star_stays_within_one_folder() -> None:
    assert glob("photos/*.jpg", "/photos/a.jpg")
    assert not glob("photos/*.jpg", "/photos/2023/a.jpg")
    assert glob("*.JPG", "/a/b/C.JPG") and not glob("*.jpg", "/a/b/c.jpeg")


def test_anchored_glob_starts_at_the_root() -> None:
    assert glob("/data/*/a.txt", "/data/x/a.txt")
    assert not glob("/data/*/a.txt", "/home/data/x/a.txt")


def test_tilde_is_expanded_and_anchors(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    assert glob("~/pics/**", f"{tmp_path}/pics/a/b.jpg")
    assert not glob("~/pics/**", f"/other{tmp_path}/pics/a/b.jpg")


def test_plain_folder_name_matches_files_below_it_and_a_file_so_named() -> None:
    assert glob("holidays", "/x/holidays/2023/a.jpg")
    assert glob("holidays", "/x/y/holidays")
    assert not glob("holidays", "/x/holidays2/a.jpg")


def test_question_mark_and_classes_match_one_character() -> None:
    assert glob("img?.jpg", "/a/img1.jpg") and not glob("img?.jpg", "/a/img12.jpg")
    assert glob("img[0-9].jpg", "/a/img7.jpg") and not glob("img[0-9].jpg", "/a/imgx.jpg")
    assert glob("img[!0-9].jpg", "/a/imgx.jpg") and not glob("img[!0-9].jpg", "/a/img7.jpg")
    assert glob("a[]]b", "/a]b")


def test_regex_characters_in_globs_are_literal() -> None:
    assert glob("a+b (1)/*.jpg", "/x/a+b (1)/c.jpg")
    assert not glob("a.b", "/x/aXb")
    assert glob("a[b", "/x/a[b")


def test_path_matches_any_glob_and_everything_without_globs() -> None:
    assert Filters().path_matches("/anything")
    filters = parse("path:*.png path:holidays").filters
    assert filters.path_matches("/x/a.png") and filters.path_matches("/holidays/a.jpg")
    assert not filters.path_matches("/x/a.jpg")


# Filters: merging, describing, JSON


def test_merged_intersects_types_and_extensions() -> None:
    left = Filters(types=frozenset({"image", "audio"}), extensions=frozenset({"jpg"}))
    right = Filters(types=frozenset({"audio", "video"}))
    merged = left.merged(right)
    assert merged.types == {"audio"} and merged.extensions == {"jpg"}


def test_merged_types_that_exclude_each_other_are_an_error() -> None:
    with pytest.raises(UsageError, match="exclude each other"):
        Filters(types=frozenset({"image"})).merged(Filters(types=frozenset({"audio"})))


def test_merged_path_filters_from_two_places_are_an_error() -> None:
    assert Filters(paths=("a",)).merged(Filters()).paths == ("a",)
    with pytest.raises(UsageError, match="one place"):
        Filters(paths=("a",)).merged(Filters(paths=("b",)))


def test_merged_dates_take_the_narrower_range() -> None:
    early, late = datetime(2020, 1, 1, tzinfo=ZONE), datetime(2022, 1, 1, tzinfo=ZONE)
    merged = Filters(after=early, before=late).merged(Filters(after=late - timedelta(days=1)))
    assert (merged.after, merged.before) == (late - timedelta(days=1), late)
    with pytest.raises(UsageError, match="Empty date range"):
        Filters(after=late).merged(Filters(before=early))


def test_merged_durations_intersect() -> None:
    merged = Filters(duration=DurationRange(low=10, high=60)).merged(
        Filters(duration=DurationRange(low=10, low_inclusive=False, high=100))
    )
    assert merged.duration == DurationRange(10, 60, low_inclusive=False)
    with pytest.raises(UsageError, match="exclude each other"):
        Filters(duration=DurationRange(high=5)).merged(Filters(duration=DurationRange(low=6)))


def test_filters_describe_one_line_per_active_filter() -> None:
    filters = parse("type:audio,image ext:mp3 path:a/** after:2023 duration:<60s").filters
    assert filters.describe() == [
        "type is image or audio",
        "extension is mp3",
        "path matches a/**",
        "dated on or after 2023-01-01 00:00+02:00",
        "duration < 60 s",
    ]


def test_parsed_query_json_shape() -> None:
    query = parse('"red car" -boat type:image before:2024 duration:>=1s')
    assert query.to_json() == {
        "source": '"red car" -boat type:image before:2024 duration:>=1s',
        "parts": [
            {"text": "red car", "weight": 1.0, "negative": False},
            {"text": "boat", "weight": 1.0, "negative": True},
        ],
        "phrases": ["red car"],
        "keywords": ["red", "car"],
        "negative_keywords": ["boat"],
        "filters": {
            "types": ["image"],
            "extensions": [],
            "paths": [],
            "after": None,
            "before": "2024-01-01T00:00:00+02:00",
            "duration": {"low": 1.0, "high": None, "low_inclusive": True, "high_inclusive": True},
        },
    }


# parse_filter (CLI options) and error rendering


def test_parse_filter_accepts_the_query_syntax() -> None:
    assert parse_filter("type", "image,audio") == parse("type:image,audio").filters
    assert parse_filter("after", "30d", now=NOW).after == NOW - timedelta(days=30)
    assert parse_filter("path", "my photos/**").paths == ("my photos/**",)


def test_parse_filter_error_names_the_flag_with_a_shell_ready_example() -> None:
    with pytest.raises(UsageError) as caught:
        parse_filter("duration", "60", flag="--duration")
    assert not isinstance(caught.value, QuerySyntaxError)
    assert str(caught.value) == (
        "Bad value for --duration: a duration needs a comparison or a range. "
        "Try --duration '<60s', --duration '>60s' or --duration 50s..70s."
    )


def test_parse_filter_without_a_flag_points_into_key_and_value() -> None:
    with pytest.raises(QuerySyntaxError) as caught:
        parse_filter("ext", "jpg,a.b")
    assert str(caught.value).splitlines()[1:3] == ["  ext:jpg,a.b", "          ^^^"]


def test_parse_filter_rejects_an_unknown_key_and_an_empty_value() -> None:
    with pytest.raises(UsageError, match="Unknown filter 'colour'"):
        parse_filter("colour", "red")
    with pytest.raises(UsageError, match="value is empty"):
        parse_filter("type", " ", flag="--type")


def test_carets_align_under_wide_characters() -> None:
    lines = str(error_of("東京 typ:x")).splitlines()
    assert lines[1:3] == ["  東京 typ:x", "       ^^^^"]


def test_query_syntax_error_is_a_usage_error_with_its_parts() -> None:
    err = QuerySyntaxError("bad thing", "a\tb", 2, 3)
    assert isinstance(err, UsageError)
    assert (err.message, err.query, err.start, err.end, err.hint) == ("bad thing", "a\tb", 2, 3, "")
    assert str(err) == "Bad query: bad thing.\n  a b\n    ^"
