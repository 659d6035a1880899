"""The manifest of a model folder: each file with its size and sha256.

``manifest.json`` sits beside the weights in every folder ``models pull``, ``export`` and
``import`` write. Paths in it are relative and ``/``-separated; one that climbs out of the
folder (``..``, an absolute path) is refused, so a crafted manifest cannot write or read
elsewhere.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from mmsearch.errors import MmsearchError

MANIFEST = "manifest.json"
FORMAT = "mmsearch-model/1"
_CHUNK = 1 << 20


class ModelError(MmsearchError):
    """A model cannot be listed, fetched, carried or checked; the message says what to do."""


def sha256_of(path: Path) -> str:
    """The file's SHA-256, hex, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def safe_relative(path: str, manifest: Path) -> PurePosixPath:
    """``path`` as a relative path inside the model folder; ModelError if it leaves it."""
    rel = PurePosixPath(path)
    if not path or rel.is_absolute() or ".." in rel.parts or "\\" in path:
        raise ModelError(
            f"{manifest}: the file {path!r} is not a plain relative path inside the folder; "
            "the manifest was not written by `mmsearch models export`: nothing imported"
        )
    return rel


@dataclass(frozen=True, slots=True)
class Entry:
    """One file of a model: where it is in the folder, its size and sha256."""

    path: str
    size: int
    sha256: str


@dataclass(slots=True)
class Manifest:
    """What ``manifest.json`` holds."""

    name: str
    files: list[Entry] = field(default_factory=list)
    exported_by: str = ""

    def to_json(self) -> dict[str, Any]:
        """The file's JSON shape."""
        return {
            "format": FORMAT,
            "name": self.name,
            "exported_by": self.exported_by,
            "files": [{"path": e.path, "size": e.size, "sha256": e.sha256} for e in self.files],
        }

    def write(self, folder: Path) -> Path:
        """Write ``manifest.json`` into ``folder``."""
        target = folder / MANIFEST
        target.write_text(json.dumps(self.to_json(), indent=1) + "\n", encoding="utf-8")
        return target

    @classmethod
    def read(cls, folder: Path) -> Manifest:
        """The manifest of ``folder``; ModelError naming the file when it is missing or bad."""
        path = folder / MANIFEST
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise ModelError(
                f"{folder} has no {MANIFEST}: it is not a folder written by "
                "`mmsearch models export NAME DIR`; export the model again"
            ) from exc
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ModelError(f"{path} cannot be read as a manifest ({exc}); export again") from exc
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ModelError(
                f"{path} is not an mmsearch model manifest (format {FORMAT!r} expected); "
                "export the model again with this version of mmsearch"
            )
        try:
            entries = [
                Entry(str(f["path"]), int(f["size"]), str(f["sha256"]).lower())
                for f in data["files"]
            ]
            name = str(data["name"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(
                f"{path} lacks a name or a file's path, size or sha256 ({exc})"
            ) from exc
        for entry in entries:
            safe_relative(entry.path, path)
        return cls(name=name, files=entries, exported_by=str(data.get("exported_by", "")))


def entry_for(folder: Path, rel: str) -> Entry:
    """Hash one file of ``folder`` into a manifest entry."""
    path = folder / rel
    return Entry(rel, path.stat().st_size, sha256_of(path))
