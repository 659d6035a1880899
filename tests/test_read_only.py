"""Opening catalogs: read-only commands never write, only `index` creates or migrates.

Also what is refused before anything is touched (another program's database, an
empty file, a damaged one), how a new catalog is made (private, whole, once
however many processes race to make it).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from mmsearch import Library
from mmsearch.cli import cli
from mmsearch.errors import CatalogMissingError
from mmsearch.plugins import Registry


def _head() -> str:
    """The newest catalog revision the installed migrations know."""
    from importlib import resources

    from alembic.script import ScriptDirectory

    head = ScriptDirectory(str(resources.files("mmsearch.migrations"))).get_current_head()
    assert head is not None
    return head


HEAD = _head()


def run(*args: str | Path, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args], env=env, catch_exceptions=False)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _tree(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` with its content's hash."""
    return {str(p.relative_to(folder)): _digest(p) for p in folder.rglob("*") if p.is_file()}


def _revision(db: Path) -> str:
    with sqlite3.connect(db) as conn:
        return str(conn.execute("SELECT version_num FROM alembic_version").fetchone()[0])


@pytest.fixture
def indexed_db(tmp_path: Path, media: Path) -> Path:
    db = tmp_path / "lib" / "catalog.db"
    result = run("--db", db, "index", media)
    assert result.exit_code == 0, result.output
    return db


@pytest.mark.parametrize("command", [["status"], ["query", "red car"]])
def test_read_only_command_on_a_missing_catalog_says_so_and_creates_nothing(
    tmp_path: Path, command: list[str]
) -> None:
    db = tmp_path / "not" / "there" / "catalog.db"
    result = run("--db", db, *command)
    assert result.exit_code == 1
    assert f"No catalog at {db}; run `mmsearch index FOLDER` first, or give --db." in result.output
    assert not (tmp_path / "not").exists()


def test_read_only_command_at_the_default_location_creates_no_folder(tmp_path: Path) -> None:
    home = tmp_path / "fresh-home"
    result = run("status", env={"MMSEARCH_HOME": str(home)})
    assert result.exit_code == 1 and "No catalog at" in result.output
    assert not home.exists()


def test_read_only_library_open_raises_for_a_missing_catalog(
    tmp_path: Path, registry: Registry
) -> None:
    with pytest.raises(CatalogMissingError, match="mmsearch index FOLDER"):
        Library.open(tmp_path / "catalog.db", registry=registry, read_only=True)
    assert list(tmp_path.iterdir()) == []


def _foreign_database(path: Path, journal_mode: str) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA journal_mode={journal_mode}")
        conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
        conn.execute("INSERT INTO notes (body) VALUES ('shopping list')")
    conn.close()


@pytest.mark.parametrize("journal_mode", ["delete", "wal"])
def test_another_programs_database_is_left_byte_identical(
    tmp_path: Path, media: Path, journal_mode: str
) -> None:
    db = tmp_path / "app" / "data.db"
    db.parent.mkdir()
    _foreign_database(db, journal_mode)
    before = _tree(db.parent)
    for command in (["status"], ["query", "red car"], ["index", str(media)]):
        result = run("--db", db, *command)
        assert result.exit_code == 1, command
        assert "another program's SQLite database (tables: notes)" in result.output
    after = _tree(db.parent)
    assert after[db.name] == before[db.name]
    if journal_mode == "delete":
        assert after == before, "no journal, lock or index file made beside it"
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == journal_mode
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master")]
    assert tables == ["notes"]


def test_status_and_query_leave_the_catalog_unchanged(indexed_db: Path) -> None:
    with sqlite3.connect(indexed_db) as conn:  # queries would store a fresh calibration
        conn.execute("DELETE FROM settings WHERE key LIKE 'calibration:%'")
    conn.close()
    before = _digest(indexed_db)
    for command in (["status"], ["query", "red car", "--json"], ["status", "--json"]):
        result = run("--db", indexed_db, *command)
        assert result.exit_code == 0, result.output
    assert _digest(indexed_db) == before
    wal = indexed_db.with_name(indexed_db.name + "-wal")
    assert not wal.exists() or wal.stat().st_size == 0, "nothing was written to the WAL"


