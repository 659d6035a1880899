"""The CLI: exit codes, JSON shapes, and where the catalog lives."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from mmsearch.cli import cli
from mmsearch.store.locations import lock_path
from mmsearch.store.locking import writer_lock


def run(*args: str | Path, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args], env=env, catch_exceptions=False)


def run_json(*args: str | Path) -> Any:
    result = run(*args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_index_json_summary(media: Path, tmp_path: Path) -> None:
    (media / "empty.txt").write_bytes(b"")
    (media / "fake.png").write_text("not an image")
    db = tmp_path / "c.db"
    payload = run_json("--db", db, "index", media, "--json")
    assert payload["indexed"] == 5
    assert payload["skipped"] == {"empty file": 1, "wrong extension": 1}
    assert payload["failed"] == []
    assert isinstance(payload["seconds"], float)
    again = run_json("--db", db, "index", media, "--json")
    assert (again["indexed"], again["unchanged"]) == (0, 7)


def test_skips_are_one_line_each_on_stderr(media: Path, tmp_path: Path) -> None:
    (media / "empty.txt").write_bytes(b"")
    result = run("--db", tmp_path / "c.db", "index", media)
    assert result.exit_code == 0
    lines = [line for line in result.stderr.splitlines() if line.startswith("skipped")]
    assert lines == [f"skipped {media}/empty.txt: the file is empty (0 bytes)"]
    assert "skipped 1: empty file" in result.stdout


def test_query_json_shape(media: Path, tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    run_json("--db", db, "index", media, "--json")
    payload = run_json("--db", db, "query", "red car harbour", "-k", "3", "--show-weak", "--json")
    assert payload["query"]["text"] == "red car harbour" and payload["confident"] is True
    first = payload["results"][0]
    assert first["path"] == str(media / "car.txt")
    assert first["modality"] == "text"
    assert set(first["segment"]) >= {"kind", "start", "end", "text"}
    assert first["segment"]["start"] is None
    assert len(payload["results"]) == 3


def test_query_by_image_and_type_and_in(media: Path, tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    run_json("--db", db, "index", media, "--json")
    payload = run_json(
        "--db", db, "query", "--image", media / "red.png", "--type", "image", "--json"
    )
    assert payload["results"][0]["path"] == str(media / "red.png")
    scoped = run_json("--db", db, "query", "sea", "--in", media / "holiday", "--json")
    assert all("/holiday/" in r["path"] for r in scoped["results"])


def test_plain_query_output(media: Path, tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    run("--db", db, "index", media)
    result = run("--db", db, "query", "red car harbour", "-k", "1")
    assert result.exit_code == 0
    assert str(media / "car.txt") in result.stdout
    assert "text" in result.stdout


def test_status_json(media: Path, tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    run("--db", db, "index", media)
    payload = run_json("--db", db, "status", "--json")
    assert payload["catalog"] == str(db)
    assert payload["roots"] == [{"path": str(media), "path_bytes_b64": None, "items": 5}]
    assert payload["items"] == {"image": {"done": 2}, "text": {"done": 3}}
    [space] = payload["spaces"]
    assert space["encoder"] == "hash" and space["vectors"] == 5 and space["active"]
    assert space["index"]["state"] == "ok"


def test_status_reports_a_missing_index_file(media: Path, tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    run("--db", db, "index", media)
    for file in (tmp_path / "c.db.indexes").iterdir():
        file.unlink()
    payload = run_json("--db", db, "status", "--json")
    assert payload["spaces"][0]["index"]["state"] == "missing"


def test_plugins_json_lists_first_party_plugins() -> None:
    payload = run_json("plugins", "--json")
    by_name = {p["name"]: p for p in payload["plugins"]}
    assert by_name["images"]["provides"] == {"extractors": ["pillow-image"]}
    assert by_name["text"]["provides"] == {"extractors": ["plain-text"]}
    assert by_name["hash-encoder"]["provides"] == {"encoders": ["hash"]}
    assert by_name["images"]["distribution"] == "mmsearch-images"
    assert by_name["images"]["version"]
    assert payload["failed"] == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["index"], "Missing argument"),
        (["index", "/no/such/folder"], "does not exist"),
        (["query"], "Give a query text"),
        (["query", "x", "-k", "0"], "0 is not in the range"),
        (["query", "x", "--type", "smell"], "'smell' is not one of"),
        (["nonsense"], "No such command"),
    ],
)
def test_usage_errors_exit_2(args: list[str], message: str, tmp_path: Path) -> None:
    result = run("--db", tmp_path / "c.db", *args)
    assert result.exit_code == 2
    assert message in result.output


def test_index_of_a_file_instead_of_a_folder_is_a_usage_error(media: Path, tmp_path: Path) -> None:
    result = run("--db", tmp_path / "c.db", "index", media / "car.txt")
    assert result.exit_code == 2
    assert "is a file" in result.output


def test_lock_held_exits_1_with_the_holder(media: Path, tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    with writer_lock(lock_path(db)):
        result = run("--db", db, "index", media)
    assert result.exit_code == 1
    assert f"pid {os.getpid()}" in result.output


def test_catalog_location_from_environment(media: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    result = run("index", media, env={"MMSEARCH_HOME": str(home)})
    assert result.exit_code == 0
    assert (home / "catalog.db").exists()
    explicit = tmp_path / "explicit.db"
    result = run("index", media, env={"MMSEARCH_DB": str(explicit)})
    assert result.exit_code == 0 and explicit.exists()


def test_help_works_everywhere() -> None:
    for command in ([], ["index"], ["query"], ["status"], ["plugins"]):
        for flag in ("-h", "--help"):
            result = run(*command, flag)
            assert result.exit_code == 0 and "Usage:" in result.output


def test_catalog_that_cannot_be_created_exits_1_with_advice(media: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the catalog folder should be")
    result = run("--db", blocker / "c.db", "index", media)
    assert result.exit_code == 1
    assert "Cannot open the catalog" in result.output and "--db" in result.output


def test_a_file_that_is_not_a_catalog_exits_1(media: Path, tmp_path: Path) -> None:
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not a database" * 100)
    result = run("--db", junk, "status")
    assert result.exit_code == 1
    assert f"{junk} is not an mmsearch catalog" in result.output
    assert junk.read_bytes() == b"this is not a database" * 100


def test_broken_plugin_warns_once_on_other_commands(
    media: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "mmsearch_testplugin_gone.py").write_text("raise ImportError('no libbar')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("MMSEARCH_PLUGIN_MODULES", "mmsearch_testplugin_gone")
    result = run("--db", tmp_path / "c.db", "index", media)
    assert result.exit_code == 0
    assert result.stderr.count("plugin mmsearch_testplugin_gone is not loaded") == 1


def test_text_limits_have_flags(media: Path, tmp_path: Path) -> None:
    (media / "big.txt").write_text("word " * 400)  # 2 kB
    payload = run_json(
        "--db", tmp_path / "c.db", "index", media, "--max-text-mb", "0.001", "--json"
    )
    assert payload["skipped"] == {"too large": 1}


def test_bad_extract_settings_are_one_usage_error() -> None:
    from mmsearch import ExtractSettings, UsageError

    with pytest.raises(UsageError, match="text_chunk_chars"):
        ExtractSettings(text_chunk_chars=0)
    with pytest.raises(UsageError, match="max_image_megapixels"):
        ExtractSettings(max_image_megapixels=0)


def test_set_parses_key_value_plugin_options(media: Path, tmp_path: Path) -> None:
    from mmsearch.cli.app import _parse_options

    assert _parse_options(("whisper_model=small", " a = b=c ")) == {
        "whisper_model": "small",
        "a": "b=c",
    }
    result = run("--db", tmp_path / "c.db", "index", media, "--set", "novalue")
    assert result.exit_code == 2 and "is not KEY=VALUE" in result.output


def test_eval_command_prints_metrics_and_compares(media: Path, tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    run_json("--db", db, "index", media, "--json")
    queries = tmp_path / "queries.jsonl"
    queries.write_text(
        json.dumps({"query": "red car harbour", "relevant": [str(media / "car.txt")]})
        + "\n"
        + json.dumps({"query": "blue sea", "relevant": [str(media / "holiday" / "diary.txt")]})
        + "\n"
    )
    payload = run_json("--db", db, "eval", queries, "--compare", "signals=keyword", "--json")
    default, keyword = payload["reports"]
    assert default["name"] == "default" and keyword["name"] == "signals=keyword"
    assert default["overall"]["queries"] == 2
    assert default["overall"]["recall_1"] == 0.5 * sum(
        q["first_relevant_rank"] == 1 for q in default["queries"]
    )
    text = run("--db", db, "eval", queries, "--compare", "fusion=rrf")
    assert text.exit_code == 0, text.output
    assert "MRR" in text.output and "fusion=rrf" in text.output


def test_explain_plan_prints_the_plan_without_searching(media: Path, tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    run_json("--db", db, "index", media, "--json")
    result = run("--db", db, "query", "red car -blue type:text", "--explain-plan")
    assert result.exit_code == 0, result.output
    assert "- blue  (pushes down 1)" in result.output
    assert "type is text" in result.output and "segments pass" in result.output


def test_bad_query_syntax_exits_2_pointing_at_the_part(media: Path, tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    run_json("--db", db, "index", media, "--json")
    result = run("--db", db, "query", "red typ:image")
    assert result.exit_code == 2
    assert "typ:" in result.output and "^" in result.output
