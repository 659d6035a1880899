"""``mmsearch plugin new NAME``: write a working plugin distribution to start from.

The templates live in ``mmsearch/templates/plugin/`` (shipped in the wheel) and
are filled with :class:`string.Template`. The result installs with pip, is
found through the ``mmsearch`` entry-point group, and its tests run the test
kit's conformance suite against the example it holds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from string import Template
from typing import Literal

import click

from mmsearch import __version__
from mmsearch.errors import UsageError
from mmsearch.plugin_compat import core_range

Kind = Literal["extractor", "encoder"]

_NAME = re.compile(r"^[a-z][a-z0-9]*(?:[-_][a-z0-9]+)*$")
_SUMMARIES = {
    "extractor": "CSV files as searchable rows (an example extractor to adapt).",
    "encoder": "character-trigram text embeddings (an example encoder to adapt).",
}
_SUITES = {"extractor": "ExtractorConformance", "encoder": "EncoderConformance"}
_RULES = {
    "extractor": "capabilities, sniffing, valid segments, determinism, thread safety",
    "encoder": "capabilities, shapes and dtype, unit rows, determinism, batch consistency, "
    "NaN rejection, configure",
}
_TRY = {
    "extractor": 'mmsearch index ./my-tables && mmsearch query "harbour"',
    "encoder": "mmsearch --db trigrams.db index ./my-notes --encoder {name}",
}


@dataclass(frozen=True, slots=True)
class PluginNames:
    """The names one plugin goes by: entry point, distribution, package, class prefix."""

    name: str
    dist: str
    package: str
    prefix: str

    @classmethod
    def from_name(cls, name: str) -> PluginNames:
        """Derive every name from NAME (lower case, digits, ``-`` or ``_`` between words)."""
        if not _NAME.match(name):
            raise UsageError(
                f"{name!r} is not a plugin name: use lower-case letters and digits, words "
                "joined by - or _ (e.g. weather-csv)."
            )
        short = name.removeprefix("mmsearch-").removeprefix("mmsearch_")
        words = re.split(r"[-_]", short)
        return cls(
            name=short,
            dist="mmsearch-" + "-".join(words),
            package="mmsearch_" + "_".join(words),
            prefix="".join(word.capitalize() for word in words),
        )


def _template(filename: str) -> Template:
    return Template(files("mmsearch").joinpath("templates", "plugin", filename).read_text("utf-8"))


def _layout(names: PluginNames, kind: Kind) -> dict[str, str]:
    """Relative output path -> template file."""
    return {
        "pyproject.toml": "pyproject.toml.tmpl",
        "README.md": "README.md.tmpl",
        f"{names.package}/__init__.py": f"{kind}.py.tmpl",
        f"tests/test_{names.package}.py": f"test_{kind}.py.tmpl",
    }


def render(names: PluginNames, kind: Kind) -> dict[str, str]:
    """The plugin's files, by relative path, without writing anything."""
    values = {
        "name": names.name,
        "dist": names.dist,
        "package": names.package,
        "prefix": names.prefix,
        "kind": kind,
        "summary": _SUMMARIES[kind],
        "suite": _SUITES[kind],
        "rules": _RULES[kind],
        "try_it": _TRY[kind].format(name=names.name),
        "core": core_range(__version__),
    }
    out = {
        path: _template(source).substitute(values) for path, source in _layout(names, kind).items()
    }
    out[f"{names.package}/py.typed"] = ""
    return out


def create_plugin(name: str, parent: Path, kind: Kind = "extractor") -> Path:
    """Write a new plugin distribution under ``parent``; returns its folder.

    Raises :class:`~mmsearch.UsageError` for a bad name, or a folder that exists.
    """
    names = PluginNames.from_name(name)
    target = parent / names.dist
    if target.exists():
        raise UsageError(f"{target} already exists; choose another name or --dir.")
    for relpath, text in render(names, kind).items():
        path = target / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, "utf-8")
    return target


@click.group("plugin")
def plugin_group() -> None:
    """Write plugins: `mmsearch plugin new NAME` starts one."""


@plugin_group.command("new")
@click.argument("name")
@click.option(
    "--kind",
    type=click.Choice(["extractor", "encoder"]),
    default="extractor",
    show_default=True,
    help="What the example in the new plugin is.",
)
@click.option(
    "--dir",
    "parent",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    help="Folder to create the plugin in (default: the current folder).",
)
def new(name: str, kind: Kind, parent: Path) -> None:
    """Create mmsearch-NAME/: a pip-installable plugin with an example and tests."""
    try:
        target = create_plugin(name, parent, kind)
    except UsageError as exc:
        raise click.UsageError(str(exc)) from exc
    for path in sorted(p for p in target.rglob("*") if p.is_file()):
        click.echo(f"created {path}")
    click.echo(f"next: cd {target} && pip install -e '.[test]' && pytest")
