"""Telling a camera RAW file from a plain TIFF or JPEG by its first bytes.

Most RAW formats are TIFF inside (DNG, NEF, ARW, CR2, PEF, SRW), so a TIFF
signature alone does not make a picture Pillow can show: Pillow would read the
first IFD, a thumbnail at best. A TIFF whose first IFD names a DNG version or
holds sub-IFDs (where cameras keep the sensor data), or whose head names a camera
maker's RAW, is a RAW for the ``mmsearch-raw`` plugin; so are the formats with
their own signatures (Canon CR2/CR3, Olympus ORF, Panasonic RW2, Fujifilm RAF).
"""

from __future__ import annotations

_DNG_VERSION = 0xC612
_SUB_IFDS = 0x014A
_IFD_ENTRY = 12
_MAKERS = (b"NIKON", b"SONY", b"PENTAX", b"SAMSUNG", b"Leica", b"Hasselblad", b"Phase One")


def _tiff_tags(head: bytes) -> set[int] | None:
    """The tags of the first IFD, if the head is a TIFF whose first IFD fits in it."""
    if head[:4] == b"II*\x00":
        order = "little"
    elif head[:4] == b"MM\x00*":
        order = "big"
    else:
        return None
    offset = int.from_bytes(head[4:8], order)  # type: ignore[arg-type]
    if offset + 2 > len(head):
        return set()
    count = int.from_bytes(head[offset : offset + 2], order)  # type: ignore[arg-type]
    tags = set()
    for n in range(count):
        at = offset + 2 + n * _IFD_ENTRY
        if at + 2 > len(head):
            break
        tags.add(int.from_bytes(head[at : at + 2], order))  # type: ignore[arg-type]
    return tags


def is_camera_raw(head: bytes) -> bool:
    """Whether the first bytes are those of a camera RAW file rather than a plain image."""
    if head[:4] in (b"IIRO", b"IIRS", b"MMOR", b"IIU\x00") or head.startswith(b"FUJIFILMCCD-RAW"):
        return True  # Olympus ORF, Panasonic RW2, Fujifilm RAF
    if head[4:8] == b"ftyp" and head[8:12] == b"crx ":
        return True  # Canon CR3
    tags = _tiff_tags(head)
    if tags is None:
        return False
    if head[8:10] == b"CR":
        return True  # Canon CR2
    return bool(tags & {_DNG_VERSION, _SUB_IFDS}) or any(maker in head for maker in _MAKERS)
