"""Fixtures for the Milvus store's tests: a real server process on a free loopback port."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from milvus_server import MilvusServer


@pytest.fixture(scope="module")
def milvus_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MilvusServer]:
    """A ``milvus-lite server`` started for this module's tests, stopped after them."""
    server = MilvusServer(tmp_path_factory.mktemp("milvus") / "data").start()
    try:
        yield server
    finally:
        server.stop()
