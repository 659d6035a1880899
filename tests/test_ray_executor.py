"""``--executor ray``: extraction and encoding as a Ray Data job on a local cluster, the
writer committing as locally. Same catalog content as the local run, a worker killed
mid-job, bad files skipped on a worker with the local reasons."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mmsearch import Library
from mmsearch.index.indexer import IndexOptions
from mmsearch.index.progress import IndexProgress
from mmsearch.plugins import load_plugins
from tests.support import save_image

ray = pytest.importorskip("ray", reason="the ray extra (pip install 'mmsearch[ray]')")

from mmsearch.index.ray_executor import RayExecutor  # noqa: E402

HERE = Path(__file__).parent


@pytest.fixture(scope="module")
def ray_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A local two-CPU Ray cluster for the module; workers load the kill-once test plugin."""
    flag = tmp_path_factory.mktemp("ray-flags") / "killed"
    env = {
        "MMSEARCH_PLUGIN_MODULES": "ray_kill_plugin",
        "MMSEARCH_TEST_KILL_FLAG": str(flag),
        "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
    }
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": env})  # fmt: skip
    try:
        yield flag
    finally:
        ray.shutdown()


def make_media(root: Path) -> Path:
    """Images, texts, and files a worker must skip: empty, truncated, binary."""
    for n, colour in enumerate([(220, 20, 20), (20, 200, 30), (20, 20, 220), (200, 200, 0)]):
        save_image(root / "photos" / f"p{n}.png", colour)
    for n in range(12):
        (root / "notes" / f"n{n:02d}.txt").parent.mkdir(parents=True, exist_ok=True)
        (root / "notes" / f"n{n:02d}.txt").write_text(
            f"note {n}: " + "the red car and the sea " * (n + 1)
        )
    (root / "bad").mkdir()
    (root / "bad" / "empty.jpg").write_bytes(b"")
    good = (root / "photos" / "p0.png").read_bytes()
    (root / "bad" / "truncated.png").write_bytes(good[: len(good) // 2])
    (root / "bad" / "binary.txt").write_bytes(bytes(range(256)) * 8)
    return root


def index(db: Path, folder: Path, executor: Any = None, on_progress: Any = None) -> Any:
    options = IndexOptions(commit_every=5, executor=executor)
    with Library.open(db, registry=load_plugins()) as lib:
        return lib.index(folder, encoder="hash", options=options, on_progress=on_progress)


def catalog_content(db: Path) -> dict[bytes, Any]:
    """Each file's status, reason and segments (kind, text, spans, vector)."""
    conn = sqlite3.connect(db)
    found: dict[bytes, Any] = {}
    items = conn.execute("SELECT id, relpath, status, reason, media_type FROM items")
    for item_id, relpath, status, reason, media in items.fetchall():
        segments = conn.execute(
            'SELECT s.kind, s.text, s.start, s."end", s.char_start, s.char_end, v.data '
            "FROM segments s LEFT JOIN vectors v ON v.segment_id = s.id "
            "WHERE s.item_id = ? ORDER BY s.ordinal", (item_id,),
        ).fetchall()  # fmt: skip
        found[bytes(relpath)] = (status, reason, media, segments)
    conn.close()
    return found


def test_ray_gives_the_local_runs_catalog(ray_cluster: Path, tmp_path: Path) -> None:
    """Same files, statuses, reasons and segments; vectors equal within float tolerance."""
    folder = make_media(tmp_path / "media")
    local = index(tmp_path / "local.db", folder)
    seen: list[IndexProgress] = []
    remote = index(tmp_path / "ray.db", folder, RayExecutor(), seen.append)
    assert (remote.indexed, remote.segments) == (local.indexed, local.segments)
    # The tracker hears the workers' stages: files extracted and batches embedded there.
    stages = [snap.stage for snap in seen]
    assert "extract" in stages and "embed" in stages and stages[-1] == "done"
    assert stages.index("extract") < stages.index("embed") < stages.index("commit")
    extracted = [snap.extracted for snap in seen]
    assert extracted == sorted(extracted) and extracted[-1] == 19
    assert all(0 < snap.batch <= 16 for snap in seen if snap.stage == "embed")
    mine, theirs = catalog_content(tmp_path / "local.db"), catalog_content(tmp_path / "ray.db")
    assert mine.keys() == theirs.keys() and len(mine) == 19
    for path, (status, reason, media, segments) in mine.items():
        other = theirs[path]
        assert (status, reason, media) == other[:3], path
        assert [s[:6] for s in segments] == [s[:6] for s in other[3]], path
        for ours, remote_row in zip(segments, other[3], strict=True):
            a = np.frombuffer(ours[6], dtype=np.float32)
            b = np.frombuffer(remote_row[6], dtype=np.float32)
            assert np.allclose(a, b, atol=1e-6), path


def test_a_bad_file_on_a_worker_is_skipped_with_its_reason_like_locally(
    ray_cluster: Path, tmp_path: Path
) -> None:
    """Empty, truncated and binary files: skipped on the worker, counted by reason."""
    folder = make_media(tmp_path / "media")
    local = index(tmp_path / "local.db", folder)
    remote = index(tmp_path / "ray.db", folder, RayExecutor())

    def reasons(report: Any) -> list[tuple[str, str]]:
        return sorted((p.path, p.reason) for p in report.skipped + report.failed)

    assert reasons(remote) == reasons(local) and len(reasons(local)) == 3
    # and nothing of them reaches the catalog as done
    content = catalog_content(tmp_path / "ray.db")
    assert all(content[p][0] != "done" for p in content if p.startswith(b"bad/"))


def test_a_worker_killed_mid_job_loses_and_doubles_nothing(
    ray_cluster: Path, tmp_path: Path
) -> None:
    """Ray restarts the actor and runs its batch again: every file once, all done."""
    folder = tmp_path / "media"
    folder.mkdir()
    for n in range(40):
        marker = "KILL-WORKER " if n == 17 else ""
        (folder / f"t{n:02d}.txt").write_text(f"{marker}text number {n} about boats\n")
    report = index(tmp_path / "ray.db", folder, RayExecutor())
    assert ray_cluster.exists(), "the worker was killed"
    assert report.indexed == 40 and not report.failed and not report.skipped
    conn = sqlite3.connect(tmp_path / "ray.db")
    rows = conn.execute("SELECT count(*), count(DISTINCT item_id) FROM segments").fetchone()
    vectors = conn.execute("SELECT count(*) FROM vectors").fetchone()[0]
    conn.close()
    assert rows == (40, 40) and vectors == 40
