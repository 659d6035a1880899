"""The version rule of mmsearch's first-party distributions: check it, or apply it.

One source of truth: ``__version__`` in ``mmsearch/__init__.py`` (the core's pyproject reads
it). Every other version is derived from it and checked here:

- every ``plugins/*/pyproject.toml`` has the core's version;
- each of them, and the plugins they depend on, declares the core range it supports:
  ``mmsearch>=X.Y.Z,<X.(Y+1)`` (before 1.0; ``<X+1`` from 1.0 on), the series it was
  released with, which the core checks when it loads the plugin;
- the core's ``all`` extra pins every plugin at that version (a plugin whose pyproject says
  ``[tool.mmsearch] all = false`` stays out of it).

Usage (from the repository root)::

    python scripts/versions.py               # check; exit 1 naming each difference
    python scripts/versions.py --sync        # rewrite the derived versions (after adding a plugin)
    python scripts/versions.py --set 0.2.0   # a new release: set the core's version, then sync
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # run from a checkout: the rule's range is the core's own

from mmsearch.plugin_compat import core_range  # noqa: E402

CORE_INIT = REPO / "mmsearch" / "__init__.py"
CORE_PYPROJECT = REPO / "pyproject.toml"
_VERSION_LINE = re.compile(r'^__version__ = "[^"]*"$', re.M)
_PROJECT_VERSION = re.compile(r'^version = "[^"]*"$', re.M)
_ALL_EXTRA = re.compile(r"^all = \[\n(?:    [^\n]*\n)*\]\n", re.M)


@dataclass(frozen=True, slots=True)
class Plugin:
    """One first-party plugin distribution."""

    name: str
    pyproject: Path
    version: str
    dependencies: tuple[str, ...]
    in_all: bool


def core_version() -> str:
    """The core's version, read from ``mmsearch/__init__.py`` without importing it."""
    tree = ast.parse(CORE_INIT.read_text(encoding="utf-8"))
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "__version__" for t in node.targets)
            and isinstance(node.value, ast.Constant)
        ):
            return str(node.value.value)
    raise SystemExit(f"{CORE_INIT}: no __version__ = '...' line; put one back")


def plugins(repo: Path = REPO) -> list[Plugin]:
    """Every ``plugins/*/pyproject.toml``, sorted by distribution name."""
    found = []
    for path in sorted((repo / "plugins").glob("*/pyproject.toml")):
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        project = data.get("project", {})
        found.append(
            Plugin(
                name=str(project.get("name", path.parent.name)),
                pyproject=path,
                version=str(project.get("version", "")),
                dependencies=tuple(project.get("dependencies", ())),
                in_all=bool(data.get("tool", {}).get("mmsearch", {}).get("all", True)),
            )
        )
    return sorted(found, key=lambda p: p.name)


def _first_party_names(found: list[Plugin]) -> set[str]:
    return {"mmsearch", *(p.name for p in found)}


def _requirement_name(requirement: str) -> str:
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    return match.group(1).lower().replace("_", "-") if match else ""


def _wanted_dependency(requirement: str, names: set[str], version: str) -> str:
    """The requirement as the rule writes it: first-party ones get the core range."""
    name = _requirement_name(requirement)
    if name not in names:
        return requirement
    head = re.match(r"\s*[A-Za-z0-9._-]+(\[[^\]]*\])?", requirement)
    extras = head.group(1) or "" if head else ""
    _, sep, marker = requirement.partition(";")
    return f"{name}{extras}{core_range(version)}" + (f"; {marker.strip()}" if sep else "")


def all_extra(found: list[Plugin], version: str) -> list[str]:
    """The ``all`` extra the rule gives: every plugin that is in it, pinned."""
    return [f"{p.name}=={version}" for p in found if p.in_all]


def problems(repo: Path = REPO) -> list[str]:
    """Each way the tree breaks the rule, with what to do."""
    version = core_version()
    found = plugins(repo)
    names = _first_party_names(found)
    fix = "run `python scripts/versions.py --sync`"
    out = []
    for plugin in found:
        where = plugin.pyproject.relative_to(repo)
        if plugin.version != version:
            out.append(f"{where}: version {plugin.version!r}, the core is {version!r}; {fix}")
        if not any(_requirement_name(d) == "mmsearch" for d in plugin.dependencies):
            out.append(f'{where}: no "mmsearch{core_range(version)}" dependency; {fix}')
        for dep in plugin.dependencies:
            wanted = _wanted_dependency(dep, names, version)
            if dep != wanted:
                out.append(f"{where}: dependency {dep!r} should be {wanted!r}; {fix}")
    core = tomllib.loads(CORE_PYPROJECT.read_text(encoding="utf-8"))
    extra = core["project"].get("optional-dependencies", {}).get("all")
    if extra != all_extra(found, version):
        out.append(
            f"pyproject.toml: the `all` extra is {extra!r}, the rule gives "
            f"{all_extra(found, version)!r}; {fix}"
        )
    return out


def _sync_plugin(plugin: Plugin, names: set[str], version: str) -> None:
    text = plugin.pyproject.read_text(encoding="utf-8")
    text = _PROJECT_VERSION.sub(f'version = "{version}"', text, count=1)
    for dep in plugin.dependencies:
        wanted = _wanted_dependency(dep, names, version)
        text = text.replace(f'"{dep}"', f'"{wanted}"')
    plugin.pyproject.write_text(text, encoding="utf-8")


def sync(version: str | None = None) -> None:
    """Write ``version`` (or keep the core's) everywhere the rule derives it."""
    if version is not None:
        text = CORE_INIT.read_text(encoding="utf-8")
        CORE_INIT.write_text(_VERSION_LINE.sub(f'__version__ = "{version}"', text), "utf-8")
    version = core_version()
    found = plugins()
    names = _first_party_names(found)
    for plugin in found:
        _sync_plugin(plugin, names, version)
    lines = "".join(f'    "{req}",\n' for req in all_extra(found, version))
    text = CORE_PYPROJECT.read_text(encoding="utf-8")
    if not _ALL_EXTRA.search(text):
        raise SystemExit("pyproject.toml: no `all = [` ... `]` block to rewrite; put one back")
    CORE_PYPROJECT.write_text(_ALL_EXTRA.sub(f"all = [\n{lines}]\n", text, count=1), "utf-8")


def main(argv: list[str] | None = None) -> int:
    """Check the rule, or apply it (``--sync``, ``--set VERSION``)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sync", action="store_true", help="rewrite the derived versions")
    parser.add_argument("--set", metavar="VERSION", help="set the core's version, then sync")
    args = parser.parse_args(argv)
    if args.set or args.sync:
        sync(args.set)
    found = problems()
    for line in found:
        print(line, file=sys.stderr)
    if not found:
        print(f"mmsearch {core_version()}: {len(plugins())} first-party plugins follow the rule")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
