"""Write ``mmsearch_offline/imagenet_glosses.txt``: WordNet's gloss of each ImageNet-1k class,
in class-index order, one per line ("a cat with a grey or tawny coat mottled with black").

A gloss names the class's hypernym ("a cat with ...", "a spacecraft with ..."), so a class
text that carries it puts a tabby near "a cat" and a space shuttle near "a spacecraft":
the offline space's photos gain the words a person searches with (WordNet hypernyms,
without shipping WordNet). The glosses are WordNet 3.0's (Princeton's WordNet licence
allows redistribution with its notice, below), as timm ships them in
``timm/data/_info/imagenet_synset_to_definition.txt`` with the class order in
``imagenet_synsets.txt``. Run it from this folder; the file is committed. After
regenerating, update ``GLOSSES_SHA256`` in ``mmsearch_offline/identity.py`` (a test checks
it), which makes a new space.

WordNet 3.0 Copyright 2006 by Princeton University. All rights reserved. THIS SOFTWARE AND
DATABASE IS PROVIDED "AS IS" AND PRINCETON UNIVERSITY MAKES NO REPRESENTATIONS OR WARRANTIES,
EXPRESS OR IMPLIED.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import timm.data

INFO = Path(timm.data.__file__).resolve().parent / "_info"
OUT = Path(__file__).resolve().parent.parent / "mmsearch_offline" / "imagenet_glosses.txt"


def main() -> None:
    """Write the file and print its SHA-256."""
    wnids = (INFO / "imagenet_synsets.txt").read_text(encoding="utf-8").split()
    table = dict(
        line.rstrip("\n").split("\t", 1)
        for line in (INFO / "imagenet_synset_to_definition.txt").open(encoding="utf-8")
    )
    glosses = [" ".join(table[w].split()) for w in wnids]
    assert len(glosses) == 1000 and all(glosses)
    data = ("\n".join(glosses) + "\n").encode("utf-8")
    OUT.write_bytes(data)
    print(f"wrote {OUT} ({len(glosses)} glosses), sha256 {hashlib.sha256(data).hexdigest()}")


if __name__ == "__main__":
    main()
