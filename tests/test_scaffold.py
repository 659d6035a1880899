"""``mmsearch plugin new``: the names it derives, the files it writes, and a generated plugin
that installs with pip (local paths only, no network) and passes its own tests."""

from __future__ import annotations

import fnmatch
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from mmsearch.cli import cli
from mmsearch.cli.scaffold import Kind, PluginNames, create_plugin, render
from mmsearch.errors import UsageError

REPO = Path(__file__).resolve().parent.parent
TEMPLATES = REPO / "mmsearch" / "templates" / "plugin"


@pytest.mark.parametrize(
    ("name", "dist", "package", "prefix"),
    [
        ("weather", "mmsearch-weather", "mmsearch_weather", "Weather"),
        ("weather-csv", "mmsearch-weather-csv", "mmsearch_weather_csv", "WeatherCsv"),
        ("sensor_log2", "mmsearch-sensor-log2", "mmsearch_sensor_log2", "SensorLog2"),
        ("mmsearch-gpx", "mmsearch-gpx", "mmsearch_gpx", "Gpx"),
    ],
)
def test_names_are_derived_from_one_name(name: str, dist: str, package: str, prefix: str) -> None:
    names = PluginNames.from_name(name)
    assert (names.dist, names.package, names.prefix) == (dist, package, prefix)


@pytest.mark.parametrize("bad", ["", "Weather", "2d", "my plugin", "a--b", "x-", "café", "../x"])
def test_a_bad_name_is_a_usage_error(bad: str) -> None:
    with pytest.raises(UsageError, match="lower-case letters"):
        PluginNames.from_name(bad)


@pytest.mark.parametrize("kind", ["extractor", "encoder"])
def test_every_placeholder_is_filled(kind: Kind) -> None:
    files = render(PluginNames.from_name("weather"), kind)
    assert set(files) == {
        "pyproject.toml",
        "README.md",
        "mmsearch_weather/__init__.py",
        "mmsearch_weather/py.typed",
        "tests/test_mmsearch_weather.py",
    }
    for text in files.values():
        assert "${" not in text and "$name" not in text
    pyproject = tomllib.loads(files["pyproject.toml"])
    assert pyproject["project"]["entry-points"]["mmsearch"] == {"weather": "mmsearch_weather"}
    assert pyproject["project"]["name"] == "mmsearch-weather"
    compile(files["mmsearch_weather/__init__.py"], "plugin", "exec")
    compile(files["tests/test_mmsearch_weather.py"], "test", "exec")


def test_the_cli_writes_the_plugin_and_refuses_to_overwrite(tmp_path: Path) -> None:
    runner = CliRunner()
    first = runner.invoke(cli, ["plugin", "new", "gpx", "--dir", str(tmp_path)])
    assert first.exit_code == 0, first.output
    assert (tmp_path / "mmsearch-gpx" / "mmsearch_gpx" / "__init__.py").is_file()
    assert "pip install -e" in first.output
    again = runner.invoke(cli, ["plugin", "new", "gpx", "--dir", str(tmp_path)])
    assert again.exit_code == 2
    assert "already exists" in again.output
    bad = runner.invoke(cli, ["plugin", "new", "Bad Name", "--dir", str(tmp_path)])
    assert bad.exit_code == 2 and "lower-case letters" in bad.output


def test_the_templates_ship_in_the_wheel() -> None:
    """Every template is package data, or `plugin new` fails from a wheel install."""
    setuptools = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert "mmsearch.templates.plugin" in setuptools["packages"]
    patterns = setuptools["package-data"]["mmsearch.templates.plugin"]
    templates = [p.name for p in TEMPLATES.iterdir() if p.is_file()]
    assert len(templates) == 6
    for template in templates:
        assert any(fnmatch.fnmatch(template, pattern) for pattern in patterns), template


# -- a generated plugin, installed and tested like a third party's ---------------------------


def _run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Both kinds of plugin generated, and pip-installed into one private folder."""
    root = tmp_path_factory.mktemp("scaffold")
    for name, kind in (("kitgen-csv", "extractor"), ("kitgen-trigrams", "encoder")):
        create_plugin(name, root, kind)  # type: ignore[arg-type]
    site = root / "site"
    done = _run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "--no-index",
            "--no-build-isolation",
            "--disable-pip-version-check",
            "--quiet",
            "--target",
            str(site),
            str(root / "mmsearch-kitgen-csv"),
            str(root / "mmsearch-kitgen-trigrams"),
        ],
        cwd=root,
        env=dict(os.environ),
    )
    assert done.returncode == 0, done.stderr
    return root, site


@pytest.mark.slow
@pytest.mark.parametrize(
    ("dist", "package", "at_least"),
    [
        ("mmsearch-kitgen-csv", "mmsearch_kitgen_csv", 11),
        ("mmsearch-kitgen-trigrams", "mmsearch_kitgen_trigrams", 15),
    ],
)
def test_a_generated_plugin_installs_and_passes_its_tests(
    installed: tuple[Path, Path], dist: str, package: str, at_least: int
) -> None:
    root, site = installed
    env = {k: v for k, v in os.environ.items() if not k.startswith("MMSEARCH_")}
    env["PYTHONPATH"] = str(site)
    env["MMSEARCH_HOME"] = str(root / "home")
    # From another folder, so the package is imported from the install, not the source.
    elsewhere = root / "elsewhere"
    elsewhere.mkdir(exist_ok=True)
    where = _run(
        [sys.executable, "-c", f"import {package}; print({package}.__file__)"], elsewhere, env
    )
    assert where.stdout.startswith(str(site)), where.stdout + where.stderr
    project = root / dist
    done = _run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--rootdir",
            str(project),
            str(project / "tests"),
        ],
        elsewhere,
        env,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    summary = done.stdout.strip().splitlines()[-1]
    passed = int(summary.split(" passed")[0].split()[-1])
    assert passed >= at_least and "failed" not in summary, summary


@pytest.mark.skipif(
    shutil.which("ruff") is None and not (Path(sys.executable).parent / "ruff").exists(),
    reason="ruff is not installed",
)
def test_generated_code_is_lint_clean(tmp_path: Path) -> None:
    ruff = shutil.which("ruff") or str(Path(sys.executable).parent / "ruff")
    for name, kind in (
        ("lint-csv-readers-for-tables", "extractor"),
        ("lint-trigram-embeddings", "encoder"),
    ):
        project = create_plugin(name, tmp_path, kind)  # type: ignore[arg-type]
        for command in (["check", "."], ["format", "--check", "."]):
            done = subprocess.run([ruff, *command], cwd=project, capture_output=True, text=True)
            assert done.returncode == 0, done.stdout + done.stderr
