"""The FAISS index file: a header that ties it to one catalog and space, then the index.

Layout: ``MAGIC``, an 8-byte header length, a CRC32 of the header, the JSON
header, the serialised index. The header records the catalog's UUID, the space,
the catalog generation the contents reflect, the vector count, the digest of the
ids and vectors it holds, the index kind, and a CRC32 of the payload, so a file
from another catalog, another space, an older generation, with other vectors, or
from a damaged disk is never served. The header has a checksum of its own
because a flipped byte in it can still be valid JSON (a digest that is no longer
hex, a count one off). Files are written atomically: temp file, fsync,
``os.replace``, fsync of the folder.
"""

from __future__ import annotations

import json
import os
import struct
import zlib
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

from mmsearch.faults import fault_point
from mmsearch.store.tempfiles import clear_abandoned, locked_temp

MAGIC = b"MMSFAISS3\n"
"""Version 3 added the header's own checksum; older files are rebuilt from the catalog."""
_HEADER_PREFIX = struct.Struct("<QI")
"""The header's length in bytes and its CRC32."""


class IndexFileError(Exception):
    """An index file that cannot be used: missing, damaged, or for another catalog or space."""


@dataclass(frozen=True, slots=True)
class IndexFileHeader:
    """What an index file says about itself."""

    catalog_id: str
    space_id: int
    generation: int
    ntotal: int
    dim: int
    crc32: int
    kind: str = "flat"
    """``flat`` (exact) or ``ivfpq`` (approximate, exact re-rank from ``vectors_file``)."""
    vectors_file: str | None = None
    """For an approximate index: the file of float32 rows it re-ranks with."""
    build_seconds: float | None = None
    recall: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    digest: str | None = None
    """The digest of the (id, vector) pairs it holds (mmsearch/store/digest.py); None in
    files written before digests, or when it was not known."""


def read_index_file(path: Path) -> tuple[IndexFileHeader, bytes]:
    """The header and payload of ``path``; raises :class:`IndexFileError` saying what is wrong."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise IndexFileError("the index file does not exist") from None
    except OSError as exc:
        raise IndexFileError(f"the index file cannot be read ({exc.strerror})") from exc
    header, offset = _parse_header(raw)
    payload = raw[offset:]
    if zlib.crc32(payload) != header.crc32:
        raise IndexFileError("the index file is damaged (checksum mismatch)")
    return header, payload


def read_header(path: Path) -> IndexFileHeader:
    """Only the header of ``path`` (the payload's checksum is checked too)."""
    return read_index_file(path)[0]


def check_header(header: IndexFileHeader, catalog_id: str, space_id: int, dim: int) -> None:
    """Raise unless the file was written for this catalog's space."""
    if header.catalog_id != catalog_id:
        raise IndexFileError("the index file was made for another catalog")
    if header.space_id != space_id or header.dim != dim:
        raise IndexFileError("the index file belongs to another space")


def _parse_header(raw: bytes) -> tuple[IndexFileHeader, int]:
    if not raw.startswith(MAGIC) or len(raw) < len(MAGIC) + _HEADER_PREFIX.size:
        raise IndexFileError("the index file is not an mmsearch index (or from an older version)")
    offset = len(MAGIC)
    length, crc = _HEADER_PREFIX.unpack_from(raw, offset)
    offset += _HEADER_PREFIX.size
    header_bytes = raw[offset : offset + length]
    if len(header_bytes) != length or zlib.crc32(header_bytes) != crc:
        raise IndexFileError("the index file header is damaged (checksum mismatch)")
    try:
        header = IndexFileHeader(**json.loads(header_bytes))
    except (ValueError, TypeError) as exc:
        raise IndexFileError("the index file header is damaged") from exc
    return header, offset + length


def write_index_file(path: Path, header: IndexFileHeader, payload: bytes) -> None:
    """Write header and payload to ``path`` atomically (the header's crc32 is filled in)."""
    header_bytes = json.dumps(asdict(_with_crc(header, payload))).encode()

    def write(handle: IO[bytes]) -> None:
        handle.write(MAGIC)
        handle.write(_HEADER_PREFIX.pack(len(header_bytes), zlib.crc32(header_bytes)))
        handle.write(header_bytes)
        handle.write(payload)

    write_atomically(path, write)


def _with_crc(header: IndexFileHeader, payload: bytes) -> IndexFileHeader:
    fields = asdict(header)
    fields["crc32"] = zlib.crc32(payload)
    return IndexFileHeader(**fields)


def write_atomically(path: Path, write: Callable[[IO[bytes]], None]) -> None:
    """Run ``write`` on a temp file beside ``path``, fsync it, rename it over ``path``.

    Temp files that a killed writer left (their lock gone with it) are deleted first.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    prefix = f".{path.name}."
    clear_abandoned(path.parent, prefix, ".tmp")
    fd, tmp = locked_temp(path.parent, prefix, ".tmp")
    lock = os.dup(fd)  # keeps the lock after the handle closes, until the rename is done
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        fault_point("cache-temp-written")
        os.replace(tmp, path)
        fault_point("cache-replaced")
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    finally:
        os.close(lock)
    fsync_dir(path.parent)


def fsync_dir(folder: Path) -> None:
    """Make a rename inside ``folder`` durable."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
