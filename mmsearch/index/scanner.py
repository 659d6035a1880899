"""Walking a root folder: every regular file, with size and mtime, as path bytes.

Directory symlinks are not followed unless asked, and then a visited
(device, inode) set stops loops: every folder walked is in it, so a link to an
ancestor, or to any folder walked already, is not walked again. A folder that
cannot be read is reported and remembered, so the files the catalog already
has under it are not mistaken for deleted ones. FIFOs, sockets and devices are
named and skipped: they are not files with content, and opening a FIFO blocks.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass, field

from mmsearch.contracts import _file_kind
from mmsearch.index.oserrors import SYMLINK_LOOP, file_error, folder_error
from mmsearch.index.report import display_path

NOT_REGULAR = "not a regular file"
"""The reason of a FIFO, socket or device found where files are indexed (as Source.open's)."""


@dataclass(frozen=True, slots=True)
class ScannedFile:
    """A regular file found under a root."""

    relpath: bytes
    size: int
    mtime_ns: int


@dataclass(frozen=True, slots=True)
class ScanProblem:
    """Something under a root that could not be looked at."""

    relpath: bytes
    reason: str
    detail: str


@dataclass(slots=True)
class ScanResult:
    """Everything one walk of a root found."""

    files: list[ScannedFile] = field(default_factory=list)
    problems: list[ScanProblem] = field(default_factory=list)
    unreadable_dirs: list[bytes] = field(default_factory=list)
    """Relative paths of folders whose contents are unknown this time."""


def _join(parent: bytes, name: bytes) -> bytes:
    return parent + b"/" + name if parent else name


def _is_link(entry: os.DirEntry[bytes]) -> bool:
    try:
        return entry.is_symlink()
    except OSError:
        return False


@dataclass(slots=True)
class Scanner:
    """Walks one root; ``exclude`` holds absolute paths to leave out (the catalog's own files)."""

    root: bytes
    follow_symlinks: bool = False
    include_hidden: bool = False
    exclude: frozenset[bytes] = frozenset()
    on_progress: Callable[[int], None] | None = None
    result: ScanResult = field(default_factory=ScanResult)
    _visited: set[tuple[int, int]] = field(default_factory=set)
    _real_root: bytes = b""

    def scan(self) -> ScanResult:
        """Walk the root and return what was found."""
        stack: list[bytes] = [b""]
        while stack:
            self._scan_dir(stack.pop(), stack)
        return self.result

    def _scan_dir(self, rel: bytes, stack: list[bytes]) -> None:
        absolute = _join(self.root, rel) if rel else self.root
        try:
            if not self._first_visit(absolute, rel):
                return
            with os.scandir(absolute) as entries:
                # Sorting keeps runs reproducible: the same files land in the same batches.
                children = sorted(entries, key=lambda e: e.name)
        except OSError as exc:
            self.result.unreadable_dirs.append(rel)
            reason, detail = folder_error(exc, absolute)
            self.result.problems.append(ScanProblem(rel or b".", reason, detail))
            return
        subdirs: list[bytes] = []
        for entry in children:
            name = entry.name
            assert isinstance(name, bytes)
            if name.startswith(b".") and not self.include_hidden:
                continue
            if entry.path in self.exclude:
                continue
            child = _join(rel, name)
            if self._is_dir_to_walk(entry, child):
                subdirs.append(child)
            else:
                self._add_file(entry, child)
        stack.extend(reversed(subdirs))

    def _is_dir_to_walk(self, entry: os.DirEntry[bytes], rel: bytes) -> bool:
        try:
            if entry.is_dir(follow_symlinks=False):
                return True
            if not (entry.is_symlink() and entry.is_dir(follow_symlinks=True)):
                return False
        except OSError:
            return False
        if not self.follow_symlinks:
            return False  # a linked folder is not followed: that is what keeps loops out
        try:
            target = entry.stat(follow_symlinks=True)
        except OSError:
            return False
        key = (target.st_dev, target.st_ino)
        if key in self._ancestors(rel):
            self._problem(rel, SYMLINK_LOOP, "links to a folder above it; not walked again.")
            return False
        if key in self._visited or self._inside_root(entry.path):
            # Walked, or to be walked, at its own path: its files are indexed once, there.
            self._problem(rel, "duplicate folder", "links to a folder walked at its own path.")
            return False
        return True

    def _inside_root(self, link: bytes) -> bool:
        if not self._real_root:
            self._real_root = os.path.realpath(self.root)
        target = os.path.realpath(link)
        return target == self._real_root or target.startswith(self._real_root.rstrip(b"/") + b"/")

    def _ancestors(self, rel: bytes) -> set[tuple[int, int]]:
        """(device, inode) of the root and of each folder on the way down to ``rel``."""
        parts = rel.split(b"/")[:-1]
        out: set[tuple[int, int]] = set()
        for depth in range(len(parts) + 1):
            path = _join(self.root, b"/".join(parts[:depth])) if depth else self.root
            with contextlib.suppress(OSError):
                st = os.stat(path)
                out.add((st.st_dev, st.st_ino))
        return out

    def _first_visit(self, absolute: bytes, rel: bytes) -> bool:
        """Mark a folder walked; False (and a problem) when it was walked under another path."""
        st = os.stat(absolute)
        key = (st.st_dev, st.st_ino)
        if key in self._visited:
            # A real folder seen twice: a bind mount, or a folder reached through a link first.
            self._problem(rel, "duplicate folder", "is a folder already walked; skipped.")
            return False
        self._visited.add(key)
        return True

    def _problem(self, rel: bytes, reason: str, detail: str) -> None:
        shown = display_path(_join(self.root, rel))
        self.result.problems.append(ScanProblem(rel, reason, f"{shown} {detail}"))

    def _add_file(self, entry: os.DirEntry[bytes], rel: bytes) -> None:
        try:
            st = entry.stat(follow_symlinks=True)
        except OSError as exc:
            if exc.errno == errno.ENOENT and _is_link(entry):
                self._problem(rel, "broken symlink", "points to nothing; remove or fix the link.")
            else:
                self.result.problems.append(ScanProblem(rel, *file_error(exc, entry.path)))
            return
        if stat.S_ISDIR(st.st_mode):
            return  # a linked folder not walked: not followed, or reported as a loop
        if not stat.S_ISREG(st.st_mode):
            # Not media, and opening a FIFO would block: named, never read.
            kind = _file_kind(st.st_mode)
            self._problem(rel, NOT_REGULAR, f"is a {kind}, not a file with content; left alone.")
            return
        self.result.files.append(ScannedFile(rel, st.st_size, st.st_mtime_ns))
        if self.on_progress is not None:
            self.on_progress(len(self.result.files))
