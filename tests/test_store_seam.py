"""The vector-store seam seen from the library: choosing a store, recording it, approximate
indexes built after an index run and swapped in, status telling what each index is."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from support import CountingEncoder, make_registry

from mmsearch import Library
from mmsearch.cli import cli
from mmsearch.errors import UsageError
from mmsearch.store.faiss_index import FaissIndex


def _notes(folder: Path, count: int) -> Path:
    """``count`` short text files with distinct contents."""
    folder.mkdir()
    words = ["harbour", "violin", "granite", "meadow", "lantern", "orbit", "saffron", "glacier"]
    for i in range(count):
        picked = [words[(i * 7 + j * 3) % len(words)] for j in range(4)]
        (folder / f"note{i:03d}.txt").write_text(f"note {i}: " + " ".join(picked) + f" {i * 13}")
    return folder


@pytest.fixture
def approximate(monkeypatch: pytest.MonkeyPatch) -> None:
    """A tiny threshold and small lists, so 120 files take the approximate path."""
    for name, value in {"EXACT_MAX": "50", "NLIST": "8", "M": "8"}.items():
        monkeypatch.setenv(f"MMSEARCH_FAISS_{name}", value)


def test_an_unknown_store_is_refused_with_the_installed_ones(tmp_path: Path) -> None:
    registry = make_registry(CountingEncoder())
    notes = _notes(tmp_path / "notes", 3)
    refused = pytest.raises(UsageError, match=r"vector store 'nosuch' \(installed: faiss\)")
    with Library.open(tmp_path / "c.db", registry=registry, store="nosuch") as lib, refused:
        lib.index(notes)


def test_index_records_the_store_for_later_opens(tmp_path: Path) -> None:
    registry = make_registry(CountingEncoder())
    notes = _notes(tmp_path / "notes", 3)
    with Library.open(tmp_path / "c.db", registry=registry, store="faiss") as lib:
        lib.index(notes)
    with Library.open(tmp_path / "c.db", registry=registry) as lib:
        assert lib.catalog.setting("vector_store") == "faiss"
        assert lib.store_name == "faiss"


def test_a_large_space_gets_an_approximate_index_after_the_run(
    tmp_path: Path, approximate: None
) -> None:
    registry = make_registry(CountingEncoder())
    notes = _notes(tmp_path / "notes", 120)
    with Library.open(tmp_path / "c.db", registry=registry) as lib:
        lib.index(notes)
        space = lib.catalog.active_space()
        assert space is not None
        index = lib.store(space)
        assert isinstance(index, FaissIndex) and index.kind == "ivfpq"
        hits = lib.query("note 7: harbour", k=3)
        assert hits and hits[0].path.endswith("note007.txt")
    # A fresh process loads the approximate index from its files, without rebuilding.
    with Library.open(tmp_path / "c.db", registry=registry) as lib:
        space = lib.catalog.active_space()
        assert space is not None
        assert lib.store(space).ids() == _vector_ids(tmp_path / "c.db")
        health = lib.status().spaces[0].index
        assert health.state == "ok" and health.kind.startswith("ivfpq")
        assert health.recall is not None and health.recall >= 0.9
        assert health.build_seconds is not None and health.size_bytes


def test_changes_after_the_build_are_served_then_persisted(
    tmp_path: Path, approximate: None
) -> None:
    registry = make_registry(CountingEncoder())
    notes = _notes(tmp_path / "notes", 120)
    with Library.open(tmp_path / "c.db", registry=registry) as lib:
        lib.index(notes)
        (notes / "note005.txt").unlink()
        (notes / "extra.txt").write_text("an entirely new note about saffron glaciers")
        lib.index(notes)
        paths = [h.path for h in lib.query("saffron glaciers", k=120)]
        assert any(p.endswith("extra.txt") for p in paths)
        assert not any(p.endswith("note005.txt") for p in paths)
    with Library.open(tmp_path / "c.db", registry=registry) as lib:
        space = lib.catalog.active_space()
        assert space is not None
        assert lib.store(space).ids() == _vector_ids(tmp_path / "c.db")


def test_a_damaged_rows_file_is_rebuilt_not_served(tmp_path: Path, approximate: None) -> None:
    registry = make_registry(CountingEncoder())
    notes = _notes(tmp_path / "notes", 120)
    with Library.open(tmp_path / "c.db", registry=registry) as lib:
        lib.index(notes)
    rows_file = next((tmp_path / "c.db.indexes").glob("*.vectors.npy"))
    rows_file.write_bytes(b"not a numpy file")
    with Library.open(tmp_path / "c.db", registry=registry) as lib:
        assert lib.status().spaces[0].index.state == "ok", "the header itself is intact"
        space = lib.catalog.active_space()
        assert space is not None
        assert lib.store(space).ids() == _vector_ids(tmp_path / "c.db")


def test_status_json_and_text_show_the_store_and_index_kind(tmp_path: Path) -> None:
    notes = _notes(tmp_path / "notes", 3)
    env = {"MMSEARCH_ENCODER": "hash", "MMSEARCH_DB": str(tmp_path / "c.db")}
    runner = CliRunner()
    assert runner.invoke(cli, ["index", str(notes), "--store", "faiss"], env=env).exit_code == 0
    shown = runner.invoke(cli, ["status", "--json"], env=env)
    index = json.loads(shown.output)["spaces"][0]["index"]
    assert (index["store"], index["state"], index["kind"]) == ("faiss", "ok", "flat (exact)")
    text = runner.invoke(cli, ["status"], env=env).output
    assert "store faiss: flat (exact)" in text


def _vector_ids(db_path: Path) -> set[int]:
    import sqlite3

    with sqlite3.connect(os.fspath(db_path)) as conn:
        return {r[0] for r in conn.execute("SELECT segment_id FROM vectors")}


def test_vectors_are_unit_length_in_the_rows_file(tmp_path: Path, approximate: None) -> None:
    registry = make_registry(CountingEncoder())
    with Library.open(tmp_path / "c.db", registry=registry) as lib:
        lib.index(_notes(tmp_path / "notes", 120))
    rows = np.load(next((tmp_path / "c.db.indexes").glob("*.vectors.npy")), mmap_mode="r")
    assert rows.shape == (120, 256)
    assert np.allclose(np.linalg.norm(rows, axis=1), 1.0, atol=1e-5)
