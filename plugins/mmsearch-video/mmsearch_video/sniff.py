"""Recognising video containers by their first bytes.

MP4/QuickTime, Matroska/WebM, AVI and MPEG transport streams. Containers that
also hold audio only, or pictures, are left to the plugins that read those: an
ISO file whose brands say audio (M4A) or an image (HEIF, AVIF, Canon CR3), and a
Matroska file whose track list in the head shows audio and no video. What is
claimed here but turns out to hold no video stream is skipped by the extractor,
while the speech extractor still reads its sound.
"""

from __future__ import annotations

import re

# ISO base media brands of audio files and of still images / camera RAW: not videos.
_NOT_VIDEO_BRANDS = frozenset(
    {
        b"M4A ", b"M4B ", b"M4P ", b"F4A ", b"F4B ",
        b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1",
        b"avif", b"avis", b"crx ", b"jp2 ", b"jpx ",
    }
)  # fmt: skip
# QuickTime files from before ftyp start with one of these atoms.
_QUICKTIME_ATOMS = frozenset({b"moov", b"mdat", b"wide", b"pnot", b"free", b"skip"})
_MKV_AUDIO = re.compile(rb"\x86[\x81-\xbf]A_")
_MKV_VIDEO = re.compile(rb"\x86[\x81-\xbf]V_")
_TS_PACKET = 188


def _iso_brands(head: bytes) -> set[bytes]:
    size = int.from_bytes(head[:4], "big")
    box = head[8 : min(max(size, 16), len(head))]
    return {box[0:4]} | {box[i : i + 4] for i in range(8, len(box) - 3, 4)}


def _iso_video(head: bytes) -> bool:
    if head[4:8] == b"ftyp":
        return not (_iso_brands(head) & _NOT_VIDEO_BRANDS)
    return head[4:8] in _QUICKTIME_ATOMS and int.from_bytes(head[:4], "big") >= 8


def _matroska_video(head: bytes) -> bool:
    if not head.startswith(b"\x1a\x45\xdf\xa3"):
        return False
    return bool(_MKV_VIDEO.search(head)) or not _MKV_AUDIO.search(head)


def _avi(head: bytes) -> bool:
    return head[:4] == b"RIFF" and head[8:12] == b"AVI "


def _transport_stream(head: bytes) -> bool:
    """Three MPEG-TS sync bytes 188 bytes apart (or 192, for M2TS's timecoded packets)."""
    for first, step in ((0, _TS_PACKET), (4, _TS_PACKET + 4)):
        if len(head) > first + 2 * step and all(head[first + n * step] == 0x47 for n in range(3)):
            return True
    return False


def looks_like_video(head: bytes) -> bool:
    """Whether the first bytes are those of a video container this plugin reads."""
    if len(head) < 12:
        return False
    return _iso_video(head) or _matroska_video(head) or _avi(head) or _transport_stream(head)
