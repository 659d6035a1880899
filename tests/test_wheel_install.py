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
