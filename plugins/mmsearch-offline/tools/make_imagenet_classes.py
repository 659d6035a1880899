"""Write ``mmsearch_offline/imagenet_classes.txt``: the 1,000 ImageNet-1k class names, in
class-index order, one per line.

The names are the hand-cleaned ones OpenAI published with CLIP (MIT licence) and open_clip
ships as ``open_clip.zero_shot_metadata.IMAGENET_CLASSNAMES``: "tabby cat" rather than
WordNet's "tabby, tabby cat", which embeds better as a sentence. Run it from this folder
with open_clip installed; the file is committed, so the plugin never needs open_clip.
After regenerating, update ``CLASSES_SHA256`` in ``mmsearch_offline/identity.py`` (a test
checks it), which makes the changed names a new space.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from open_clip.zero_shot_metadata import IMAGENET_CLASSNAMES

OUT = Path(__file__).resolve().parent.parent / "mmsearch_offline" / "imagenet_classes.txt"


def main() -> None:
    """Write the file and print its SHA-256."""
    names = list(IMAGENET_CLASSNAMES)
    assert len(names) == 1000 and all("\n" not in n and n.strip() == n for n in names)
    data = ("\n".join(names) + "\n").encode("utf-8")
    OUT.write_bytes(data)
    print(f"wrote {OUT} ({len(names)} names), sha256 {hashlib.sha256(data).hexdigest()}")


if __name__ == "__main__":
    main()
