"""Putting plugins in front of the engine for a test: as objects, as modules, for one test."""

from __future__ import annotations

import itertools
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from mmsearch.contracts import Annotator, Encoder, Extractor
from mmsearch.hookspecs import hookimpl

if TYPE_CHECKING:
    from mmsearch.library import Library
    from mmsearch.plugins import Registry

PLUGIN_MODULES = "MMSEARCH_PLUGIN_MODULES"
_counter = itertools.count(1)


class Plugin:
    """A plugin made of given objects: registers exactly these extractors, encoders, annotators."""

    def __init__(
        self,
        *,
        extractors: Sequence[Extractor] = (),
        encoders: Sequence[Encoder] = (),
        annotators: Sequence[Annotator] = (),
        name: str = "test-plugin",
    ) -> None:
        self.__name__ = name
        self.extractors = list(extractors)
        self.encoders = list(encoders)
        self.annotators = list(annotators)

    @hookimpl
    def register_extractors(self, register: Callable[[Extractor], None]) -> None:
        """Register the given extractors."""
        for extractor in self.extractors:
            register(extractor)

    @hookimpl
    def register_encoders(self, register: Callable[[Encoder], None]) -> None:
        """Register the given encoders."""
        for encoder in self.encoders:
            register(encoder)

    @hookimpl
    def register_annotators(self, register: Callable[[Annotator], None]) -> None:
        """Register the given annotators."""
        for annotator in self.annotators:
            register(annotator)


def load_registry(*plugins: object, discover: bool = False) -> Registry:
    """A registry of exactly ``plugins`` (modules or objects with hook implementations).

    With ``discover=True`` the installed plugins are loaded too, as the CLI does.
    """
    from mmsearch.plugins import load_plugins

    return load_plugins(*plugins, discover=discover)


def open_library(path: str | os.PathLike[str], *plugins: object, discover: bool = False) -> Library:
    """A :class:`~mmsearch.Library` at ``path`` whose plugins are exactly ``plugins``.

    Close it when done (it is a context manager).
    """
    from mmsearch.library import Library

    return Library.open(Path(path), registry=load_registry(*plugins, discover=discover))


def installed_plugin(
    *, encoders: Sequence[Encoder] = (), with_annotators: bool = True, name: str = "installed"
) -> Plugin:
    """The installed plugins' extractors (and annotators), with ``encoders`` as the only encoders.

    A library built from it reads files as a user's would, while its vectors
    come from a deterministic encoder whatever models are installed.
    """
    installed = load_registry(discover=True)
    annotators = installed.annotators if with_annotators else []
    return Plugin(
        extractors=installed.extractors, encoders=encoders, annotators=annotators, name=name
    )


@contextmanager
def registered(plugin: object, name: str | None = None) -> Iterator[str]:
    """Make every plugin discovery in the block (CLI and API alike) include ``plugin``.

    ``plugin`` is a module, an importable module name, or an object with hook
    implementations. It is added to ``MMSEARCH_PLUGIN_MODULES`` under ``name``
    (the name ``mmsearch plugins`` shows) and removed when the block ends.
    Yields the name.
    """
    if isinstance(plugin, str):
        module_name, owned = plugin, False
    else:
        module_name = name or f"mmsearch_test_plugin_{next(_counter)}"
        if module_name in sys.modules:
            raise ValueError(f"{module_name!r} is an imported module; give another name")
        sys.modules[module_name] = plugin  # type: ignore[assignment]
        owned = True
    before = os.environ.get(PLUGIN_MODULES)
    os.environ[PLUGIN_MODULES] = ",".join(filter(None, [before, module_name]))
    try:
        yield module_name
    finally:
        if before is None:
            os.environ.pop(PLUGIN_MODULES, None)
        else:
            os.environ[PLUGIN_MODULES] = before
        if owned:
            sys.modules.pop(module_name, None)
