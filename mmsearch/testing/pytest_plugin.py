"""The kit's pytest fixtures, registered for every pytest run through the ``pytest11`` entry point.

Every name starts with ``mmsearch_`` so that it never shadows a project's own fixtures.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from mmsearch.testing.fakes import FakeEncoder
from mmsearch.testing.media import HostileCorpus, write_hostile_media, write_sample_media
from mmsearch.testing.registration import installed_plugin, open_library, registered

if TYPE_CHECKING:
    from mmsearch.library import Library

MakeLibrary = Callable[..., "Library"]
RegisterPlugin = Callable[..., str]


@pytest.fixture
def mmsearch_fake_encoder() -> FakeEncoder:
    """A fresh deterministic :class:`~mmsearch.testing.FakeEncoder` (64-d, text/image/audio)."""
    return FakeEncoder()


@pytest.fixture
def mmsearch_library(tmp_path: Path, mmsearch_fake_encoder: FakeEncoder) -> Iterator[Library]:
    """A library in a temporary folder: the installed extractors and annotators, the fake encoder.

    Whatever models are installed, its vectors come from ``mmsearch_fake_encoder``.
    """
    plugin = installed_plugin(encoders=[mmsearch_fake_encoder])
    with open_library(tmp_path / "mmsearch-library" / "catalog.db", plugin) as library:
        yield library


@pytest.fixture
def mmsearch_make_library(tmp_path: Path) -> Iterator[MakeLibrary]:
    """A factory: ``make(*plugins, discover=False)`` opens a temporary library of exactly those.

    Each call gets its own catalog; all are closed after the test.
    """
    with ExitStack() as stack:
        count = 0

        def make(*plugins: object, discover: bool = False) -> Library:
            nonlocal count
            count += 1
            path = tmp_path / f"mmsearch-library-{count}" / "catalog.db"
            return stack.enter_context(open_library(path, *plugins, discover=discover))

        yield make


@pytest.fixture
def mmsearch_register_plugin() -> Iterator[RegisterPlugin]:
    """``register(plugin, name=None)``: every plugin discovery during the test includes it.

    ``plugin`` is a module, an importable module name, or an object with hook
    implementations; the CLI (``CliRunner``) and ``Library.open()`` see it as if
    installed. It is unregistered after the test. Returns the name it is listed under.
    """
    with ExitStack() as stack:

        def register(plugin: object, name: str | None = None) -> str:
            return stack.enter_context(registered(plugin, name))

        yield register


@pytest.fixture
def mmsearch_hostile_media(tmp_path: Path) -> HostileCorpus:
    """The hostile corpus in a temporary folder (see ``write_hostile_media``)."""
    return write_hostile_media(tmp_path / "mmsearch-hostile")


@pytest.fixture
def mmsearch_sample_media(tmp_path: Path) -> list[Path]:
    """Ordinary PNG, JPEG, text, Markdown and WAV files in a temporary folder."""
    return write_sample_media(tmp_path / "mmsearch-samples")
