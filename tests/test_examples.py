"""The README's main job on the bundled example library: the answer is the photo it shows."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from mmsearch import Library
from mmsearch.plugins import load_plugins

MEDIA = Path(__file__).resolve().parent.parent / "examples" / "media"


@pytest.fixture(scope="module")
def examples(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Library]:
    """examples/media (copied, so the indexed paths are the test's own) in the offline space."""
    root = tmp_path_factory.mktemp("examples") / "media"
    shutil.copytree(MEDIA, root)
    lib = Library.open(root.parent / "catalog.db", registry=load_plugins())
    report = lib.index(root, encoder="offline")
    assert report.failed == [] and not report.skipped, report.to_json()
    with lib:
        yield lib


def test_the_readme_query_finds_the_cat_photo_by_what_it_shows(examples: Library) -> None:
    result = examples.search("a cat")
    assert result.confident
    top = result.hits[0]
    assert Path(top.path).name == "IMG_2041.jpg" and top.modality == "image"
    assert "cat" not in top.path.lower() and not top.why["matched_words"]


def test_the_voice_memo_is_found_at_its_moment(examples: Library) -> None:
    top = examples.search("when is the dentist").hits[0]
    assert Path(top.path).name == "voice_memo_0412.wav" and top.start is not None


def test_the_pdf_letter_is_found_by_its_meaning(examples: Library) -> None:
    top = examples.search("how much is the rent going up").hits[0]
    assert Path(top.path).name == "lease_renewal.pdf"
