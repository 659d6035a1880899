"""Shared fixtures: temporary catalogs, media folders and deterministic encoders."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from support import CountingEncoder, make_registry, save_image

from mmsearch import Library
from mmsearch.plugins import Registry


@pytest.fixture(autouse=True)
def _isolated_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test touches the user's catalog, and plugin env vars never leak in."""
    for name in (
        "MMSEARCH_DB",
        "MMSEARCH_LOAD_PLUGINS",
        "MMSEARCH_PLUGIN_MODULES",
        "MMSEARCH_TRACE_PLUGINS",
        "MMSEARCH_ENCODER",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MMSEARCH_HOME", str(tmp_path / "mmsearch-home"))
    # CLI runs use the fast deterministic encoder unless a test asks for another; the
    # real model plugins installed beside it would otherwise win the default.
    monkeypatch.setenv("MMSEARCH_ENCODER", "hash")


@pytest.fixture
def counting_encoder() -> CountingEncoder:
    return CountingEncoder()


@pytest.fixture
def registry(counting_encoder: CountingEncoder) -> Registry:
    """First-party extractors with the counting (hash-based) encoder."""
    return make_registry(counting_encoder)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "catalog" / "catalog.db"


@pytest.fixture
def library(db_path: Path, registry: Registry) -> Iterator[Library]:
    with Library.open(db_path, registry=registry) as lib:
        yield lib


@pytest.fixture
def media(tmp_path: Path) -> Path:
    """A small folder of ordinary media: two images, three texts."""
    root = tmp_path / "media"
    (root / "holiday").mkdir(parents=True)
    save_image(root / "red.png", (220, 20, 20))
    save_image(root / "holiday" / "blue.jpg", (20, 20, 220))
    (root / "car.txt").write_text("A red car parked by the harbour at sunset.")
    (root / "budget.md").write_text("# Budget\n\nWe discussed the budget for next year.\n")
    (root / "holiday" / "diary.txt").write_text("Swimming in the blue sea every morning.")
    return root
