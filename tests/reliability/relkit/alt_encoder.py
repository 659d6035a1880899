"""A second deterministic encoder, so a run can fill a new space (backfill, activation).

Loaded by name through ``MMSEARCH_PLUGIN_MODULES=relkit.alt_encoder`` in the test
process and in the killed subprocesses alike (tests/reliability on the path).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from mmsearch_hash_encoder import HashEncoder

from mmsearch import Encoder, hookimpl

MODULE = "relkit.alt_encoder"
ENCODER_ID = "hash-alt"


class AltHashEncoder(HashEncoder):
    """The hash encoder in a space of its own: another id, checkpoint and dimension."""

    encoder_id: ClassVar[str] = ENCODER_ID
    dim = 128
    checkpoint = "blake2b-v1-alt"
    priority: ClassVar[int] = -200


@hookimpl
def register_encoders(register: Callable[[Encoder], None]) -> None:
    """Provide the second space's encoder."""
    register(AltHashEncoder())
