"""What reaches the terminal: names and words from files are printed inert, JSON stays exact.

A crafted file name or note could otherwise set the window title, clear the screen
or write the clipboard (OSC 52) when its hit is shown, and a newline in a name
would split its line. Non-UTF-8 names get bytes a program can open again, and the
CLI's quirks (a query starting with '-', ``--db`` after the command) are pinned.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from support import PoisonEncoder, make_registry
from test_cli import run, run_json

from mmsearch import Library
from mmsearch.safe_text import path_bytes_b64, terminal_safe

TITLE = "\x1b]0;pwned\x07"
CLEAR = "\x1b[2J"
CLIPBOARD = "\x1b]52;c;ZXZpbA==\x07"
HOSTILE_NAME = f"harbour{TITLE}{CLEAR}{CLIPBOARD}\nsecond line.txt"
HOSTILE_NOTE = (
    f"harbour crane note {TITLE} then {CLEAR} and {CLIPBOARD} and \u202eexe.txt\u202c done"
)
# Raw bytes a terminal acts on: C0 controls but newline, DEL, C1 controls, bidi overrides.
UNSAFE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


@pytest.fixture
def notes(tmp_path: Path) -> Path:
    """A folder of text files, one with a hostile name and one with a hostile note."""
    root = tmp_path / "notes"
    root.mkdir()
    (root / HOSTILE_NAME).write_text("the harbour crane at dawn")
    (root / "note.txt").write_text(HOSTILE_NOTE)
    (root / "plain.txt").write_text("a quiet meadow with sheep")
    return root


def _raw_file(tmp_path: Path, name: bytes, content: bytes) -> tuple[Path, bytes]:
    """A folder ``notes`` holding one file named by raw bytes: the folder and the path."""
    root = tmp_path / "notes"
    root.mkdir()
    raw = os.fsencode(root) + b"/" + name
    with open(raw, "wb") as handle:
        handle.write(content)
    return root, raw


# -- the sanitiser ------------------------------------------------------------------------


def test_controls_escape_visibly_and_ordinary_unicode_stays() -> None:
    assert terminal_safe(f"a{TITLE}b") == "a\\x1b]0;pwned\\x07b"
    assert terminal_safe("one\ntwo\rthree\tfour") == "one\\x0atwo\\x0dthree\\x09four"
    assert terminal_safe("\x7f\x9b\x85") == "\\x7f\\x9b\\x85"
    assert terminal_safe("\u202eexe.txt\u2066") == "\\u202eexe.txt\\u2066"
    assert terminal_safe("\udcff") == "\\udcff"  # a lone surrogate cannot be printed
    ordinary = "café 東京 Ñandú — «ok» 🙂 C:\\x"
    assert terminal_safe(ordinary) == ordinary


def test_path_bytes_are_given_only_for_names_that_are_not_utf8() -> None:
    assert path_bytes_b64("café.txt".encode()) is None
    assert base64.b64decode(path_bytes_b64(b"\xff\xfe.txt") or "") == b"\xff\xfe.txt"


# -- query output -------------------------------------------------------------------------


def test_hostile_name_and_note_print_inert_and_on_one_line(notes: Path, tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    run_json("--db", db, "index", notes, "--json")
    result = run("--db", db, "query", "harbour crane", "-k", "5", "--show-weak")
    assert result.exit_code == 0, result.output
    assert not UNSAFE.search(result.output), repr(result.output)
    shown = terminal_safe(str(notes / HOSTILE_NAME))
    lines = result.stdout.splitlines()
    assert any(shown in line for line in lines), result.stdout  # escaped, on its one line
    assert not any(line.startswith("second line.txt") for line in lines)
    assert "\\x1b]52;c;ZXZpbA==\\x07" in result.stdout  # the note's words, visibly escaped
    assert "\\u202eexe.txt" in result.stdout


def test_hostile_name_and_note_round_trip_exactly_in_json(notes: Path, tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    run_json("--db", db, "index", notes, "--json")
    payload = run_json("--db", db, "query", "harbour crane", "-k", "5", "--show-weak", "--json")
    paths = {hit["path"]: hit for hit in payload["results"]}
    assert str(notes / HOSTILE_NAME) in paths
    assert paths[str(notes / HOSTILE_NAME)]["path_bytes_b64"] is None  # valid UTF-8: exact
    note = paths[str(notes / "note.txt")]
    assert note["segment"]["text"] == HOSTILE_NOTE
    assert Path(next(iter(paths))).exists()


def test_weak_match_message_escapes_the_name(notes: Path, tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    (notes / "note.txt").unlink()
    (notes / "plain.txt").unlink()
    run_json("--db", db, "index", notes, "--json")
    result = run("--db", db, "query", "harbour", "--min-score", "1000")
    assert "No confident match" in result.stderr, result.output
    assert not UNSAFE.search(result.output), repr(result.output)
    assert "second line.txt (" in result.stderr.splitlines()[0]


def test_error_naming_a_hostile_file_prints_inert(notes: Path, tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    run_json("--db", db, "index", notes, "--json")
    missing = tmp_path / f"gone{TITLE}.png"
    result = run("--db", db, "query", "--image", missing)
    assert result.exit_code == 2, result.output
    assert "does not exist" in result.stderr
    assert not UNSAFE.search(result.output), repr(result.output)
    assert terminal_safe(str(missing)) in result.stderr


# -- index, status, eval ------------------------------------------------------------------


def test_index_log_lines_escape_a_hostile_name(tmp_path: Path) -> None:
    root = tmp_path / "notes"
    root.mkdir()
    (root / HOSTILE_NAME).write_bytes(b"")
    result = run("--db", tmp_path / "c.db", "index", root)
    assert result.exit_code == 0, result.output
    assert not UNSAFE.search(result.output), repr(result.output)
    [line] = [line for line in result.stderr.splitlines() if line.startswith("skipped")]
    assert line == f"skipped {terminal_safe(str(root / HOSTILE_NAME))}: the file is empty (0 bytes)"


def test_plugin_warnings_on_stderr_are_escaped_too(capsys: pytest.CaptureFixture[str]) -> None:
    from mmsearch.cli.app import _setup_logging

    root, ours = logging.getLogger(), logging.getLogger("mmsearch")
    saved = (list(root.handlers), list(ours.handlers), ours.level, ours.propagate)
    try:
        _setup_logging(0)  # what every CLI run does first
        # Plugins log under their own names, e.g. the whisper plugin on damaged audio.
        logging.getLogger("mmsearch_whisper.audio").warning("%s: skipped 3 packets", HOSTILE_NAME)
        err = capsys.readouterr().err
    finally:
        root.handlers[:], ours.handlers[:] = saved[0], saved[1]
        ours.setLevel(saved[2])
        ours.propagate = saved[3]
    assert err == f"{terminal_safe(HOSTILE_NAME)}: skipped 3 packets\n"


def test_status_escapes_a_hostile_root_and_json_keeps_it(tmp_path: Path) -> None:
    root = tmp_path / f"box{TITLE}\nend"
    root.mkdir()
    (root / "a.txt").write_text("some words here")
    db = tmp_path / "c.db"
    run_json("--db", db, "index", root, "--json")
    result = run("--db", db, "status")
    assert result.exit_code == 0, result.output
    assert not UNSAFE.search(result.output), repr(result.output)
    assert f"root: {terminal_safe(str(root))} (1 files)" in result.stdout.splitlines()
    [entry] = run_json("--db", db, "status", "--json")["roots"]
    assert entry["path"] == str(root) and entry["path_bytes_b64"] is None


def test_eval_output_escapes_hostile_paths_and_ids(notes: Path, tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    run_json("--db", db, "index", notes, "--json")
    queries = tmp_path / "queries.jsonl"
    line = {"id": f"q{CLEAR}1", "query": "harbour crane", "relevant": [str(notes / "plain.txt")]}
    queries.write_text(json.dumps(line) + "\n")
    result = run("--db", db, "eval", queries, "--per-query")
    assert result.exit_code == 0, result.output
    assert not UNSAFE.search(result.output), repr(result.output)
    assert "q\\x1b[2J1" in result.stdout
    assert terminal_safe(str(notes / HOSTILE_NAME)) in result.stdout
    payload = run_json("--db", db, "eval", queries, "--json")
    [report] = payload["reports"]
    assert report["queries"][0]["id"] == f"q{CLEAR}1"


# -- non-UTF-8 names in JSON --------------------------------------------------------------


def test_non_utf8_hit_gives_bytes_that_open_the_file(tmp_path: Path) -> None:
    root, _raw = _raw_file(tmp_path, b"\xff\xfe espresso.txt", b"espresso and croissants")
    db = tmp_path / "c.db"
    run_json("--db", db, "index", root, "--json")
    [hit] = run_json("--db", db, "query", "espresso croissants", "-k", "1", "--json")["results"]
    assert hit["path"].endswith("\\xff\\xfe espresso.txt")  # the display form, as before
    with open(base64.b64decode(hit["path_bytes_b64"]), "rb") as handle:
        assert handle.read() == b"espresso and croissants"
    assert hit["copies"] == [] and hit["copies_bytes_b64"] == []
    plain = run("--db", db, "query", "espresso croissants", "-k", "1")
    assert "\\xff\\xfe espresso.txt" in plain.stdout


def test_non_utf8_root_in_status_json_gives_its_bytes(tmp_path: Path) -> None:
    raw_root = os.fsencode(tmp_path) + b"/caf\xe9"
    os.mkdir(raw_root)
    with open(raw_root + b"/a.txt", "wb") as handle:
        handle.write(b"some words here")
    db = tmp_path / "c.db"
    run_json("--db", db, "index", os.fsdecode(raw_root), "--json")
    [entry] = run_json("--db", db, "status", "--json")["roots"]
    assert entry["path"].endswith("caf\\xe9")
    assert base64.b64decode(entry["path_bytes_b64"]) == raw_root


def test_non_utf8_failed_file_in_index_json_gives_its_bytes(tmp_path: Path) -> None:
    root, raw = _raw_file(tmp_path, b"\xff poison.txt", b"this one carries the POISON marker")
    registry = make_registry(PoisonEncoder("raise"))
    with Library.open(tmp_path / "c.db", registry=registry) as lib:
        report = lib.index(root)
    [failed] = report.to_json()["failed"]
    assert failed["path"].endswith("\\xff poison.txt")
    assert base64.b64decode(failed["path_bytes_b64"]) == raw


# -- CLI quirks ---------------------------------------------------------------------------


def test_query_starting_with_a_dash_says_to_put_double_dash_first(tmp_path: Path) -> None:
    result = run("--db", tmp_path / "c.db", "query", "-people beach")
    assert result.exit_code == 2
    assert "A query starting with '-' needs `--` first:" in result.stderr
    assert "query -- '-people beach'" in result.stderr
    assert run("--db", tmp_path / "c.db", "query", "--typo", "x").exit_code == 2


def test_db_may_follow_the_command(notes: Path, tmp_path: Path) -> None:
    db = tmp_path / "after.db"
    assert run_json("index", notes, "--db", db, "--json")["indexed"] == 3
    assert db.exists()
    hits = run_json("query", "meadow sheep", "--db", db, "--json")["results"]
    assert hits[0]["path"] == str(notes / "plain.txt")
    assert run_json("status", "--json", "--db", db)["catalog"] == str(db)
    assert run_json("--db", db, "status", "--db", db, "--json")["catalog"] == str(db)
    queries = tmp_path / "q.jsonl"
    queries.write_text(json.dumps({"query": "meadow", "relevant": [str(notes / "plain.txt")]}))
    assert run_json("eval", queries, "--db", db, "--json")["reports"][0]["overall"]["queries"] == 1


def test_db_after_the_command_wins_over_the_environment(notes: Path, tmp_path: Path) -> None:
    db = tmp_path / "given.db"
    assert run("index", notes, "--db", db).exit_code == 0  # status only reads an existing one
    result = run("status", "--json", "--db", db, env={"MMSEARCH_DB": str(tmp_path / "env.db")})
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["catalog"] == str(db)


def test_two_different_db_values_are_a_usage_error(tmp_path: Path) -> None:
    result = run("--db", tmp_path / "a.db", "status", "--db", tmp_path / "b.db")
    assert result.exit_code == 2
    assert "--db" in result.stderr and "a.db" in result.stderr and "b.db" in result.stderr
    assert not (tmp_path / "a.db").exists() and not (tmp_path / "b.db").exists()


# -- no telemetry from onnxruntime --------------------------------------------------------

_OCR_SCRIPT = """
import numpy as np
from PIL import Image, ImageDraw, ImageFont
from mmsearch_ocr import OcrAnnotator
image = Image.new("RGB", (420, 80), "white")
ImageDraw.Draw(image).text((10, 10), "HELLO WORLD", fill="black",
                           font=ImageFont.load_default(size=36))
print(OcrAnnotator().read(image))
"""


def test_ocr_writes_no_onnxruntime_telemetry_under_the_home(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MMSEARCH_", "ORT_"))}
    env.update(HOME=str(home), XDG_CACHE_HOME=str(home / ".cache"))
    done = subprocess.run(
        [sys.executable, "-c", _OCR_SCRIPT], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert "HELLO WORLD" in done.stdout  # OCR did run, so onnxruntime was loaded
    written = sorted(str(p.relative_to(home)) for p in home.rglob("*"))
    assert written == [], written
