"""The test kit for plugin authors (public API).

Installing mmsearch registers :mod:`mmsearch.testing.pytest_plugin` with pytest
(entry point ``pytest11``), so its ``mmsearch_*`` fixtures are available in every
test. The conformance suites are base classes to subclass; the helpers here
build libraries, register plugins for a test, and generate media.
"""

import pytest

# The suites' plain asserts should explain themselves like a test's own.
pytest.register_assert_rewrite("mmsearch.testing.conformance", "mmsearch.testing.store_conformance")

from mmsearch.testing import checks  # noqa: E402
from mmsearch.testing.conformance import (  # noqa: E402
    AnnotatorConformance,
    EncoderConformance,
    ExtractorConformance,
    source_for,
)
from mmsearch.testing.fakes import FakeEncoder  # noqa: E402
from mmsearch.testing.footprint import HEAVY_MODULES, Footprint, measure  # noqa: E402
from mmsearch.testing.hostile import HostileRun, run_hostile_corpus  # noqa: E402
from mmsearch.testing.media import (  # noqa: E402
    SAMPLE_RATE,
    HostileCorpus,
    HostileFile,
    edge_contents,
    sample_contents,
    write_hostile_media,
    write_sample_media,
)
from mmsearch.testing.registration import (  # noqa: E402
    Plugin,
    installed_plugin,
    load_registry,
    open_library,
    registered,
)
from mmsearch.testing.store_conformance import (  # noqa: E402
    VectorIndexConformance,
    clustered_vectors,
)

__all__ = [
    "HEAVY_MODULES",
    "SAMPLE_RATE",
    "AnnotatorConformance",
    "EncoderConformance",
    "ExtractorConformance",
    "FakeEncoder",
    "Footprint",
    "HostileCorpus",
    "HostileFile",
    "HostileRun",
    "Plugin",
    "VectorIndexConformance",
    "checks",
    "clustered_vectors",
    "edge_contents",
    "installed_plugin",
    "load_registry",
    "measure",
    "open_library",
    "registered",
    "run_hostile_corpus",
    "sample_contents",
    "source_for",
    "write_hostile_media",
    "write_sample_media",
]
