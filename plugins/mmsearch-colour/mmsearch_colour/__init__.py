"""mmsearch plugin: search photos by their dominant colours.

Adds the ``colour`` space: a photo becomes the distribution of its pixels over
a palette of 26 colours, and a phrase such as "mostly blue", "dark red with some
white" or "orange sunset" becomes the distribution it describes. Index into it
with ``mmsearch index PHOTOS --encoder colour --db colours.db``; it is never
picked by default (priority -200), because it knows colours and nothing else.

Nothing is loaded at import: the palette is built on the first encode.
"""

from __future__ import annotations

from collections.abc import Callable

from mmsearch import Encoder, hookimpl
from mmsearch_colour.encoder import ColourEncoder
from mmsearch_colour.palette import PALETTE_VERSION, PROTOTYPES
from mmsearch_colour.words import Mention, mentions

__all__ = [
    "PALETTE_VERSION",
    "PROTOTYPES",
    "ColourEncoder",
    "Mention",
    "mentions",
    "register_encoders",
]


@hookimpl
def register_encoders(register: Callable[[Encoder], None]) -> None:
    """Provide the colour encoder."""
    register(ColourEncoder())