def test_read_only_query_rebuilds_a_missing_index_and_answers(
    indexed_db: Path, media: Path
) -> None:
    for file in (indexed_db.parent / "catalog.db.indexes").iterdir():
        file.unlink()
    before = _digest(indexed_db)
    result = run("--db", indexed_db, "query", "red car harbour", "-k", "1")
    assert result.exit_code == 0, result.output
    assert str(media / "car.txt") in result.output
    assert _digest(indexed_db) == before


def _downgrade_to_0002(db: Path) -> None:
    """The catalog as mmsearch at revision 0002 left it, through the migrations' downgrades."""
    from alembic import command
    from sqlalchemy import create_engine

    from mmsearch.store.database import _alembic_config

    engine = create_engine(f"sqlite:///{db}")
    with engine.begin() as conn:
        command.downgrade(_alembic_config(conn), "0002")
    engine.dispose()


def test_an_older_schema_is_not_migrated_by_a_read_only_command(
    indexed_db: Path, media: Path
) -> None:
    _downgrade_to_0002(indexed_db)
    before = _digest(indexed_db)
    for command in (["status"], ["query", "red car"]):
        result = run("--db", indexed_db, *command)
        assert result.exit_code == 1
        assert "older than this mmsearch's" in result.output
        assert "Run `mmsearch index FOLDER` once" in result.output
    assert _digest(indexed_db) == before and _revision(indexed_db) == "0002"
    assert run("--db", indexed_db, "index", media).exit_code == 0
    assert _revision(indexed_db) == HEAD
    assert run("--db", indexed_db, "status").exit_code == 0


def test_a_zero_length_catalog_is_refused_not_reinitialised(tmp_path: Path, media: Path) -> None:
    db = tmp_path / "catalog.db"
    db.write_bytes(b"")
    for command in (["index", str(media)], ["status"], ["query", "red car"]):
        result = run("--db", db, *command)
        assert result.exit_code == 1
        assert f"The catalog {db} is an empty file (0 bytes)" in result.output
        assert "Restore it from a backup" in result.output
    assert db.stat().st_size == 0


@pytest.fixture
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    old = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(old)


@pytest.mark.parametrize("umask", [0o022, 0o000], indirect=True, ids=["umask-022", "umask-000"])
def test_a_new_catalog_and_its_wal_are_private_whatever_the_umask(
    tmp_path: Path, registry: Registry, media: Path, umask: int
) -> None:
    db = tmp_path / "catalog.db"
    with Library.open(db, registry=registry) as lib:
        lib.index(media)
        with lib.catalog.engine.begin() as conn:  # keeps the WAL and shared memory open
            conn.exec_driver_sql("SELECT count(*) FROM items").scalar()
            modes = {
                p.name: oct(p.stat().st_mode & 0o777)
                for p in tmp_path.iterdir()
                if p.name.startswith("catalog.db") and p.is_file() and p.suffix != ".lock"
            }
    assert modes.keys() >= {"catalog.db", "catalog.db-wal", "catalog.db-shm"}
    assert set(modes.values()) == {"0o600"}, modes
    assert not list(tmp_path.glob(".catalog.db.*")), "no temporary catalog left behind"


OPEN_SCRIPT = textwrap.dedent(
    """
    import os, sys, time
    from pathlib import Path
    from mmsearch import Library
    from mmsearch.plugins import load_plugins

    db, go = Path(sys.argv[1]), Path(sys.argv[2])
    registry = load_plugins()
    (go.parent / f"ready-{os.getpid()}").write_text("")
    while not go.exists():  # every process imported, then all open at once
        time.sleep(0.002)
    with Library.open(db, registry=registry) as lib:
        print(lib.catalog.catalog_id(), len(lib.status().spaces))
    """
)


