"""mmsearch tune: the adapter helps a distorted space, refuses noise, and keeps its labels."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import text

from mmsearch.errors import UsageError
from mmsearch.library import Library
from mmsearch.query.adapter import QueryAdapter
from mmsearch.tune.crossval import cross_validate
from mmsearch.tune.fit import Items, Labels, fit_adapter

DIM, ITEMS, QUERIES = 24, 60, 60


def unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=-1, keepdims=True)).astype(np.float32)


def distorted_space(shuffle: bool = False) -> tuple[Labels, np.ndarray, Items]:
    """Items, and queries that are their items seen through a known linear distortion.

    Each query is a noisy copy of its target item mapped by A = I + 3 * P, P a rank-2
    projection: the distortion swamps the target's own direction, so plain search ranks
    it poorly, and a rank-2 adapter can undo it.
    """
    rng = np.random.default_rng(1)
    items = unit(rng.standard_normal((ITEMS, DIM)))
    basis = np.linalg.qr(rng.standard_normal((DIM, 2)))[0]
    distortion = np.eye(DIM) + 3.0 * basis @ rng.standard_normal((2, DIM))
    targets = np.arange(QUERIES) % ITEMS
    clean = items[targets] + 0.15 * rng.standard_normal((QUERIES, DIM))
    queries = unit(clean @ distortion.T)
    if shuffle:
        targets = rng.permutation(targets)
    empty = np.empty((0, DIM), dtype=np.float32)
    labels = Labels(queries, targets.astype(np.int64), empty, np.empty(0, dtype=np.int64))
    groups = np.arange(QUERIES, dtype=np.int64)
    # A cosine scale of 0.05 a standard deviation, about what a real null has.
    mean, std = np.zeros(ITEMS, np.float32), np.full(ITEMS, 0.05, np.float32)
    return labels, groups, Items(items, np.arange(ITEMS, dtype=np.int64), ITEMS, mean, std)


def test_tune_undoes_a_known_linear_distortion_on_held_out_queries() -> None:
    labels, groups, items = distorted_space()
    figures = cross_validate(labels, groups, np.empty(0, dtype=np.int64), items, rank=4)
    assert figures.mrr_after >= figures.mrr_before + 0.10, figures
    assert figures.activate


def test_tune_refuses_to_activate_on_shuffled_labels() -> None:
    labels, groups, items = distorted_space(shuffle=True)
    figures = cross_validate(labels, groups, np.empty(0, dtype=np.int64), items, rank=4)
    assert not figures.activate, figures


def test_the_same_seed_fits_the_same_adapter() -> None:
    labels, _, items = distorted_space()
    a = fit_adapter(labels, items, rank=4, seed=3)
    b = fit_adapter(labels, items, rank=4, seed=3)
    assert np.array_equal(a.u, b.u) and np.array_equal(a.v, b.v)
    back = QueryAdapter.from_bytes(a.to_bytes())
    assert np.array_equal(back.u, a.u) and np.array_equal(back.v, a.v)


def test_an_identity_adapter_leaves_queries_alone() -> None:
    q = unit(np.random.default_rng(0).standard_normal((3, DIM)))
    adapter = QueryAdapter(np.zeros((DIM, 2), np.float32), np.ones((DIM, 2), np.float32))
    assert np.allclose(adapter.apply(q), q)


# -- labels, feedback and storage through the library ------------------------------------


def indexed(library: Library, media: Path) -> Library:
    library.index(media)
    return library


def write_labels(path: Path, lines: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def test_feedback_round_trips_through_the_api(library: Library, media: Path) -> None:
    indexed(library, media)
    library.add_feedback("red car", media / "car.txt", good=True)
    library.add_feedback("red car", media / "budget.md", good=False)
    rows = library.feedback()
    assert [(r.query, Path(r.path).name, r.good) for r in rows] == [
        ("red car", "car.txt", True),
        ("red car", "budget.md", False),
    ]


def test_feedback_on_a_file_not_in_the_library_says_so(library: Library, media: Path) -> None:
    indexed(library, media)
    with pytest.raises(UsageError, match="not an indexed file"):
        library.add_feedback("red car", media / "nowhere.txt", good=True)


def test_a_missing_label_file_is_named(library: Library, media: Path, tmp_path: Path) -> None:
    indexed(library, media)
    with pytest.raises(UsageError, match="no such query file"):
        library.tune(tmp_path / "missing.jsonl")


def test_an_empty_label_file_is_refused(library: Library, media: Path, tmp_path: Path) -> None:
    indexed(library, media)
    empty = tmp_path / "empty.jsonl"
    empty.write_text("# nothing yet\n")
    with pytest.raises(UsageError, match="no queries"):
        library.tune(empty)


def test_labels_naming_files_not_in_the_library_are_listed(
    library: Library, media: Path, tmp_path: Path
) -> None:
    indexed(library, media)
    (tmp_path / "elsewhere.txt").write_text("not indexed")
    labels = write_labels(
        tmp_path / "labels.jsonl",
        [{"query": "red car", "relevant": [str(tmp_path / "elsewhere.txt")]}],
    )
    with pytest.raises(UsageError, match=r"labels.jsonl:1: .*elsewhere.txt is not in the library"):
        library.tune(labels)


def test_too_few_labels_are_refused_with_what_to_do(
    library: Library, media: Path, tmp_path: Path
) -> None:
    indexed(library, media)
    labels = write_labels(tmp_path / "l.jsonl", [{"query": "car", "relevant": ["media/car.txt"]}])
    with pytest.raises(UsageError, match="mmsearch feedback"):
        library.tune(labels)


def test_a_stored_adapter_is_listed_and_dropped_with_its_space(
    library: Library, media: Path, tmp_path: Path
) -> None:
    indexed(library, media)
    names = ["car.txt", "budget.md", "holiday/diary.txt", "red.png", "holiday/blue.jpg"]
    lines = [{"query": f"q{i} {n}", "relevant": [f"media/{n}"]} for i, n in enumerate(names)]
    report = library.tune(write_labels(tmp_path / "l.jsonl", lines), name="mine", folds=2)
    assert report.figures.labels == 5
    assert [(a.name, a.active) for a in library.adapters()] == [("mine", report.activated)]
    library.use_adapter("mine")
    plan = library.plan("red car")
    assert "tuned adapter 'mine'" in plan.describe()
    assert library.search("red car").hits[0].why["adapters"] == {plan.spaces[0].label: "mine"}
    library.use_adapter(None)
    assert "tuned adapter" not in library.plan("red car").describe()
    with pytest.raises(UsageError, match="No adapter 'other'"):
        library.use_adapter("other")
    with library.catalog.engine.begin() as conn:
        conn.execute(text("DELETE FROM spaces"))
    assert library.adapters() == []


def test_a_catalog_at_the_previous_revision_upgrades_with_its_data(tmp_path: Path) -> None:
    from alembic import command

    from mmsearch.store.catalog import Catalog
    from mmsearch.store.database import _alembic_config, create_catalog_engine

    path = tmp_path / "old.db"
    engine = create_catalog_engine(path)
    with engine.begin() as conn:
        command.upgrade(_alembic_config(conn), "0004")
        conn.execute(text("INSERT INTO settings (key, value) VALUES ('kept', 'yes')"))
    engine.dispose()
    catalog = Catalog(path)  # migrates to head
    with catalog.engine.connect() as conn:
        tables = {r[0] for r in conn.execute(text("SELECT name FROM sqlite_master"))}
        kept = conn.scalar(text("SELECT value FROM settings WHERE key = 'kept'"))
        counts = [conn.scalar(text(f"SELECT count(*) FROM {t}")) for t in ("feedback", "adapters")]
    catalog.close()
    assert {"feedback", "adapters"} <= tables
    assert (kept, counts) == ("yes", [0, 0])
