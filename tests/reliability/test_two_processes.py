"""A library open in one process keeps seeing what index runs in other processes commit.

Found by the stateful test: a second open of the same catalog in the process
(``inspect_catalog_file`` read the file's first bytes with a plain ``open``;
now only ``stat`` and SQLite look at it) closed a file descriptor of the
database, and closing any descriptor drops the process's POSIX locks on it,
SQLite's included (sqlite.org/howtocorrupt.html, 2.2). The next writer
elsewhere then believed it was the last connection, checkpointed and deleted
the WAL, and the first library read a WAL that no longer existed: it stopped
seeing later commits.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from relkit.media import Media
from relkit.runs import index_args, run_cli, run_killed

from mmsearch import Library
from mmsearch.plugins import Registry


def _items(lib: Library) -> int:
    with lib.catalog.sqlite() as conn:
        return int(conn.execute("SELECT COUNT(*) FROM items").fetchone()[0])


@pytest.mark.parametrize("second_open", [False, True])
def test_an_open_library_sees_what_other_processes_commit(
    second_open: bool, tmp_path: Path, suite_registry: Registry
) -> None:
    media = Media.create(tmp_path / "media", seed=3)
    media.populate(2, images=0)
    db = tmp_path / "catalog" / "catalog.db"
    run_cli(index_args(db, media.root))
    with Library.open(db, registry=suite_registry) as lib:
        assert _items(lib) == 3  # two notes and the empty file
        if second_open:
            Library.open(db, registry=suite_registry).close()
        media.write(media.new_name(), media.note())
        # A run in another process that ends normally (it never reaches a 99th commit).
        args = index_args(db, media.root)
        ended = run_killed(args, "after-catalog-commit:99", {}, tmp_path / "a")
        assert ended.returncode == 0, ended.stderr
        media.write(media.new_name(), media.note())
        # Killed after its commit: its batch stays in the WAL, no checkpoint moves it on.
        killed = run_killed(args, "after-catalog-commit", {}, tmp_path / "b")
        assert killed.killed
        assert _items(lib) == 5
