"""Walking a root folder: every regular file, with size and mtime, as path bytes.

Directory symlinks are not followed unless asked, and then a visited
(device, inode) set stops loops. A folder that cannot be read is reported and
remembered, so the files the catalog already has under it are not mistaken
for deleted ones.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass, field

from mmsearch.index.report import display_path


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

    def scan(self) -> ScanResult:
        """Walk the root and return what was found."""
        top = os.stat(self.root)
        self._visited.add((top.st_dev, top.st_ino))
        stack: list[bytes] = [b""]
        while stack:
            self._scan_dir(stack.pop(), stack)
        return self.result

    def _scan_dir(self, rel: bytes, stack: list[bytes]) -> None:
        absolute = _join(self.root, rel) if rel else self.root
        try:
            with os.scandir(absolute) as entries:
                # Sorting keeps runs reproducible: the same files land in the same batches.
                children = sorted(entries, key=lambda e: e.name)
        except OSError as exc:
            self.result.unreadable_dirs.append(rel)
            self.result.problems.append(
                ScanProblem(
                    rel or b".",
                    "unreadable folder",
                    f"cannot list {display_path(absolute)} ({exc.strerror or exc}); "
                    "fix its permissions (chmod u+rx) and run again. "
                    "Files already indexed under it are kept.",
                )
            )
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
        if key in self._visited:
            self.result.problems.append(
                ScanProblem(
                    rel,
                    "symlink loop",
                    f"{display_path(entry.path)} links to a folder already walked; skipped.",
                )
            )
            return False
        self._visited.add(key)
        return True

    def _add_file(self, entry: os.DirEntry[bytes], rel: bytes) -> None:
        try:
            st = entry.stat(follow_symlinks=True)
        except OSError as exc:
            if exc.errno in (errno.ENOENT, errno.ELOOP):
                self.result.problems.append(
                    ScanProblem(
                        rel,
                        "broken symlink",
                        f"{display_path(entry.path)} points to nothing; remove or fix the link.",
                    )
                )
            else:
                self.result.problems.append(
                    ScanProblem(rel, "unreadable file", f"cannot stat {display_path(entry.path)}")
                )
            return
        if not stat.S_ISREG(st.st_mode):
            return  # fifos, sockets and devices are not media, and reading a fifo would block
        self.result.files.append(ScannedFile(rel, st.st_size, st.st_mtime_ns))
        if self.on_progress is not None:
            self.on_progress(len(self.result.files))
