"""The warm CLI: query and status ask the running server, with the in-process output."""

from __future__ import annotations

import subprocess
import sys

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
