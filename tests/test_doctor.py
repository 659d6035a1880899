"""``mmsearch doctor``: one report, exit 0 when fine, 1 with the first thing to fix."""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from mmsearch.cli.app import cli

CHECKS = ["versions", "plugins", "encoders", "catalog", "disk", "server", "torch", "telemetry"]


def doctor(db: Path, *args: str) -> tuple[int, dict[str, Any]]:
    result = CliRunner().invoke(cli, ["--db", str(db), "doctor", "--json", *args])
    return result.exit_code, json.loads(result.stdout)


def by_name(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in report["checks"]}


@pytest.fixture
def indexed(tmp_path: Path, media: Path) -> Path:
    db = tmp_path / "catalog" / "catalog.db"
    done = CliRunner().invoke(cli, ["--db", str(db), "index", str(media)])
    assert done.exit_code == 0, done.output
    return db


def test_a_healthy_installation_and_catalog_exit_0(indexed: Path) -> None:
    code, report = doctor(indexed)
    assert code == 0, report["first_problem"]
    assert [c["name"] for c in report["checks"]] == CHECKS
    checks = by_name(report)
    assert checks["catalog"]["state"] == "ok" and str(indexed) in checks["catalog"]["summary"]
    assert "5 files" in checks["catalog"]["details"][0]
    assert any(d.startswith("hash-encoder") for d in checks["plugins"]["details"])
    assert checks["server"]["summary"] == "no server running for this catalog"
    assert "GB free" in checks["disk"]["summary"]
    assert report["ok"] is True and report["first_problem"] is None


def test_no_catalog_yet_is_a_warning_that_says_what_to_run(tmp_path: Path) -> None:
    db = tmp_path / "nothing" / "catalog.db"
    code, report = doctor(db)
    catalog = by_name(report)["catalog"]
    assert code == 0 and catalog["state"] == "warn"
    assert "mmsearch index FOLDER" in catalog["fix"]
    assert not db.exists()  # doctor creates nothing


def test_a_damaged_catalog_fails_with_what_to_do(tmp_path: Path) -> None:
    db = tmp_path / "catalog.db"
    db.write_bytes(b"SQLite format 3\x00" + os.urandom(4096))
    code, report = doctor(db)
    assert code == 1
    assert report["first_problem"]["name"] == "catalog"
    assert str(db) in report["first_problem"]["summary"]


def test_a_plugin_that_does_not_load_is_the_first_thing_to_fix(
    indexed: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MMSEARCH_PLUGIN_MODULES", "no_such_plugin_module")
    code, report = doctor(indexed)
    assert code == 1
    first = report["first_problem"]
    assert first["name"] == "plugins"
    assert "no_such_plugin_module" in first["fix"] and "ModuleNotFoundError" in first["fix"]
    result = CliRunner().invoke(cli, ["--db", str(indexed), "doctor"])
    assert "warning: plugin" not in result.stderr  # said once, in the report


def test_no_encoder_that_can_run_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MMSEARCH_LOAD_PLUGINS", "images,text")
    code, report = doctor(tmp_path / "catalog.db")
    assert code == 1
    assert report["first_problem"]["name"] == "encoders"
    assert "mmsearch models list" in report["first_problem"]["fix"]


@pytest.fixture
def listening() -> Iterator[socket.socket]:
    server = socket.create_server(("127.0.0.1", 0))
    try:
        yield server
    finally:
        server.close()


def test_a_server_running_for_this_catalog_is_named(
    indexed: Path, listening: socket.socket
) -> None:
    discovery = pytest.importorskip("mmsearch.serve.discovery")
    port = listening.getsockname()[1]
    info = discovery.ServerInfo("127.0.0.1", port, os.getpid(), "token", str(indexed))
    discovery.write_discovery(info)
    code, report = doctor(indexed)
    server = by_name(report)["server"]
    assert code == 0
    assert f"running for this catalog at http://127.0.0.1:{port}" in server["summary"]
    listening.close()
    _, report = doctor(indexed)
    assert by_name(report)["server"]["summary"] == "no server running for this catalog"


def test_a_device_setting_this_machine_cannot_meet_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU: MMSEARCH_DEVICE=cuda is met")
    monkeypatch.setenv("MMSEARCH_DEVICE", "cuda")
    code, report = doctor(tmp_path / "catalog.db")
    assert code == 1
    torch_check = by_name(report)["torch"]
    assert torch_check["state"] == "fail" and "MMSEARCH_DEVICE=cuda" in torch_check["fix"]


def test_telemetry_turned_back_on_is_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ORT_DISABLE_TELEMETRY", "0")
    _, report = doctor(tmp_path / "catalog.db")
    telemetry = by_name(report)["telemetry"]
    assert telemetry["state"] == "warn" and "ON" in telemetry["summary"]


def test_the_plain_report_ends_with_the_first_thing_to_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MMSEARCH_LOAD_PLUGINS", "images,text")
    result = CliRunner().invoke(cli, ["--db", str(tmp_path / "c.db"), "doctor"])
    assert result.exit_code == 1
    assert result.stdout.splitlines()[-1].startswith("First thing to fix (encoders):")
    assert "FAIL encoders: no installed encoder can run here" in result.output
