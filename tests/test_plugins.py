"""Plugin loading: entry points, the allowlist, and plugins that break."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from mmsearch.cli import cli
from mmsearch.plugins import BUILT_IN_PLUGIN, load_plugins

FIRST_PARTY = {"images", "text", "hash-encoder"}


@pytest.fixture
def plugin_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A folder on sys.path for throwaway plugin modules."""
    folder = tmp_path / "plugin_src"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))
    yield folder
    for name in [m for m in sys.modules if m.startswith("mmsearch_testplugin_")]:
        del sys.modules[name]


def _write(folder: Path, name: str, body: str) -> str:
    (folder / f"{name}.py").write_text(body)
    return name


def test_first_party_plugins_load_through_entry_points() -> None:
    registry = load_plugins()
    assert set(registry.plugins) >= FIRST_PARTY
    assert {e.name for e in registry.extractors} >= {"pillow-image", "plain-text"}
    assert "hash" in registry.encoders
    assert registry.failures == []


def test_core_never_imports_plugins_by_name() -> None:
    core = Path(__file__).parents[1] / "mmsearch"
    for source in core.rglob("*.py"):
        text = source.read_text()
        for package in ("mmsearch_images", "mmsearch_text", "mmsearch_hash_encoder"):
            assert package not in text, f"{source} names {package}"


def test_allowlist_limits_what_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MMSEARCH_LOAD_PLUGINS", "text")
    registry = load_plugins()
    assert set(registry.plugins) == {BUILT_IN_PLUGIN, "text"}
    assert [e.name for e in registry.extractors] == ["plain-text"]


def test_empty_allowlist_loads_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MMSEARCH_LOAD_PLUGINS", "")
    registry = load_plugins()
    assert set(registry.plugins) == {BUILT_IN_PLUGIN} and registry.encoders == {}
    assert registry.extractors == [], "only the core's built-in rerankers remain"


def test_plugin_that_fails_to_import_is_listed_and_the_cli_still_works(
    plugin_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = _write(plugin_dir, "mmsearch_testplugin_broken", "raise ImportError('no libfoo')\n")
    monkeypatch.setenv("MMSEARCH_PLUGIN_MODULES", name)
    result = CliRunner().invoke(cli, ["plugins", "--json"], catch_exceptions=False)
    assert result.exit_code == 0
    payload = json.loads(result.stdout)
    assert payload["failed"] == [name]
    broken = next(p for p in payload["plugins"] if p["name"] == name)
    assert broken["error"] == "ImportError: no libfoo"
    assert {p["name"] for p in payload["plugins"] if not p["error"]} >= FIRST_PARTY


def test_misspelled_hook_fails_loudly(plugin_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    name = _write(
        plugin_dir,
        "mmsearch_testplugin_typo",
        "from mmsearch import hookimpl\n\n@hookimpl\ndef register_encoder(register):\n    pass\n",
    )
    monkeypatch.setenv("MMSEARCH_PLUGIN_MODULES", name)
    registry = load_plugins()
    error = registry.plugins[name].error or ""
    assert "register_encoder" in error and "unknown hook" in error


def test_plugin_raising_at_registration_leaves_nothing_behind(
    plugin_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = _write(
        plugin_dir,
        "mmsearch_testplugin_halfway",
        "from mmsearch import hookimpl\n"
        "from mmsearch_text import PlainTextExtractor\n\n"
        "class Again(PlainTextExtractor):\n    name = 'again'\n\n"
        "@hookimpl\ndef register_extractors(register):\n    register(Again())\n\n"
        "@hookimpl\ndef register_encoders(register):\n    raise RuntimeError('weights missing')\n",
    )
    monkeypatch.setenv("MMSEARCH_PLUGIN_MODULES", name)
    registry = load_plugins()
    assert "weights missing" in (registry.plugins[name].error or "")
    assert "again" not in {e.name for e in registry.extractors}
    assert registry.plugins[name].provides == {}


def test_trace_prints_each_registration(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MMSEARCH_TRACE_PLUGINS", "1")
    load_plugins()
    err = capsys.readouterr().err
    assert "[mmsearch plugins] text: registered extractor plain-text" in err


def test_plugin_commands_are_added(plugin_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    name = _write(
        plugin_dir,
        "mmsearch_testplugin_cmd",
        "import click\nfrom mmsearch import hookimpl\n\n"
        "@hookimpl\ndef register_commands(cli):\n"
        "    @cli.command()\n    def hello():\n        click.echo('hello from a plugin')\n",
    )
    monkeypatch.setenv("MMSEARCH_PLUGIN_MODULES", name)
    import click

    from mmsearch.cli.app import _add_plugin_commands

    group = click.Group(commands=dict(cli.commands), callback=cli.callback, params=cli.params)
    _add_plugin_commands(group)
    result = CliRunner().invoke(group, ["hello"], catch_exceptions=False)
    assert result.output == "hello from a plugin\n"


def test_registration_does_not_load_weights() -> None:
    registry = load_plugins()
    encoder = registry.encoders["hash"]
    assert "_projection" not in vars(encoder), "weights must load on first use"
