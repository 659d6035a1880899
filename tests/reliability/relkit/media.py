"""A folder of small files that a test changes step by step, with a model of what it holds.

Notes are a few words from a fixed vocabulary plus a serial number, so every
write is a new content and a query for a note's words finds that note. Every
write sets the file's mtime from a clock that only moves forward: the engine
tells a change by size and mtime, and a real clock may not tick between two
quick writes of the same size.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass, field
from pathlib import Path

from mmsearch.testing.media import image_bytes, sample_images

_SYLLABLES = ("ka", "lo", "mi", "ne", "ru", "ta", "vo", "shi", "pen", "dar", "gul", "fen", "bri")
CLOCK_START_NS = 1_700_000_000 * 10**9
CLOCK_STEP_NS = 10_000_000  # 10 ms: well apart, whatever the file system's resolution


def vocabulary(size: int = 400) -> tuple[str, ...]:
    """The same made-up words on every machine, all different."""
    rng = random.Random(20261210)
    words: set[str] = set()
    while len(words) < size:
        words.add("".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 4))))
    return tuple(sorted(words))


VOCABULARY = vocabulary()
FOLDERS = ("", "notes/", "notes/old/", "misc/")


@dataclass(slots=True)
class Media:
    """The folder, and what each file in it holds (relative path -> bytes)."""

    root: Path
    rng: random.Random
    files: dict[str, bytes] = field(default_factory=dict)
    serial: int = 0
    clock_ns: int = CLOCK_START_NS

    @classmethod
    def create(cls, root: Path, seed: int) -> Media:
        """An empty folder at ``root`` whose choices follow ``seed``."""
        root.mkdir(parents=True, exist_ok=True)
        return cls(root, random.Random(seed))

    def note(self, words: list[str] | None = None) -> bytes:
        """A new note's content: ``words`` (else some chosen by the seed), then a new serial."""
        self.serial += 1
        chosen = (
            words if words is not None else self.rng.sample(VOCABULARY, self.rng.randint(4, 10))
        )
        return (" ".join(chosen) + f" serial{self.serial}\n").encode()

    def new_name(self, ext: str = ".txt") -> str:
        """A path not in use, in one of a few folders."""
        while True:
            name = f"{self.rng.choice(FOLDERS)}n{self.rng.randrange(10**6):06d}{ext}"
            if name not in self.files:
                return name

    def write(self, relpath: str, data: bytes) -> None:
        """Create or overwrite a file, with the next mtime."""
        path = self.root / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        self.clock_ns += CLOCK_STEP_NS
        os.utime(path, ns=(self.clock_ns, self.clock_ns))
        self.files[relpath] = data

    def move(self, old: str, new: str) -> None:
        """Rename a file (its mtime goes with it, as with ``mv``)."""
        target = self.root / new
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(self.root / old, target)
        self.files[new] = self.files.pop(old)

    def delete(self, relpath: str) -> None:
        """Remove a file."""
        (self.root / relpath).unlink()
        del self.files[relpath]

    def populate(self, notes: int, images: int = 2) -> None:
        """``notes`` notes, ``images`` small PNGs and one empty file (which is skipped)."""
        for _ in range(notes):
            self.write(self.new_name(), self.note())
        for image in sample_images()[:images]:
            self.write(self.new_name(".png"), image_bytes(image, "PNG"))
        self.write(self.new_name(), b"")

    def change(self, adds: int, modifies: int, moves: int, deletes: int) -> None:
        """Rewrite, rename (maybe to another folder) and delete distinct files, then add notes.

        Each file gets one change at most, so every rename is one the engine can recognise
        (same bytes) and every rewrite and addition is work for the run.
        """
        notes = [n for n in sorted(self.files) if n.endswith(".txt") and self.files[n]]
        rewritten = self.rng.sample(notes, modifies)
        for name in rewritten:
            self.write(name, self.note())
        others = [n for n in sorted(self.files) if self.files[n] and n not in rewritten]
        moved = self.rng.sample(others, moves)
        for name in moved:
            self.move(name, self.new_name(os.path.splitext(name)[1]))
        left = [n for n in notes if n not in rewritten and n not in moved]
        for name in self.rng.sample(left, deletes):
            self.delete(name)
        for _ in range(adds):
            self.write(self.new_name(), self.note())
