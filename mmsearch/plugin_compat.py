"""Whether an installed plugin was made for this core.

A plugin distribution declares the core versions it supports as its requirement on
``mmsearch`` (first-party ones: ``mmsearch>=X.Y.Z,<X.(Y+1)``, see scripts/versions.py).
pip keeps that true when it installs both, but not after ``pip install --no-deps``, a core
upgraded on its own, or a copy of site-packages; a plugin built against another core's
contracts would then fail in the middle of an index run. It is refused at load instead,
before it is imported, with what to install.
"""

from __future__ import annotations

from importlib.metadata import Distribution

from packaging.requirements import InvalidRequirement, Requirement
from packaging.version import InvalidVersion, Version

CORE = "mmsearch"


def core_version() -> str:
    """The running core's version."""
    from mmsearch import __version__

    return __version__


def core_range(version: str) -> str:
    """The core versions a plugin released with core ``version`` supports: the same series,
    ``>=X.Y.Z,<X.(Y+1)`` before 1.0 and ``>=X.Y.Z,<X+1`` from 1.0 on (scripts/versions.py)."""
    release = (*Version(version).release, 0, 0)
    major, minor = release[0], release[1]
    upper = f"{major}.{minor + 1}" if major == 0 else f"{major + 1}"
    return f">={version},<{upper}"


def supported_cores(dist: Distribution) -> Requirement | None:
    """The plugin's requirement on the core (without extras' markers), if it states one."""
    for line in dist.requires or ():
        try:
            requirement = Requirement(line)
        except InvalidRequirement:
            continue
        if requirement.name.lower() != CORE:
            continue
        if requirement.marker is not None and "extra" in str(requirement.marker):
            continue  # only for one of its extras, not for loading it
        return requirement
    return None


def core_mismatch(dist: Distribution | None, core: str | None = None) -> str | None:
    """Why this plugin distribution cannot be loaded with this core, or None if it can."""
    if dist is None or dist.metadata["Name"] is None:
        return None
    if dist.metadata["Name"].lower() == CORE:
        return None  # the core's own entry points
    requirement = supported_cores(dist)
    if requirement is None or not requirement.specifier:
        return None
    core = core or core_version()
    try:
        running = Version(core)
    except InvalidVersion:
        return None
    if requirement.specifier.contains(running, prereleases=True):
        return None
    name, version = dist.metadata["Name"], dist.version
    return (
        f"{name} {version} supports mmsearch{requirement.specifier}, but mmsearch {core} is "
        f"installed; not loaded. Install matching versions: a release of {name} made for "
        f'mmsearch {core}, or pip install "mmsearch{requirement.specifier}" '
        f'(first-party plugins: pip install "mmsearch[all]=={core}")'
    )
