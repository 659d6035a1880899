"""The alembic migrations run from an installed wheel, not only from the source tree.

The migrations live in the repository's top-level ``migrations/`` folder and are
shipped as the package ``mmsearch.migrations`` (see ``package-dir`` in
pyproject.toml). This builds the core wheel from a copy of the repository,
installs it into a private folder, and creates a catalog with that copy, away
from the source tree and the editable install.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parent.parent
EXPECTED_TABLES = {"roots", "items", "segments", "spaces", "vectors", "settings", "segments_fts"}
SHIPPED = {
    "mmsearch/py.typed",
    "mmsearch/migrations/env.py",
    "mmsearch/migrations/script.py.mako",
    "mmsearch/migrations/versions/0001_initial.py",
}
_NOT_SOURCE = shutil.ignore_patterns(
    ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", "*.db*", "*.faiss"
)


def _copy_sources(dest: Path) -> None:
    """Copy the repository's tracked and untracked-but-not-ignored files to ``dest``.

    Building from a copy keeps build/ and *.egg-info out of the working tree.
    """
    listed = None
    if shutil.which("git") and (REPO / ".git").exists():
        result = subprocess.run(
            [
                "git",
                "-C",
                str(REPO),
                "ls-files",
                "-z",
                "--cached",
                "--others",
                "--exclude-standard",
            ],
            capture_output=True,
            check=False,
        )
        if result.returncode == 0:
            listed = [os.fsdecode(p) for p in result.stdout.split(b"\0") if p]
    if listed is None:
        shutil.copytree(REPO, dest, ignore=_NOT_SOURCE)
        return
    for rel in listed:
        src = REPO / rel
        if not src.is_file():  # deleted in the working tree but still tracked
            continue
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, target)


def _source_head() -> str:
    head = ScriptDirectory(str(REPO / "migrations")).get_current_head()
    assert head is not None
    return head


CHECK_SCRIPT = textwrap.dedent(
    """
    import json
    import sqlite3
    import sys
    from pathlib import Path

    site, db = sys.argv[1], sys.argv[2]
    sys.path.insert(0, site)

    import mmsearch
    import mmsearch.migrations
    from mmsearch.store.catalog import Catalog

    catalog = Catalog(Path(db))
    catalog.close()
    conn = sqlite3.connect(db)
    revision = conn.execute("SELECT version_num FROM alembic_version").fetchall()
    tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    conn.close()
    print(json.dumps({
        "mmsearch": mmsearch.__file__,
        "migrations": mmsearch.migrations.__file__,
        "revision": [r[0] for r in revision],
        "tables": tables,
    }))
    """
)


def test_migrations_run_from_an_installed_wheel(tmp_path: Path) -> None:
    src, dist, site = tmp_path / "src", tmp_path / "dist", tmp_path / "site"
    _copy_sources(src)

    build = subprocess.run(
        [
            sys.executable,
            "-m",
            "build",
            "--wheel",
            "--no-isolation",
            "--outdir",
            str(dist),
            str(src),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    wheels = sorted(dist.glob("mmsearch-*.whl"))
    assert len(wheels) == 1, wheels
    wheel = wheels[0]

    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    assert names >= SHIPPED, sorted(SHIPPED - names)
    # The scripts ship inside the package, not as a top-level "migrations" package.
    assert not any(n.startswith("migrations/") for n in names), sorted(names)

    install = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "--no-index",
            "--disable-pip-version-check",
            "--target",
            str(site),
            str(wheel),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert install.returncode == 0, install.stdout[-3000:] + install.stderr[-3000:]

    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "MMSEARCH_DB")}
    db = tmp_path / "fresh" / "catalog.db"
    run = subprocess.run(
        [sys.executable, "-c", CHECK_SCRIPT, str(site), str(db)],
        cwd=tmp_path,  # not the repository, so its folders cannot be imported by accident
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    seen = json.loads(run.stdout.strip().splitlines()[-1])

    # The installed copy ran, not the editable install of the source tree.
    assert Path(seen["mmsearch"]).is_relative_to(site), seen["mmsearch"]
    assert Path(seen["migrations"]).is_relative_to(site), seen["migrations"]
    assert seen["revision"] == [_source_head()]
    assert set(seen["tables"]) >= EXPECTED_TABLES, seen["tables"]


# --- Every first-party distribution, from wheels, into a fresh venv -----------------------

ALL = ("mmsearch[all]",)


def _first_party(src: Path) -> tuple[dict[str, Path], list[str]]:
    """Distribution name -> project folder for the core and every plugins/*/pyproject.toml,
    and the plugins that keep out of the `all` extra (``[tool.mmsearch] all = false``)."""
    import tomllib

    found, outside = {"mmsearch": src}, []
    for pyproject in sorted((src / "plugins").glob("*/pyproject.toml")):
        data = tomllib.loads(pyproject.read_text())
        found[data["project"]["name"]] = pyproject.parent
        if not data.get("tool", {}).get("mmsearch", {}).get("all", True):
            outside.append(data["project"]["name"])
    return found, outside


HOUSE = REPO / ".wheelhouse"
LOCAL = Path("/opt/pypi-more/files")
# scripts/setup's pin: the fresh venv must get this torch, from the local files.
PINS = ("torch==2.14.1", "torchvision==0.29.1")


