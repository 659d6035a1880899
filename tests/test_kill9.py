"""kill -9 in the middle of an index run, then run again.

The real CLI runs in a subprocess with a deliberately slow encoder plugin
(loaded through ``MMSEARCH_PLUGIN_MODULES``). Once some batches are committed,
the process is killed with SIGKILL. The catalog must then be intact, the FAISS
index rebuilt from it must hold exactly the vectors SQLite holds, the writer
lock must be free, and a second run must encode exactly the files the first one
did not commit.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pytest
from crashes import lock_is_free, sql_ids, tail
from support import make_registry

from mmsearch import Library
from mmsearch.store.locations import lock_path

pytestmark = pytest.mark.slow

N_FILES = 300
COMMIT_EVERY = 16
KILL_AFTER = 4 * COMMIT_EVERY  # a few whole batches committed, most of the run still to do
FIRST_SLEEP_S = 0.05  # per encoder call of 4 inputs: 75 calls, about 3.75 s of encoding
MAX_ATTEMPTS = 4  # each attempt that finishes before the kill doubles the sleep
POLL_S = 0.02
STARTUP_TIMEOUT_S = 180.0
RUN_TIMEOUT_S = 300.0

PLUGIN_SOURCE = '''
"""A deliberately slow, deterministic text encoder, loaded via MMSEARCH_PLUGIN_MODULES."""

from __future__ import annotations

import hashlib
import os
import re
import time
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import numpy as np

from mmsearch import Encoder, Modality, hookimpl


class SlowEncoder(Encoder):
    encoder_id: ClassVar[str] = "slow"
    modalities: ClassVar[frozenset[Modality]] = frozenset({"text"})
    dim: ClassVar[int] = 64
    batch_size: ClassVar[int] = 4

    def encode_batch(self, modality: Modality, contents: Sequence[Any]) -> Any:
        time.sleep(float(os.environ.get("SLOW_ENCODER_SLEEP", "0")))
        log = os.environ.get("SLOW_ENCODER_LOG")
        if log:
            with open(log, "a", encoding="utf-8") as handle:
                for content in contents:
                    for marker in re.findall(r"doc-[0-9]{4}", str(content)):
                        handle.write(marker + "\\n")
        rows = []
        for content in contents:
            digest = hashlib.sha256(str(content).encode("utf-8")).digest()
            rng = np.random.default_rng(int.from_bytes(digest[:8], "little"))
            row = rng.standard_normal(self.dim).astype(np.float32)
            rows.append(row / np.linalg.norm(row))
        return np.stack(rows).astype(np.float32)


@hookimpl
def register_encoders(register: Callable[[Encoder], None]) -> None:
    register(SlowEncoder())
'''


@dataclass
class Setup:
    media: Path
    db: Path
    plugin_dir: Path


def _write_media(root: Path) -> list[str]:
    root.mkdir(parents=True)
    markers = []
    for i in range(N_FILES):
        marker = f"doc-{i:04d}"
        markers.append(marker)
        (root / f"{marker}.txt").write_text(
            f"Note {marker}: the {['red', 'green', 'blue'][i % 3]} kite number {i} flew "
            f"over the harbour while the {['cat', 'dog', 'fox'][i % 3]} watched.\n"
        )
    return markers


def _load_plugin(plugin_dir: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "slow_encoder_for_kill9_test", plugin_dir / "slow_encoder.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _command(setup: Setup) -> list[str]:
    return [
        sys.executable,
        "-c",
        "from mmsearch.cli import main; main()",
        "--db",
        str(setup.db),
        "index",
        str(setup.media),
        "--encoder",
        "slow",
        "--batch-size",
        str(COMMIT_EVERY),
        "--json",
    ]


def _env(setup: Setup, sleep_s: float, log: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(setup.plugin_dir), *filter(None, [env.get("PYTHONPATH")])]
    )
    env["MMSEARCH_PLUGIN_MODULES"] = "slow_encoder"
    env["SLOW_ENCODER_SLEEP"] = f"{sleep_s:.4f}"
    env["SLOW_ENCODER_LOG"] = str(log)
    env.pop("MMSEARCH_DB", None)
    return env


def _committed(db: Path) -> int | None:
    """Items committed so far, read without writing; None while there is no catalog yet."""
    if not db.exists():
        return None
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1.0)
    except sqlite3.OperationalError:
        return None
    try:
        return int(conn.execute("SELECT COUNT(*) FROM items").fetchone()[0])
    except sqlite3.OperationalError:  # the schema is not there yet, or a busy moment
        return None
    finally:
        conn.close()


def _run_and_kill(setup: Setup, work: Path, sleep_s: float) -> tuple[int, int] | None:
    """Start an index run and SIGKILL it after a few batches.

    Returns (pid, committed items seen before the kill), or None when the run got
    to the end before it could be killed (the caller retries with a slower encoder).
    """
    out, err = work / "killed.out", work / "killed.err"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        proc = subprocess.Popen(
            _command(setup),
            env=_env(setup, sleep_s, work / "killed-encoder.log"),
            cwd=work,
            stdout=stdout,
            stderr=stderr,
        )
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while True:
            count = _committed(setup.db)
            if count is not None and count >= N_FILES:
                proc.wait(timeout=RUN_TIMEOUT_S)
                return None  # finished first: too fast for this machine
            if count is not None and count >= KILL_AFTER:
                os.kill(proc.pid, signal.SIGKILL)
                break
            if proc.poll() is not None:
                if proc.returncode == 0:
                    return None
                pytest.fail(
                    f"index run exited with {proc.returncode} before the kill:\n{tail(err)}"
                )
            if time.monotonic() > deadline:
                pytest.fail(f"no batch committed in {STARTUP_TIMEOUT_S:.0f} s:\n{tail(err)}")
            time.sleep(POLL_S)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL, tail(err)
    return proc.pid, count


def _check_faiss_matches_sql(setup: Setup, plugin: ModuleType) -> set[int]:
    """Open the library in-process; the active space's FAISS ids must equal SQLite's."""
    registry = make_registry(plugin.SlowEncoder())
    with Library.open(setup.db, registry=registry) as lib:
        space = lib.catalog.active_space()
        assert space is not None
        assert space.encoder_id == "slow"
        faiss_ids = lib.store(space).ids()
        in_sql = sql_ids(setup.db, space.id)
        assert faiss_ids == in_sql
        return in_sql


def _items(db: Path) -> dict[str, str]:
    conn = sqlite3.connect(db)
    try:
        return {
            relpath.decode(): status
            for relpath, status in conn.execute("SELECT relpath, status FROM items")
        }
    finally:
        conn.close()


def test_kill_9_mid_index_then_resume(tmp_path: Path) -> None:
    plugin_dir = tmp_path / "plugin"
    plugin_dir.mkdir()
    (plugin_dir / "slow_encoder.py").write_text(PLUGIN_SOURCE)
    plugin = _load_plugin(plugin_dir)
    markers = _write_media(tmp_path / "media")

    # -- run, and kill -9 after a few committed batches -----------------------
    killed: tuple[int, int] | None = None
    sleep_s = FIRST_SLEEP_S
    tried: list[float] = []
    for attempt in range(MAX_ATTEMPTS):
        work = tmp_path / f"attempt-{attempt}"
        work.mkdir()
        setup = Setup(tmp_path / "media", work / "catalog" / "catalog.db", plugin_dir)
        tried.append(sleep_s)
        killed = _run_and_kill(setup, work, sleep_s)
        if killed is not None:
            break
        # This machine outran the kill: slow the encoder down rather than flake.
        sleep_s = max(2 * sleep_s, FIRST_SLEEP_S, 0.05)
    assert killed is not None, (
        f"every run finished before it could be killed (sleeps tried: {tried})"
    )
    pid, seen_before_kill = killed

    # -- the catalog survived -------------------------------------------------
    conn = sqlite3.connect(setup.db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    finally:
        conn.close()
    committed = _items(setup.db)
    assert seen_before_kill <= len(committed) < N_FILES
    # Batches are all-or-nothing: only whole batches, and only finished files.
    assert len(committed) % COMMIT_EVERY == 0, len(committed)
    assert set(committed.values()) == {"done"}

    # -- the writer lock died with the process ----------------------------------
    # The lock file still names the killed writer (it never got to clear it), but
    # flock is released by the kernel, so the lock can be taken at once.
    lock = lock_path(setup.db)
    assert f"pid {pid} " in lock.read_text()
    assert lock_is_free(lock)

    # -- FAISS, rebuilt from SQLite, holds exactly SQLite's vectors -------------
    ids_after_kill = _check_faiss_matches_sql(setup, plugin)
    assert len(ids_after_kill) == len(committed)  # one short chunk per file

    # -- the same command again, to the end: only unfinished files are encoded --
    rerun_log = setup.db.parent.parent / "rerun-encoder.log"
    result = subprocess.run(
        _command(setup),
        env=_env(setup, 0.0, rerun_log),
        cwd=setup.db.parent.parent,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]  # no stale lock, no damage
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["indexed"] == N_FILES - len(committed)
    assert summary["unchanged"] == len(committed)
    assert summary["moved"] == 0
    assert summary["removed"] == 0
    assert summary["failed"] == []
    assert summary["skipped"] == {}

    encoded_again = re.findall(r"doc-[0-9]{4}", rerun_log.read_text())
    unfinished = sorted(m for m in markers if f"{m}.txt" not in committed)
    assert sorted(encoded_again) == unfinished

    # -- everything is done, and FAISS and SQLite agree again -------------------
    final = _items(setup.db)
    assert final == {f"{m}.txt": "done" for m in markers}
    ids_final = _check_faiss_matches_sql(setup, plugin)
    assert ids_after_kill <= ids_final  # committed files kept their vectors
    assert len(ids_final) == N_FILES
