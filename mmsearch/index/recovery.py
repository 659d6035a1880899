"""When a file the catalog already has is read again, though its size and mtime are the same.

A skip depends on more than the file: on the caps the user set (``--max-text-mb``,
``--max-image-megapixels``, plugin options), on the extractors installed, and on
the per-file time budget. A skipped item keeps a fingerprint of all of those
(:func:`skip_key`), and is read again when the fingerprint of a run differs: the
user raised the cap, or installed the plugin, as the message advised.

A file the user could not read, or that the disk failed to read, is retried on
every run instead: a permission is fixed, or a drive reconnected, without
touching the file, and the retry costs one failed ``open`` or read (an
``access`` check first would cost a call too, and answers for the real uid, not
the one that opens). Everything else waits for ``--retry-skipped``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence

from mmsearch.contracts import Extractor, ExtractSettings
from mmsearch.index.oserrors import READ_ERROR, UNREADABLE_FILE
from mmsearch.store.catalog import KnownItem

RETRIED_EVERY_RUN = frozenset({UNREADABLE_FILE, READ_ERROR})
"""Skip reasons whose cause can go away without the file changing or the settings."""


def skip_key(
    settings: ExtractSettings, extractors: Sequence[Extractor], file_timeout: float | None
) -> str:
    """A fingerprint of everything a skip can depend on besides the file itself."""
    described = {
        "max_image_megapixels": settings.max_image_megapixels,
        "max_text_bytes": settings.max_text_bytes,
        "text_chunk_chars": settings.text_chunk_chars,
        "options": {str(k): str(v) for k, v in settings.options.items()},
        "extractors": sorted(e.name for e in extractors),
        "file_timeout": file_timeout,
    }
    text = json.dumps(described, sort_keys=True)
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def must_reread(
    item: KnownItem, key: str, *, retry_failed: bool = False, retry_skipped: bool = False
) -> bool:
    """Whether an item whose file looks unchanged is read again, in a run of fingerprint ``key``."""
    if item.status == "failed":
        return retry_failed
    if item.status != "skipped":
        return False
    # A skip recorded before fingerprints existed has none: it is tried once more.
    return retry_skipped or item.reason in RETRIED_EVERY_RUN or item.skip_key != key
