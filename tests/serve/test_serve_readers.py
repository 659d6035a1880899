"""The server's reader pool: queries answered at once, each by a library of its own."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
from support import CountingEncoder, make_registry, save_image

from mmsearch import Library
from mmsearch.serve.state import Engine, ServeConfig


@pytest.fixture
def catalog(tmp_path: Path) -> Path:
    media = tmp_path / "media"
    media.mkdir()
    save_image(media / "red.png", (220, 20, 20))
    (media / "car.txt").write_text("A red car parked by the harbour.")
    db = tmp_path / "catalog.db"
    with Library.open(db, registry=make_registry(CountingEncoder())) as lib:
        lib.index(media)
    return db


def _engine(db: Path, readers: int) -> Engine:
    engine = Engine(ServeConfig(db, read_only=True, readers=readers),
                    make_registry(CountingEncoder()))  # fmt: skip
    engine.load()
    assert engine.failure is None
    return engine


def test_two_readers_answer_two_queries_at_once_and_share_one_set_of_weights(
    catalog: Path,
) -> None:
    engine = _engine(catalog, readers=2)
    inside = threading.Barrier(2, timeout=10)  # both must be lent a reader at the same time
    lent: list[Library] = []

    def query() -> None:
        with engine.reading() as lib:
            lent.append(lib)
            inside.wait()
            assert lib.search("red car").hits

    threads = [threading.Thread(target=query) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not inside.broken and len({id(lib) for lib in lent}) == 2
    first, second = lent
    assert first._encoders is second._encoders  # one set of weights
    engine.close()


class OneAtATime(CountingEncoder):
    """Notes how many query texts it embeds at once (each takes a while)."""

    def __init__(self) -> None:
        super().__init__()
        self.running = 0
        self.most = 0
        self.guard = threading.Lock()

    def encode_batch(self, modality: Any, contents: Any) -> Any:
        with self.guard:
            self.running += 1
            self.most = max(self.most, self.running)
        time.sleep(0.05)
        try:
            return super().encode_batch(modality, contents)
        finally:
            with self.guard:
                self.running -= 1


def test_the_readers_search_at_once_but_embed_one_query_at_a_time(catalog: Path) -> None:
    """Two inferences at once on a CPU fight over its cores (torch's and onnxruntime's
    thread pools spin): the readers share the encoders and one lock around them."""
    encoder = OneAtATime()
    engine = Engine(ServeConfig(catalog, read_only=True, readers=3), make_registry(encoder))
    engine.load()
    assert engine.failure is None
    encoder.most = 0

    def query(n: int) -> None:
        with engine.reading() as lib:
            assert lib.search(f"red car number {n}").hits

    threads = [threading.Thread(target=query, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert encoder.most == 1 and len(encoder.calls) >= 6
    engine.close()


def test_with_one_reader_a_second_query_waits_for_the_first(catalog: Path) -> None:
    engine = _engine(catalog, readers=1)
    first_in, second_in, release = threading.Event(), threading.Event(), threading.Event()

    def first() -> None:
        with engine.reading():
            first_in.set()
            release.wait(10)

    def second() -> None:
        with engine.reading():
            second_in.set()

    a = threading.Thread(target=first)
    a.start()
    assert first_in.wait(10)
    b = threading.Thread(target=second)
    b.start()
    assert not second_in.wait(0.3)  # all readers busy: it waits, it is not refused
    release.set()
    assert second_in.wait(10)
    a.join()
    b.join()
    engine.close()


class LockWatcher(CountingEncoder):
    """Notes whether the library's encode lock was held at each call."""

    def __init__(self) -> None:
        super().__init__()
        self.lock: Any = None
        self.held: list[bool] = []

    def encode_batch(self, modality: Any, contents: Any) -> Any:
        if self.lock is not None:
            self.held.append(self.lock.locked())
        return super().encode_batch(modality, contents)


def test_an_index_run_embeds_under_the_lock_the_readers_share(tmp_path: Path) -> None:
    """A server's index job and its queries take turns on the encoder, batch by batch."""
    media = tmp_path / "media"
    media.mkdir()
    for i in range(5):
        (media / f"note{i}.txt").write_text(f"Note {i} about the harbour.")
    save_image(media / "red.png", (220, 20, 20))
    encoder = LockWatcher()
    with Library.open(tmp_path / "catalog.db", registry=make_registry(encoder)) as writer:
        reader = Library.open(tmp_path / "catalog.db", registry=make_registry(encoder))
        writer.share_encoders(reader)
        encoder.lock = reader._encode_lock
        writer.index(media)
        reader.close()
    assert encoder.held and all(encoder.held)