def _wheel_sources() -> list[str]:
    """--find-links for the third-party wheels: scripts/wheelhouse's folder and the local pins.

    Without .wheelhouse/ the test cannot run offline: CI must fail (it forgot a step),
    anywhere else the test is skipped with what to run.
    """
    if not any(HOUSE.glob("*.whl")):
        reason = (
            f"{HOUSE} holds no wheels: run `.venv/bin/python scripts/wheelhouse` where there "
            "is network (CI does, in .ci/run), then this test installs offline from it"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    links = ["--find-links", str(HOUSE)]
    if LOCAL.is_dir():
        links += ["--find-links", str(LOCAL)]
    return links


@pytest.fixture
def fresh_venv(tmp_path: Path) -> Iterator[Path]:
    """Where the fresh venv goes; removed afterwards (torch and its CUDA wheels make ~7 GB)."""
    venv = tmp_path / "venv"
    yield venv
    shutil.rmtree(venv, ignore_errors=True)


def _run(args: list[str], *, cwd: Path, env: dict[str, str], timeout: int) -> str:
    done = subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert done.returncode == 0, f"{args}\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    return done.stdout


def test_all_wheels_install_offline_and_index_the_examples(
    tmp_path: Path, fresh_venv: Path
) -> None:
    """`pip install "mmsearch[all]"` from a folder of wheels, then the README's main job."""
    import mmsearch

    sources = _wheel_sources()
    src, dist, venv = tmp_path / "src", tmp_path / "wheels", fresh_venv
    _copy_sources(src)
    projects, outside_all = _first_party(src)
    # pip reads no configuration (find-links, extra indexes, constraints of this machine):
    # the wheels folder is the only source.
    drop = ("MMSEARCH_", "PYTHON", "PIP_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    env.update(
        PIP_CONFIG_FILE=os.devnull,
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        PIP_NO_INPUT="1",
        # The default encoder is picked as on a machine without network or cached weights.
        HF_HUB_OFFLINE="1",
        HF_HOME=str(tmp_path / "hf-home"),
        MMSEARCH_HOME=str(tmp_path / "home"),
    )
    pip = [sys.executable, "-m", "pip"]
    _run(
        [*pip, "wheel", "--no-deps", "--no-index", "--no-build-isolation", "-q", "-w", str(dist)]
        + [str(p) for p in projects.values()],
        cwd=tmp_path,
        env=env,
        timeout=900,
    )
    built = sorted(w.name.split("-")[0].replace("_", "-") for w in dist.glob("*.whl"))
    assert built == sorted(projects), built

    _run([sys.executable, "-m", "venv", str(venv)], cwd=tmp_path, env=env, timeout=300)
    python = venv / "bin" / "python"
    site = Path(
        _run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            cwd=tmp_path,
            env=env,
            timeout=60,
        ).strip()
    )
    # No .pth, no --system-site-packages: every third-party package, torch included, comes
    # from a wheel, so a requirement we forgot to declare fails to import below.
    pins = tmp_path / "pins.txt"
    pins.write_text("\n".join(PINS) + "\n")
    _run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "-q",
            "--no-index",
            "--find-links",
            str(dist),
            *sources,
            "-c",
            str(pins),
            *ALL,
            *outside_all,
        ],
        cwd=tmp_path,
        env=env,
        timeout=900,
    )

    where = json.loads(
        _run(
            [
                str(python),
                "-c",
                "import json, importlib; print(json.dumps({m: importlib.import_module(m).__file__"
                " for m in ('mmsearch', 'mmsearch_open_clip', 'mmsearch_ocr', 'torch')}))",
            ],
            cwd=tmp_path,
            env=env,
            timeout=120,
        )
    )
    assert all(Path(f).is_relative_to(site) for f in where.values()), where

    cli = str(venv / "bin" / "mmsearch")
    db = str(tmp_path / "catalog.db")
    report = json.loads(
        _run(
            [cli, "--db", db, "index", str(src / "examples" / "media"), "--json"],
            cwd=tmp_path,
            env=env,
            timeout=1200,
        )
    )
    media = src / "examples" / "media"
    assert report["indexed"] == sum(1 for p in media.rglob("*") if p.is_file()), report
    assert report["failed"] == [] and report["skipped"] == {}, report
    # No network and no cached CLIP weights: the offline space, from weights in wheels.
    assert report["space"].startswith("offline"), report
    found = json.loads(
        _run([cli, "--db", db, "query", "red car", "--json"], cwd=tmp_path, env=env, timeout=600)
    )
    top = [Path(hit["path"]).relative_to(media).as_posix() for hit in found["results"][:2]]
    assert top and top[0] in {"notes/garage.txt", "photos/red_car.png"}, top
    listed = json.loads(_run([cli, "plugins", "--json"], cwd=tmp_path, env=env, timeout=300))

    by_dist = {p["distribution"]: p for p in listed["plugins"] if p["distribution"]}
    assert listed["failed"] == [], listed
    for name in projects:
        if name == "mmsearch":
            continue
        assert name in by_dist, (
            f"{name} is under plugins/ but `pip install mmsearch[all]` did not install it: "
            "run `python scripts/versions.py --sync` (or give it [tool.mmsearch] all = false)",
            sorted(by_dist),
        )
        assert by_dist[name]["version"] == mmsearch.__version__, by_dist[name]
        assert by_dist[name]["error"] is None, by_dist[name]