def _open_at_once(db: Path, processes: int) -> list[subprocess.CompletedProcess[str]]:
    go = db.parent / "go"
    env = {**os.environ, "MMSEARCH_LOAD_PLUGINS": ""}
    started = [
        subprocess.Popen(
            [sys.executable, "-c", OPEN_SCRIPT, str(db), str(go)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(processes)
    ]
    # Imports take a while and differ: wait until every child is ready, then start them all.
    while len(list(db.parent.glob("ready-*"))) < processes:
        if any(p.poll() is not None for p in started):
            break  # one died before it was ready: its output says why
        time.sleep(0.01)
    go.write_text("")
    done = []
    for process in started:
        out, err = process.communicate(timeout=300)
        done.append(subprocess.CompletedProcess(process.args, process.returncode, out, err))
    return done


def test_many_processes_creating_one_new_catalog_all_succeed(tmp_path: Path) -> None:
    db = tmp_path / "fresh" / "catalog.db"
    db.parent.mkdir()
    done = _open_at_once(db, processes=16)
    failed = [p.stderr[-400:] for p in done if p.returncode != 0]
    assert failed == []
    assert len({p.stdout.split()[0] for p in done}) == 1, "one catalog, one id"
    assert _revision(db) == HEAD
    assert not list(db.parent.glob(".catalog.db.*")), "no temporary catalog left behind"


def test_many_processes_upgrading_one_catalog_all_succeed(
    tmp_path: Path, registry: Registry
) -> None:
    db = tmp_path / "old" / "catalog.db"
    Library.open(db, registry=registry).close()
    _downgrade_to_0002(db)
    done = _open_at_once(db, processes=6)
    assert [p.stderr[-400:] for p in done if p.returncode != 0] == []
    assert _revision(db) == HEAD


def _damage_page_of(db: Path, name: str) -> None:
    with sqlite3.connect(db) as conn:
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        page = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (name,)).fetchone()
    conn.close()
    with db.open("r+b") as handle:
        handle.seek((page[0] - 1) * page_size)
        handle.write(b"\xff" * 64)


def test_a_damaged_catalog_is_named_with_what_to_do(indexed_db: Path) -> None:
    _damage_page_of(indexed_db, "segments")
    for command in (["status"], ["query", "red car harbour"]):
        result = run("--db", indexed_db, *command)
        assert result.exit_code == 1, command
        assert f"The catalog {indexed_db} is damaged" in result.output
        assert "run `mmsearch index FOLDER` again" in result.output and ".recover" in result.output
        assert "free disk space" not in result.output


def test_damage_a_query_does_not_read_is_found_by_status(indexed_db: Path) -> None:
    _damage_page_of(indexed_db, "ix_items_hash")
    result = run("--db", indexed_db, "status")
    assert result.exit_code == 1
    assert f"The catalog {indexed_db} is damaged" in result.output


def test_read_only_catalog_without_an_id_answers_and_saves_no_index_under_a_stand_in(
    indexed_db: Path,
) -> None:
    with sqlite3.connect(indexed_db) as conn:  # an id deleted by hand
        conn.execute("DELETE FROM settings WHERE key = 'catalog_id'")
    conn.close()
    cache = indexed_db.parent / "catalog.db.indexes" / "space-1.faiss"
    before = (_digest(indexed_db), _digest(cache))
    result = run("--db", indexed_db, "query", "red car harbour", "-k", "1")
    assert result.exit_code == 0, result.output
    assert (_digest(indexed_db), _digest(cache)) == before


def test_a_new_catalog_clears_what_a_killed_creator_left_and_spares_one_being_built(
    tmp_path: Path, registry: Registry
) -> None:
    abandoned = tmp_path / ".catalog.db.dead01.new"
    abandoned.write_bytes(b"half a catalog")
    building = tmp_path / ".catalog.db.live01.new"
    building.write_bytes(b"another process is building this")
    with building.open("rb") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        Library.open(tmp_path / "catalog.db", registry=registry).close()
        assert not abandoned.exists()
        assert building.exists()
