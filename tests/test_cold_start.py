"""What a fresh process imports: a cold query loads only the text side, a run with nothing to
embed loads no model at all.

Each check runs the real ``mmsearch`` command in a fresh interpreter and reads its
``sys.modules`` at exit, so an import added anywhere on the path (the CLI, the library, a
plugin) shows up here, whatever the machine's speed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from support import save_image

from mmsearch import Library, migrations

TINY = "mmsearch-tiny:random"
MODEL_LIBRARIES = (
    "torch",
    "torchvision",
    "open_clip",
    "transformers",
    "sentence_transformers",
    "timm",
)
"""What a query must not import: the text side runs in onnxruntime."""
RUNTIMES = ("onnxruntime", "rapidocr_onnxruntime", "faster_whisper", "ctranslate2", "av")
"""What a run with nothing to read or embed must not import either (OCR, whisper)."""
MIGRATIONS = ("alembic",)
"""What opening a catalog already at the head revision must not import."""

_PROBE = """
import json, sys
from mmsearch.cli import main
sys.argv = ["mmsearch", *sys.argv[1:]]
code = 0
try:
    main()
except SystemExit as exc:
    code = exc.code or 0
heavy = {heavy!r}
found = sorted(m for m in heavy if m in sys.modules)
print("PROBE " + json.dumps({{"code": code, "heavy": found}}))
"""


def cold(*argv: str, heavy: tuple[str, ...]) -> tuple[int, list[str], str]:
    """Run ``mmsearch ARGV`` in a fresh interpreter: exit code, heavy modules, stdout."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    env.pop("MMSEARCH_ENCODER", None)
    done = subprocess.run(
        [sys.executable, "-c", _PROBE.format(heavy=heavy), *argv],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("PROBE ")]
    assert lines, done.stderr[-3000:]
    found = json.loads(lines[-1][len("PROBE ") :])
    return found["code"], found["heavy"], done.stdout + done.stderr


@pytest.fixture
def notes(tmp_path: Path) -> Path:
    root = tmp_path / "notes"
    root.mkdir()
    (root / "car.txt").write_text("a red car parked by the harbour\n")
    (root / "boat.txt").write_text("a small blue boat at sea\n")
    return root


def _seed(db: Path, folder: Path, encoder: str, model: str | None = None) -> None:
    """Index in this process, as a first run does: the torch model loads and leaves its ONNX
    text copy in MMSEARCH_HOME for the cold processes."""
    with Library.open(db) as lib:
        report = lib.index(folder, encoder=encoder, model=model)
    assert report.indexed >= 2 and not report.failed


@pytest.mark.parametrize("space", ["open-clip", "offline"])
def test_a_cold_query_imports_no_model_library_and_an_unchanged_rescan_no_runtime(
    space: str, notes: Path, tmp_path: Path
) -> None:
    db = tmp_path / "catalog.db"
    if space == "open-clip":
        save_image(notes / "red.png", (220, 20, 20))
        _seed(db, notes, "open-clip", TINY)
    else:
        _seed(db, notes, "offline")
    code, heavy, out = cold(
        "query", "red car", "--db", str(db), "--show-weak", heavy=MODEL_LIBRARIES + MIGRATIONS
    )
    assert code == 0, out
    assert "car.txt" in out
    assert heavy == [], f"a cold query on the {space} space imported {heavy}"
    code, heavy, out = cold(
        "index",
        str(notes),
        "--db",
        str(db),
        "--json",
        heavy=MODEL_LIBRARIES + RUNTIMES + MIGRATIONS,
    )
    assert code == 0, out
    assert '"indexed": 0' in out
    assert heavy == [], f"an unchanged re-scan on the {space} space imported {heavy}"


def test_indexing_an_empty_folder_into_a_new_library_loads_no_model(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    db = tmp_path / "catalog.db"
    code, heavy, out = cold(
        "index",
        str(empty),
        "--db",
        str(db),
        "--encoder",
        "open-clip",
        "--model",
        TINY,
        heavy=MODEL_LIBRARIES + RUNTIMES,
    )
    assert code == 0, out
    assert heavy == [], f"indexing an empty folder imported {heavy}"
    assert db.exists()


@pytest.mark.parametrize("command", [["--help"], ["status"]])
def test_help_and_status_import_no_model_library(
    command: list[str], notes: Path, tmp_path: Path
) -> None:
    db = tmp_path / "catalog.db"
    with Library.open(db) as lib:
        lib.index(notes, encoder="hash")
    heavy_ones = MODEL_LIBRARIES + RUNTIMES + MIGRATIONS
    code, heavy, out = cold(*command, "--db", str(db), heavy=heavy_ones)
    assert code == 0, out
    assert heavy == []


def test_the_head_revision_read_from_the_file_names_is_alembics() -> None:
    """Opening a catalog compares its revision with the newest migration file's number
    (no alembic import): every ``NNNN_what.py`` must hold revision ``"NNNN"``, in one line."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from mmsearch.store.database import head_by_name

    config = Config()
    config.set_main_option("script_location", str(Path(migrations.__file__).parent))
    script = ScriptDirectory.from_config(config)
    for revision in script.walk_revisions():
        assert Path(revision.path).name.startswith(f"{revision.revision}_"), revision.path
    assert head_by_name() == script.get_current_head()
