"""The warm CLI: query and status ask the running server, with the in-process output."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import MMSEARCH, Served, cli_env

from mmsearch.serve.discovery import running_server


def _run(served: Served, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*MMSEARCH, "--db", str(served.db), *args],
        capture_output=True, text=True, env=cli_env(served.db.parent), timeout=120,
    )  # fmt: skip


def test_query_and_status_print_the_same_through_the_server(served: Served) -> None:
    assert running_server(served.db) is not None
    for args in (["query", "red car"], ["query", "budget", "--type", "audio", "--show-weak"],
                 ["query", "zzqx nothing"], ["query", "red car", "--json"], ["status"],
                 ["query", "--image", str(served.media / "photos" / "red.png"), "-k", "2"],
                 ["query", "car", "--explain-plan"]):  # fmt: skip
        warm, cold = _run(served, *args), _run(served, *args, "--no-server")
        if "--json" in args:
            strip = '"timings_ms"'
            warm_out, cold_out = warm.stdout.split(strip)[0], cold.stdout.split(strip)[0]
        else:
            warm_out, cold_out = warm.stdout, cold.stdout
        assert (warm.returncode, warm_out, warm.stderr) == (cold.returncode, cold_out, cold.stderr)
    log = served.db.with_name("serve.log").read_text()
    assert "GET /api/v1/status 200" in log and "POST /api/v1/search 200" in log


def test_a_bad_query_is_the_same_usage_error_through_the_server(served: Served) -> None:
    warm, cold = (
        _run(served, "query", '"unclosed'),
        _run(served, "query", '"unclosed', "--no-server"),
    )
    assert warm.returncode == cold.returncode == 2
    assert warm.stderr == cold.stderr and "^" in warm.stderr


def test_the_client_imports_nothing_heavy() -> None:
    code = (
        "import sys; import mmsearch.serve.client, mmsearch.cli.render, mmsearch.shapes; "
        "heavy = [m for m in ('torch', 'faiss', 'sqlalchemy', 'fastapi', 'uvicorn', 'PIL') "
        "if m in sys.modules]; "
        "plugins = [m for m in sys.modules if m.startswith('mmsearch_')]; print(heavy, plugins)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[] []"


def test_a_query_the_server_answers_imports_no_model_store_or_plugin(served: Served) -> None:
    env = {**cli_env(served.db.parent), "PYTHONPROFILEIMPORTTIME": "1"}
    done = subprocess.run(
        [*MMSEARCH, "--db", str(served.db), "query", "red car"],
        capture_output=True, text=True, env=env, timeout=120, check=True,
    )  # fmt: skip
    imported = {line.split("|")[-1].strip() for line in done.stderr.splitlines() if "|" in line}
    assert "mmsearch.serve.client" in imported  # it went through the client
    heavy = {"torch", "faiss", "sqlalchemy", "PIL", "fastapi", "uvicorn", "mmsearch.library"}
    assert not imported & heavy
    assert not [m for m in imported if m.startswith("mmsearch_")]  # no plugin


def _imported(stderr: str) -> set[str]:
    return {line.split("|")[-1].strip() for line in stderr.splitlines() if "|" in line}


def test_the_entry_points_fast_path_answers_before_click_and_numpy(served: Served) -> None:
    env = {**cli_env(served.db.parent), "PYTHONPROFILEIMPORTTIME": "1"}
    for args in (["query", "red car"], ["status", "--json"]):
        done = subprocess.run(
            [*MMSEARCH, "--db", str(served.db), *args],
            capture_output=True, text=True, env=env, timeout=120, check=True,
        )  # fmt: skip
        imported = _imported(done.stderr)
        assert "mmsearch.serve.fastpath" in imported
        assert not imported & {"click", "numpy", "urllib.request", "mmsearch.cli.app"}, args


def test_every_form_the_fast_path_reads_prints_what_in_process_prints(served: Served) -> None:
    photos = served.media / "photos"
    for args in (
        ["query", "-k", "2", "car"],  # options before the text
        ["query", "car", "--type", "text", "--type", "image", "--in", str(served.media)],
        ["query", "budget", "--fusion=rrf", "--signals", "keyword", "--min-score", "-5"],
        ["query", "car", "--diverse", "--diversity", "0.5", "--temperature", "0.2"],
        ["query", "car", "--after", "2000-01-01", "--ext", "txt", "--path", "**"],
        ["query", "car", "--image", f"0.5:{photos / 'red.png'}", "--json"],
        ["query", "car", "--explain-plan", "--json"],
        ["query", "car", "--no-rerank", "attention", "--max-image-megapixels", "5"],
    ):
        warm, cold = _run(served, *args), _run(served, *args, "--no-server")
        strip = '"timings_ms"'
        assert (warm.returncode, warm.stdout.split(strip)[0], warm.stderr) == (
            cold.returncode, cold.stdout.split(strip)[0], cold.stderr
        ), args  # fmt: skip
    # --db after the command, in its --db=PATH form
    done = subprocess.run(
        [*MMSEARCH, "query", "red car", f"--db={served.db}"],
        capture_output=True, text=True, env=cli_env(served.db.parent), timeout=120,
    )  # fmt: skip
    assert done.stdout == _run(served, "query", "red car", "--no-server").stdout


def test_what_the_fast_path_does_not_read_runs_the_full_cli(served: Served) -> None:
    env = {**cli_env(served.db.parent), "PYTHONPROFILEIMPORTTIME": "1"}
    for args, code in (
        (["-v", "query", "red car"], 0),  # a group option it does not know
        (["query", "red car", "-k", "0"], 2),  # a value click refuses: click says why
        (["query", "red car", "--type", "photo"], 2),
        (["query", "red", "car"], 2),  # an extra argument
        (["query", "--", "red car"], 0),  # `--`
    ):
        done = subprocess.run(
            [*MMSEARCH, "--db", str(served.db), *args],
            capture_output=True, text=True, env=env, timeout=120,
        )  # fmt: skip
        assert done.returncode == code, (args, done.stderr[-500:])
        assert "mmsearch.cli.app" in _imported(done.stderr), args
    warm = _run(served, "-v", "query", "red car")
    assert warm.stdout == _run(served, "query", "red car", "--no-server").stdout
    assert "Error: Invalid value for '-k'" in _run(served, "query", "car", "-k", "0").stderr


def test_the_fast_path_declines_without_a_server_or_with_settings_it_cannot_see(
    tmp_path: Path, served: Served
) -> None:
    from mmsearch.serve.fastpath import answer

    missing = str(tmp_path / "none.db")
    assert answer(["--db", missing, "query", "red car"], {}) is None  # no server there
    db = str(served.db)
    assert answer(["--db", db, "query", "red car"], {"MMSEARCH_QUERY_K": "3"}) is None
    assert answer(["--db", db, "query", "red car", "--db", missing], {}) is None  # twice
    assert answer(["--db", db, "index", "x"], {}) is None
    assert answer(["--db", db, "query", "car", "--no-server"], {}) is None
    assert answer(["--db", str(tmp_path), "query", "car"], {}) is None  # a folder
    assert answer(["--db", db, "query", "   "], {}) is None  # click's usage error


def test_the_client_reads_a_chunked_reply() -> None:
    from mmsearch.serve.client import _unchunk

    assert _unchunk(b'4\r\n{"a"\r\n3;x=1\r\n: 1\r\n1\r\n}\r\n0\r\n\r\n') == b'{"a": 1}'


def test_the_fast_paths_option_table_is_the_query_commands() -> None:
    """The fast path reads `query` by its own copy of the command's options (it must not
    import click): each flag it reads is the click option of that name, taking a value or
    not, repeatable or not, with the same choices and bounds. An option added to the
    command and not to the copy only sends such queries through the full CLI; this names it."""
    import click

    from mmsearch.cli.app import cli
    from mmsearch.serve import fastpath

    command = cli.commands["query"]
    options = {o: p for p in command.params if isinstance(p, click.Option) for o in p.opts}
    values, flags = fastpath._QUERY_VALUES, fastpath._QUERY_FLAGS
    declined = {"--no-server", "--store"}  # the full CLI's alone, on purpose
    assert set(options) == set(values) | set(flags) | declined, "update fastpath's tables"
    for flag in flags:
        assert options[flag].is_flag, flag
    for flag, (name, parse) in values.items():
        option = options[flag]
        assert not option.is_flag, flag
        if flag != "--db":  # --db also comes before the command: the last one counts
            assert (name in fastpath._MULTIPLE) == option.multiple, flag
        kind = option.type
        if isinstance(kind, click.Choice):
            for choice in kind.choices:
                assert parse(str(choice)) == choice, flag
            with pytest.raises(fastpath._Decline):
                parse("no-such-choice")
        if isinstance(kind, click.IntRange | click.FloatRange):
            step = 1 if isinstance(kind, click.IntRange) else 0.001
            if kind.min is not None:
                below = kind.min if kind.min_open else kind.min - step
                with pytest.raises(fastpath._Decline):
                    parse(str(below))
                if not kind.min_open:
                    parse(str(kind.min))
            if kind.max is not None:
                parse(str(kind.max))
                with pytest.raises(fastpath._Decline):
                    parse(str(kind.max + step))
