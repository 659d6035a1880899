"""Whether an installed plugin was made for this core.

A plugin distribution declares the core versions it supports as its requirement on
``mmsearch`` (first-party ones: ``mmsearch>=X.Y.Z,<X.(Y+1)``, see scripts/versions.py).
pip keeps that true when it installs both, but not after ``pip install --no-deps``, a core
upgraded on its own, or a copy of site-packages; a plugin built against another core's
contracts would then fail in the middle of an index run. It is refused at load instead,
before it is imported, with what to install.
"""

from __future__ import annotations

import re
from importlib.metadata import Distribution

CORE = "mmsearch"
# The requirement on the core in a plugin's metadata, e.g. ``mmsearch>=0.1.0,<0.2`` or
# ``mmsearch (<0.2,>=0.1.0) ; extra == "test"`` (not ``mmsearch-images...``).
_CORE_LINE = re.compile(
    r"^\s*mmsearch(?![A-Za-z0-9._-])\s*(?:\[[^\]]*\])?\s*"
    r"(?:\((?P<paren>[^)]*)\)|(?P<bare>[^;]*))\s*(?:;(?P<marker>.*))?$",
    re.IGNORECASE,
)
_CLAUSE = re.compile(r"^(>=|<=|==|!=|<|>)\s*(\d+(?:\.\d+)*)$")
_NUMERIC = re.compile(r"^\d+(?:\.\d+)*$")
_COMPARE = {
    ">=": lambda a, b: a >= b,
    "<=": lambda a, b: a <= b,
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    ">": lambda a, b: a > b,
}


def core_version() -> str:
    """The running core's version."""
    from mmsearch import __version__

    return __version__


def core_range(version: str) -> str:
    """The core versions a plugin released with core ``version`` supports: the same series,
    ``>=X.Y.Z,<X.(Y+1)`` before 1.0 and ``>=X.Y.Z,<X+1`` from 1.0 on (scripts/versions.py)."""
    from packaging.version import Version

    release = (*Version(version).release, 0, 0)
    major, minor = release[0], release[1]
    upper = f"{major}.{minor + 1}" if major == 0 else f"{major + 1}"
    return f">={version},<{upper}"


def supported_cores(dist: Distribution) -> str | None:
    """The plugin's specifier on the core (``>=0.1.0,<0.2``), if it states one for loading."""
    for line in dist.requires or ():
        match = _CORE_LINE.match(line)
        if match is None:
            continue
        marker = match["marker"] or ""
        if "extra" in marker:
            continue  # only for one of its extras, not for loading it
        return (match["paren"] or match["bare"] or "").strip()
    return None


def _padded(version: str, width: int) -> tuple[int, ...]:
    parts = tuple(int(p) for p in version.split("."))
    return parts + (0,) * (width - len(parts))


def _plain_allows(specifier: str, core: str) -> bool | None:
    """The answer for plain numeric clauses (what pip would say); None for anything else.

    Plugin loading runs on every command, and ``packaging`` costs tens of milliseconds to
    import; the ranges the version rule writes never need it.
    """
    if not _NUMERIC.match(core):
        return None
    for clause in filter(None, (c.strip() for c in specifier.split(","))):
        match = _CLAUSE.match(clause)
        if match is None:
            return None
        op, bound = match.groups()
        width = max(len(core.split(".")), len(bound.split(".")))
        if not _COMPARE[op](_padded(core, width), _padded(bound, width)):
            return False
    return True


def _allows(specifier: str, core: str) -> bool:
    plain = _plain_allows(specifier, core)
    if plain is not None:
        return plain
    from packaging.specifiers import InvalidSpecifier, SpecifierSet
    from packaging.version import InvalidVersion, Version

    try:
        return SpecifierSet(specifier).contains(Version(core), prereleases=True)
    except (InvalidSpecifier, InvalidVersion):
        return True  # unreadable: pip would not have installed it; do not guess a refusal


def core_mismatch(dist: Distribution | None, core: str | None = None) -> str | None:
    """Why this plugin distribution cannot be loaded with this core, or None if it can."""
    if dist is None:
        return None
    name = dist.metadata["Name"]
    if name is None or name.lower() == CORE:
        return None  # the core's own entry points
    specifier = supported_cores(dist)
    if not specifier:
        return None
    core = core or core_version()
    if _allows(specifier, core):
        return None
    return (
        f"{name} {dist.version} supports mmsearch{specifier}, but mmsearch {core} is "
        f"installed; not loaded. Install matching versions: a release of {name} made for "
        f'mmsearch {core}, or pip install "mmsearch{specifier}" '
        f'(first-party plugins: pip install "mmsearch[all]=={core}")'
    )
