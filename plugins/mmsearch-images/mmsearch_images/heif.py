"""HEIC/HEIF photos (iPhones and many Android phones), read through pillow-heif when installed.

pillow-heif is optional: without it, each HEIF file is skipped with one message,
said once per run, that names the package to install. Its Pillow opener is
registered on the first HEIF file, not at import, so other images never pay for it.
libheif applies the file's rotation itself and resets the EXIF orientation, so the
extractor's EXIF transpose does not turn the picture twice.
"""

from __future__ import annotations

import importlib
import threading

from mmsearch import SkipFile

EXTENSIONS = frozenset({"heic", "heif", "hif"})
# Major brands of ISO-BMFF files that hold HEIF still images (HEVC-coded or generic).
_BRANDS = frozenset({b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"})
_AVIF_BRANDS = (b"avif", b"avis")

_lock = threading.Lock()
_registered = False


def is_heif(head: bytes) -> bool:
    """An ISO-BMFF ``ftyp`` box with a HEIF brand (and not an AVIF one, which is AV1)."""
    if head[4:8] != b"ftyp" or head[8:12] not in _BRANDS:
        return False
    box_size = int.from_bytes(head[:4], "big")
    brands = head[8 : max(12, min(box_size, len(head)))]
    return not any(brand in brands for brand in _AVIF_BRANDS)


def missing_decoder() -> SkipFile:
    """The one message for every HEIF file when pillow-heif is not installed."""
    return SkipFile(
        "missing decoder",
        "HEIC/HEIF photos need the pillow-heif package, which is not installed; install it "
        "into mmsearch's environment (pip install pillow-heif) and index again",
        once=True,
    )


def ensure_heif_opener() -> None:
    """Teach Pillow to open HEIF files; raise the missing-decoder skip if it cannot."""
    global _registered
    with _lock:
        if _registered:
            return
        try:
            pillow_heif = importlib.import_module("pillow_heif")
        except ImportError as exc:
            raise missing_decoder() from exc
        pillow_heif.register_heif_opener()
        _registered = True
