"""One version for every first-party distribution, and plugins made for another core refused.

The rule (scripts/versions.py): the core's ``__version__`` is the only version written by
hand; every plugin under plugins/ has it, declares ``mmsearch>=X.Y.Z,<X.(Y+1)``, and the
core's ``all`` extra pins each of them.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest

import mmsearch
from mmsearch.plugin_compat import core_mismatch
from mmsearch.plugins import load_plugins

REPO = Path(__file__).resolve().parent.parent


def test_every_first_party_distribution_follows_the_version_rule() -> None:
    run = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "versions.py")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr


def test_the_all_extra_names_every_plugin_folder() -> None:
    core = tomllib.loads((REPO / "pyproject.toml").read_text())
    extra = core["project"]["optional-dependencies"]["all"]
    names = set()
    for path in (REPO / "plugins").glob("*/pyproject.toml"):
        data = tomllib.loads(path.read_text())
        if data.get("tool", {}).get("mmsearch", {}).get("all", True):
            names.add(data["project"]["name"])
    assert {req.split("==")[0] for req in extra} == names
    assert all(req.endswith(f"=={mmsearch.__version__}") for req in extra), extra


def test_installed_metadata_carries_the_core_version() -> None:
    from importlib.metadata import version

    assert version("mmsearch") == mmsearch.__version__


def _fake_distribution(site: Path, requirement: str) -> None:
    """A plugin distribution on ``site`` that asks for ``requirement`` of the core."""
    (site / "future_plugin.py").write_text(
        textwrap.dedent(
            """
            from mmsearch import hookimpl
            IMPORTED = open(__file__ + ".imported", "w").close()

            @hookimpl
            def register_extractors(register):
                pass
            """
        )
    )
    info = site / "future_plugin-9.0.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: future-plugin\nVersion: 9.0.0\n"
        f"Requires-Dist: {requirement}\nRequires-Dist: pytest; extra == 'test'\n"
    )
    (info / "entry_points.txt").write_text("[mmsearch]\nfuture = future_plugin\n")


def test_a_plugin_built_for_another_core_is_refused_before_import(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_distribution(tmp_path, "mmsearch>=9.0,<10")
    monkeypatch.syspath_prepend(str(tmp_path))
    registry = load_plugins()
    info = registry.plugins["future"]
    assert info.error is not None
    assert "future-plugin 9.0.0 supports mmsearch>=9.0,<10" in info.error
    assert f"mmsearch {mmsearch.__version__} is installed; not loaded" in info.error
    assert "pip install" in info.error
    assert info in registry.failures
    assert not (tmp_path / "future_plugin.py.imported").exists()
    assert "future_plugin" not in sys.modules


def test_a_plugin_whose_range_includes_this_core_loads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_distribution(tmp_path, f"mmsearch>={mmsearch.__version__}")
    monkeypatch.syspath_prepend(str(tmp_path))
    registry = load_plugins()
    try:
        assert registry.plugins["future"].error is None
        assert (tmp_path / "future_plugin.py.imported").exists()
    finally:
        sys.modules.pop("future_plugin", None)


@pytest.mark.parametrize(
    ("specifier", "core", "allowed"),
    [
        (">=0.1.0,<0.2", "0.1.0", True),
        (">=0.1.0,<0.2", "0.1.7", True),
        (">=0.1.0,<0.2", "0.2", False),
        (">=0.1.0,<0.2", "0.0.9", False),
        (">=0.1", "0.1.0", True),
        ("==0.1", "0.1.0", True),
        ("!=0.1.0", "0.1", False),
        ("~=0.1.2", "0.1.9", True),  # not a plain clause: packaging answers
        ("~=0.1.2", "0.2.0", False),
        ("==0.1.*", "0.1.3", True),
        (">=0.1.0,<0.2", "0.1.1rc1", True),
        (">=0.1.0,<0.2", "0.2.0rc1", False),
    ],
)
def test_the_core_range_check_agrees_with_packaging(
    specifier: str, core: str, allowed: bool
) -> None:
    from packaging.specifiers import SpecifierSet
    from packaging.version import Version

    from mmsearch.plugin_compat import _allows

    assert _allows(specifier, core) is allowed
    assert SpecifierSet(specifier).contains(Version(core), prereleases=True) is allowed


def test_every_installed_first_party_plugin_accepts_this_core() -> None:
    from importlib.metadata import distribution

    for path in sorted((REPO / "plugins").glob("*/pyproject.toml")):
        name = tomllib.loads(path.read_text())["project"]["name"]
        assert core_mismatch(distribution(name)) is None, name
        assert core_mismatch(distribution(name), core="99.0") is not None, name
