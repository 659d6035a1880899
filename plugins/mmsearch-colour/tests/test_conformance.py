"""The colour encoder against the mmsearch test kit's encoder contract."""

from __future__ import annotations

import pytest
from mmsearch_colour import ColourEncoder

from mmsearch import Encoder
from mmsearch.testing import EncoderConformance


class TestColourEncoderConformance(EncoderConformance):
    @pytest.fixture
    def encoder(self) -> Encoder:
        return ColourEncoder()
