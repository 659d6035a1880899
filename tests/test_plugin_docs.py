"""docs/plugins.md against the code: hooks and their arguments, contract attributes, the
test kit's suites, fixtures and helpers, the environment variables, and runnable examples.

Everything is read from the real modules, so a hook, attribute or fixture added
to the code and not to the page (or named on the page and gone from the code)
fails here.
"""

from __future__ import annotations

import dataclasses
import inspect
import os
import re
import subprocess
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import mmsearch.testing
from mmsearch import contracts, hookspecs
from mmsearch.query import ranking
from mmsearch.testing import pytest_plugin

REPO = Path(__file__).resolve().parent.parent
DOC = (REPO / "docs" / "plugins.md").read_text("utf-8")
_HEADING = re.compile(r"^(#{2,4}) (.+)$", re.MULTILINE)
_ROW = re.compile(r"^\| `(\w+)` \|", re.MULTILINE)
_ARG = re.compile(r"^- `(\w+)` \(`([^`]+)`\)", re.MULTILINE)
_BLOCK = re.compile(r"^```python\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def section(title: str, text: str = DOC) -> str:
    """The text under a heading, up to the next heading of the same or a higher level."""
    for match in _HEADING.finditer(text):
        if match[2].strip() == title:
            level = len(match[1])
            rest = text[match.end() :]
            ends = [m.start() for m in _HEADING.finditer(rest) if len(m[1]) <= level]
            return rest[: ends[0]] if ends else rest
    raise AssertionError(f"docs/plugins.md has no heading {title!r}")


def subheadings(text: str, level: int) -> list[str]:
    return [m[2] for m in _HEADING.finditer(text) if len(m[1]) == level]


# -- hooks --------------------------------------------------------------------------------


def hook_specs() -> dict[str, Any]:
    return {name: f for name, f in vars(hookspecs).items() if hasattr(f, "mmsearch_spec")}


def signature_line(name: str, function: Any) -> str:
    signature = inspect.signature(function)
    params = ", ".join(f"{p.name}: {p.annotation}" for p in signature.parameters.values())
    return f"{name}({params}) -> {signature.return_annotation}"


def test_every_hook_is_documented_and_every_documented_hook_exists() -> None:
    documented = {h.strip("`") for h in subheadings(section("Hooks"), 3) if h.startswith("`")}
    assert documented == set(hook_specs())


@pytest.mark.parametrize("name", sorted(hook_specs()))
def test_a_hooks_signature_and_arguments_match_the_hookspec(name: str) -> None:
    text = section(f"`{name}`")
    function = hook_specs()[name]
    assert f"\n{signature_line(name, function)}\n" in text, signature_line(name, function)
    params = inspect.signature(function).parameters.values()
    assert dict(_ARG.findall(text)) == {p.name: str(p.annotation) for p in params}
    assert "```python" in text, f"{name} has no runnable example"


# -- contracts ----------------------------------------------------------------------------


CONTRACT_MODULES = (contracts, ranking)


def contract_classes() -> dict[str, type]:
    return {
        name: obj
        for module in CONTRACT_MODULES
        for name, obj in vars(module).items()
        if inspect.isclass(obj) and obj.__module__ == module.__name__
    }


def public_members(cls: type) -> set[str]:
    """Fields and annotated attributes (inherited within the module), public methods, properties."""
    if cls is contracts.SkipFile:
        return set(inspect.signature(cls.__init__).parameters) - {"self"}
    names: set[str] = set()
    for klass in cls.__mro__:
        if klass.__module__ in {m.__name__ for m in CONTRACT_MODULES}:
            names |= set(getattr(klass, "__annotations__", {}))
    if dataclasses.is_dataclass(cls):
        names |= {f.name for f in dataclasses.fields(cls)}
    for name, value in vars(cls).items():
        if callable(value) or isinstance(value, property | staticmethod | classmethod):
            names.add(name)
    return {n for n in names if not n.startswith("_")}


def test_every_contract_class_has_a_section() -> None:
    documented = {h.strip("`") for h in subheadings(section("Contracts"), 3)}
    assert documented == set(contract_classes())


@pytest.mark.parametrize("name", sorted(contract_classes()))
def test_a_contracts_documented_attributes_are_exactly_its_attributes(name: str) -> None:
    rows = set(_ROW.findall(section(f"`{name}`", section("Contracts"))))
    assert rows == public_members(contract_classes()[name])


@pytest.mark.parametrize("cls", [contracts.ModelSpec, contracts.ModelFile])
def test_the_model_declarations_fields_are_documented(cls: type) -> None:
    rows = set(_ROW.findall(section(f"`{cls.__name__}`", section("Models"))))
    assert rows == {f.name for f in dataclasses.fields(cls)}


# -- the test kit -------------------------------------------------------------------------

SUITES = (
    "EncoderConformance",
    "ExtractorConformance",
    "AnnotatorConformance",
    "VectorIndexConformance",
)


@pytest.mark.parametrize("name", SUITES)
def test_every_rule_fixture_and_setting_of_a_suite_is_documented(name: str) -> None:
    suite = getattr(mmsearch.testing, name)
    members = {m for m in dir(suite) if not m.startswith("_")} - set(dir(object))
    rows = set(_ROW.findall(section(f"`{name}`", section("The test kit"))))
    assert rows == members
    assert {m for m in members if m.startswith("test_")}, "a suite without rules"


def test_every_fixture_is_documented() -> None:
    fixtures = {n for n in vars(pytest_plugin) if n.startswith("mmsearch_")}
    assert set(_ROW.findall(section("Fixtures"))) == fixtures


def test_every_export_of_the_kit_is_documented() -> None:
    kit = section("The test kit")
    missing = [n for n in mmsearch.testing.__all__ if f"`{n}`" not in kit]
    assert not missing


def test_every_environment_variable_is_documented() -> None:
    source = (REPO / "mmsearch" / "plugins.py").read_text()
    names = set(re.findall(r"MMSEARCH_[A-Z_]+", source))
    assert names and all(name in DOC for name in names), names - set(
        re.findall(r"MMSEARCH_[A-Z_]+", DOC)
    )


# -- the examples run ---------------------------------------------------------------------


def examples() -> Iterator[Any]:
    for n, match in enumerate(_BLOCK.finditer(DOC)):
        line = DOC[: match.start()].count("\n") + 2
        yield pytest.param(match[1], id=f"block{n}-line{line}")


def _is_test_module(code: str) -> bool:
    return bool(re.search(r"^(def test_|class Test)", code, re.MULTILINE))


@pytest.mark.parametrize("code", list(examples()))
def test_the_example_runs(code: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    if _is_test_module(code):
        (tmp_path / "test_example.py").write_text(code)
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_example.py"],
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            timeout=300,
        )
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
        return
    # Run as a script: ``__name__ == "__main__"`` and sys.modules["__main__"] is the example.
    module = types.ModuleType("__main__")
    module.__file__ = str(tmp_path / "example.py")
    monkeypatch.setitem(sys.modules, "__main__", module)
    exec(compile(code, module.__file__, "exec"), module.__dict__)
