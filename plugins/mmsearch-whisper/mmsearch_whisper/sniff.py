"""Recognising audio files by their first bytes.

Containers that also carry video (MP4, Matroska/WebM, Ogg with Theora) are
claimed only when the head shows audio and no video, so a video plugin, or the
engine's "unsupported type", gets the rest. Bare MPEG frame syncs are checked
field by field, because two random bytes pass a sync test far too often (a
UTF-16 text file starts with ``FF FE``, which looks like an MPEG Layer I frame).
"""

from __future__ import annotations

import re
from collections.abc import Callable

# ISO base media brands that mean audio (iTunes audio, audiobook, protected, Flash audio).
_AUDIO_BRANDS = frozenset({b"M4A ", b"M4B ", b"M4P ", b"F4A ", b"F4B "})
# A Matroska CodecID element (0x86, a one-byte size) followed by the codec's prefix.
_MKV_AUDIO = re.compile(rb"\x86[\x81-\xbf]A_")
_MKV_VIDEO = re.compile(rb"\x86[\x81-\xbf]V_")


def _riff_wave(head: bytes) -> bool:
    return head[:4] in (b"RIFF", b"RF64", b"BW64") and head[8:12] == b"WAVE"


def _aiff(head: bytes) -> bool:
    return head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC")


def _flac(head: bytes) -> bool:
    return head.startswith(b"fLaC")


def _ogg(head: bytes) -> bool:
    return head.startswith(b"OggS") and b"\x80theora" not in head


def _id3(head: bytes) -> bool:
    # An ID3v2 tag: "ID3", a major version 2-4, then a flags byte and a syncsafe size.
    return head[:3] == b"ID3" and head[3:4] in (b"\x02", b"\x03", b"\x04") and head[5:6] != b""


def _mpeg_frame(head: bytes) -> bool:
    """An MPEG-1/2/2.5 Layer II or III frame header (MP3, MP2), every field plausible."""
    if len(head) < 4 or head[0] != 0xFF or head[1] & 0xE0 != 0xE0:
        return False
    version, layer = (head[1] >> 3) & 3, (head[1] >> 1) & 3
    bitrate, rate = head[2] >> 4, (head[2] >> 2) & 3
    # Layer I (3) is rare in files and is what FF FE / FF FF (UTF-16, padding) decode to.
    return version != 1 and layer in (1, 2) and bitrate not in (0, 15) and rate != 3


def _adts(head: bytes) -> bool:
    """An AAC ADTS frame header (bare .aac files)."""
    if len(head) < 7 or head[0] != 0xFF or head[1] & 0xF6 != 0xF0:
        return False
    return (head[2] >> 2) & 0xF < 13  # a valid sampling-frequency index


def _iso_media(head: bytes) -> bool:
    """An MP4 file whose major or compatible brands say audio (M4A and its kin).

    Files with only generic brands ("isom", "mp42") may hold video, and their track
    list is usually at the end of the file, so they are left to the extension.
    """
    if head[4:8] != b"ftyp":
        return False
    size = int.from_bytes(head[:4], "big")
    box = head[8 : min(max(size, 16), len(head))]
    brands = {box[0:4]} | {box[i : i + 4] for i in range(8, len(box) - 3, 4)}
    return bool(brands & _AUDIO_BRANDS)


def _matroska(head: bytes) -> bool:
    """WebM or Matroska whose track list, in the head, has audio and no video."""
    if not head.startswith(b"\x1a\x45\xdf\xa3"):
        return False
    return bool(_MKV_AUDIO.search(head)) and not _MKV_VIDEO.search(head)


SNIFFERS: tuple[Callable[[bytes], bool], ...] = (
    _riff_wave,
    _aiff,
    _flac,
    _ogg,
    _id3,
    _mpeg_frame,
    _adts,
    _iso_media,
    _matroska,
)


def looks_like_audio(head: bytes) -> bool:
    """Whether the first bytes of a file are those of an audio format this plugin reads."""
    return any(sniff(head) for sniff in SNIFFERS)
