"""The Milvus store end to end through the CLI: index, query, move, remove, a server lost
mid-run, and the rebuild command; results checked against the FAISS store's exact ones."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from milvus_server import MilvusServer

CLI = str(Path(sys.executable).with_name("mmsearch"))
HERE = Path(__file__).parent
QUERIES = ("red car", "blue sky", "meeting notes")
TOPICS = (
    "red car garage brakes",
    "blue sky over the sea",
    "invoice 4471 payment due",
    "a cat asleep on the sofa",
    "meeting notes budget review",
    "train timetable monday",
)


def run(
    *args: str, env: dict[str, str] | None = None, ok: bool = True
) -> subprocess.CompletedProcess[str]:
    """``mmsearch ARGS`` in a subprocess (as a user runs it); checks the exit code when ``ok``."""
    done = subprocess.run([CLI, *args], capture_output=True, text=True, env=env, timeout=600)
    if ok:
        assert done.returncode == 0, done.stderr
    return done


def make_folder(root: Path, count: int = 24) -> Path:
    """Text files on a few topics (distinct, so each query has clear winners)."""
    root.mkdir(parents=True)
    for n in range(count):
        words = TOPICS[n % len(TOPICS)]
        (root / f"note-{n:03d}.txt").write_text(f"{words}. Note number {n}, {words} again.\n")
    return root


def top(db: Path, query: str, *extra: str) -> list[tuple[str, float]]:
    """The top hits of a query (path, score), weak ones included."""
    done = run("query", query, "--db", str(db), "-k", "5", "--json", "--show-weak", *extra)
    return [(hit["path"], round(hit["score"], 4)) for hit in json.loads(done.stdout)["results"]]


def status(db: Path) -> dict[str, Any]:
    """``mmsearch status --json``."""
    found: dict[str, Any] = json.loads(run("status", "--db", str(db), "--json").stdout)
    return found


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return make_folder(tmp_path / "media")


def test_milvus_gives_the_same_top_results_as_faiss_through_index_query_move_remove(
    tmp_path: Path, folder: Path
) -> None:
    """Two catalogs of one folder, FAISS and Milvus Lite: the same hits after every change."""
    faiss_db, milvus_db = tmp_path / "faiss.db", tmp_path / "milvus.db"
    lite = tmp_path / "lite" / "milvus.db"

    def index_both() -> None:
        run("index", str(folder), "--encoder", "hash", "--db", str(faiss_db))
        run("index", str(folder), "--encoder", "hash", "--db", str(milvus_db),
            "--store", "milvus", "--milvus-uri", str(lite))  # fmt: skip

    def same_results() -> None:
        for query in QUERIES:
            assert top(milvus_db, query) == top(faiss_db, query), query
        # type and date filters are pushed into Milvus; path globs go through allow-lists
        assert top(milvus_db, "red car type:text") == top(faiss_db, "red car type:text")
        assert top(milvus_db, "invoice path:**/note-00*") == top(
            faiss_db, "invoice path:**/note-00*"
        )
        assert top(milvus_db, "invoice type:image") == top(faiss_db, "invoice type:image") == []

    index_both()
    # The plan says who filters: Milvus for type/date (no SQL allow-list), SQL for a glob.
    pushed = run("query", "red car type:text", "--db", str(milvus_db), "--explain-plan").stdout
    assert "filters (in the milvus store;" in pushed and "segments pass" not in pushed
    assert "that the store's filter passes" in pushed
    globbed = run("query", "invoice path:**/note-00*", "--db", str(milvus_db),
                  "--explain-plan").stdout  # fmt: skip
    assert "filters (SQL, exact):" in globbed and "-> 10 segments pass" in globbed
    local = run("query", "red car type:text", "--db", str(faiss_db), "--explain-plan").stdout
    assert "filters (SQL, exact):" in local and "-> 24 segments pass" in local
    assert status(milvus_db)["spaces"][0]["index"]["store"] == "milvus"
    assert status(milvus_db)["spaces"][0]["index"]["state"] == "ok"
    same_results()

    (folder / "note-002.txt").rename(folder / "moved-002.txt")  # a move keeps its vectors
    (folder / "note-003.txt").unlink()  # a removal drops them
    (folder / "new.txt").write_text("a red car parked by the garage, brakes squealing\n")
    index_both()
    same_results()
    paths = {path for path, _ in top(milvus_db, "blue sky")}
    assert str(folder / "moved-002.txt") in paths and str(folder / "note-002.txt") not in paths
    assert str(folder / "note-003.txt") not in {p for p, _ in top(milvus_db, "invoice")}
    space = status(milvus_db)["spaces"][0]
    assert space["index"]["state"] == "ok" and space["index"]["vectors"] == space["vectors"]

    # The recorded store and URI are used without flags, and rebuild refills from the catalog.
    rebuilt = run("store", "rebuild", "--db", str(milvus_db))
    assert f"{space['vectors']} vectors in milvus" in rebuilt.stdout
    same_results()


def test_a_server_stopped_mid_index_fails_the_run_and_the_next_run_repairs(
    tmp_path: Path, folder: Path
) -> None:
    """The run fails with a message naming the server; the catalog keeps what it committed;
    after a restart, the next run brings the collection back in step with it."""
    data = tmp_path / "milvus-data"
    server = MilvusServer(data).start()
    db = tmp_path / "catalog.db"
    try:
        run("index", str(folder), "--encoder", "hash", "--db", str(db), "--milvus-uri", server.uri)
        for n in range(40):  # the marker sits in the middle of the new files
            marker = "STOP-MILVUS " if n == 20 else ""
            (folder / f"later-{n:03d}.txt").write_text(f"{marker}later note {n} about trains\n")
        assert server.process is not None
        env = {
            **os.environ,
            "MMSEARCH_PLUGIN_MODULES": "stop_plugin",
            "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
            "MMSEARCH_TEST_KILL_PGID": str(server.process.pid),
            "MMSEARCH_MILVUS_TIMEOUT": "5",
        }
        failed = run("index", str(folder), "--db", str(db), "--batch-size", "4", env=env, ok=False)
        assert failed.returncode == 1, failed.stderr
        assert f"Milvus at {server.uri}" in failed.stderr
        assert "The catalog keeps every vector" in failed.stderr
        server.process.wait(timeout=30)
        server.process = None

        seen = status(db)
        assert seen["spaces"][0]["index"]["state"] == "unreachable"
        committed = seen["spaces"][0]["vectors"]
        assert committed > 24, "the batches committed before the failure stay in the catalog"

        restarted = MilvusServer(data).start()  # same data, another port
        try:
            again = run("index", str(folder), "--db", str(db), "--milvus-uri", restarted.uri)
            assert "Repaired the Milvus collection" in again.stderr
            space = status(db)["spaces"][0]
            assert space["vectors"] == 64
            assert space["index"]["state"] == "ok" and space["index"]["vectors"] == 64
            hits = [path for path, _ in top(db, "later note 33 about trains")]
            assert str(folder / "later-033.txt") in hits
        finally:
            restarted.stop()
    finally:
        server.stop()


def test_status_says_when_the_server_is_unreachable(tmp_path: Path, folder: Path) -> None:
    """A library whose Milvus is gone: status says so and exits 0; query fails clearly."""
    server = MilvusServer(tmp_path / "data").start()
    db = tmp_path / "catalog.db"
    try:
        run("index", str(folder), "--encoder", "hash", "--db", str(db), "--milvus-uri", server.uri)
    finally:
        server.stop()
    env = {**os.environ, "MMSEARCH_MILVUS_TIMEOUT": "3"}
    index = json.loads(run("status", "--db", str(db), "--json", env=env).stdout)["spaces"][0][
        "index"
    ]
    assert index["state"] == "unreachable" and server.uri in index["detail"]
    failed = run("query", "red car", "--db", str(db), env=env, ok=False)
    assert failed.returncode == 1 and f"Milvus at {server.uri}" in failed.stderr


def test_nothing_imports_pymilvus_or_ray_unless_asked(tmp_path: Path) -> None:
    """Loading every plugin (Milvus's included) and the CLI imports neither client."""
    code = (
        "import sys, mmsearch.cli\n"
        "from mmsearch import Library\n"
        "import mmsearch.cli.app\n"
        "from importlib.metadata import entry_points\n"
        "[e.load() for e in entry_points(group='mmsearch')]\n"
        "bad = [m for m in ('pymilvus', 'ray', 'milvus_lite') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
    run("plugins", "--json")
    assert shutil.which(CLI) or Path(CLI).exists()
