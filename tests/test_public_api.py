"""The public API, and plugins that stay inside it.

Public: what ``mmsearch`` exports (``__all__``), ``mmsearch.contracts``,
``mmsearch.hookspecs``, ``mmsearch.torch_device`` (for torch encoders),
``mmsearch.onnx_cache`` (for encoders with an ONNX copy of their text side), and what
``mmsearch.testing`` exports. Every first-party
plugin under plugins/ is read with ``ast`` (not imported), so a plugin added by
anyone is checked, tests and benchmarks included.
"""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import mmsearch
import mmsearch.testing

REPO = Path(__file__).resolve().parent.parent
PUBLIC_MODULES = {
    "mmsearch",
    "mmsearch.contracts",
    "mmsearch.hookspecs",
    # The digest arithmetic a store keeps with what it persists (CatalogVectors.digest).
    "mmsearch.store.digest",
    "mmsearch.testing",
    "mmsearch.torch_device",
    # The checked, cached ONNX copies of text towers (open-clip and offline use it).
    "mmsearch.onnx_cache",
}
# For modules with __all__, only the names it lists are public.
EXPORTS = {"mmsearch": set(mmsearch.__all__), "mmsearch.testing": set(mmsearch.testing.__all__)}
_SKIP_PARTS = {"build", "dist", "__pycache__", ".venv"}


@dataclass(frozen=True, slots=True)
class Violation:
    path: Path
    line: int
    what: str

    def __str__(self) -> str:
        return f"{self.path.relative_to(REPO)}:{self.line}: {self.what}"


def plugin_sources() -> list[Path]:
    """Every Python file of every first-party plugin distribution."""
    return sorted(
        path
        for path in (REPO / "plugins").glob("*/**/*.py")
        if not _SKIP_PARTS & set(path.parts)
        and not any(p.endswith(".egg-info") for p in path.parts)
    )


def _private_imports(path: Path) -> Iterator[Violation]:
    tree = ast.parse(path.read_bytes(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if _is_mmsearch(alias.name) and alias.name not in PUBLIC_MODULES:
                    yield Violation(path, node.lineno, f"import {alias.name}")
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield from _from_import(path, node, node.module)


def _from_import(path: Path, node: ast.ImportFrom, module: str) -> Iterator[Violation]:
    if not _is_mmsearch(module):
        return
    if module not in PUBLIC_MODULES:
        yield Violation(path, node.lineno, f"from {module} import ...")
        return
    for alias in node.names:
        allowed = EXPORTS.get(module)
        private = alias.name.startswith("_") or (allowed is not None and alias.name not in allowed)
        if private and alias.name != "*":
            yield Violation(path, node.lineno, f"from {module} import {alias.name}")


def _is_mmsearch(module: str) -> bool:
    return module == "mmsearch" or module.startswith("mmsearch.")


def test_there_are_plugins_to_check() -> None:
    names = {path.relative_to(REPO / "plugins").parts[0] for path in plugin_sources()}
    assert {"mmsearch-images", "mmsearch-text", "mmsearch-hash-encoder", "mmsearch-colour"} <= names


def test_plugins_import_only_the_public_api() -> None:
    violations = [str(v) for path in plugin_sources() for v in _private_imports(path)]
    assert not violations, "plugins import private mmsearch modules:\n" + "\n".join(violations)


@pytest.mark.parametrize(
    ("code", "private"),
    [
        ("from mmsearch import Encoder, hookimpl", False),
        ("from mmsearch.contracts import Segment", False),
        ("from mmsearch.testing import EncoderConformance", False),
        ("import mmsearch.hookspecs", False),
        ("from mmsearch.plugins import load_plugins", True),
        ("from mmsearch import plugins", True),
        ("from mmsearch.testing.conformance import EncoderConformance", True),
        ("import mmsearch.index.indexer", True),
    ],
)
def test_the_import_check_tells_public_from_private(code: str, private: bool) -> None:
    tree = ast.parse(code)
    node = tree.body[0]
    path = REPO / "plugins" / "snippet.py"
    if isinstance(node, ast.Import):
        flagged = [a.name for a in node.names if a.name not in PUBLIC_MODULES]
    else:
        assert isinstance(node, ast.ImportFrom) and node.module
        flagged = [v.what for v in _from_import(path, node, node.module)]
    assert bool(flagged) is private


@pytest.mark.parametrize("module", sorted(PUBLIC_MODULES))
def test_every_exported_name_resolves(module: str) -> None:
    imported = importlib.import_module(module)
    exported = getattr(imported, "__all__", None)
    assert exported, f"{module} declares no __all__: say what is public"
    for name in exported:
        assert getattr(imported, name) is not None, f"{module}.{name}"


@pytest.mark.parametrize("module", sorted(PUBLIC_MODULES))
def test_every_public_name_is_exported(module: str) -> None:
    """A public module's ``__all__`` lists each class and function it defines (none hidden)."""
    imported = importlib.import_module(module)
    defined = {
        name
        for name, value in vars(imported).items()
        if not name.startswith("_")
        and getattr(value, "__module__", None) == module
        and callable(value)
    }
    assert defined <= set(imported.__all__), (
        f"{module}: not in __all__: {defined - set(imported.__all__)}"
    )


def test_the_contracts_are_exported_from_the_top_level() -> None:
    for name in ("Encoder", "Extractor", "Annotator", "Segment", "Source", "SkipFile", "hookimpl"):
        assert name in mmsearch.__all__


def test_importing_the_public_api_does_not_load_the_engine() -> None:
    """Plugins import mmsearch at registration, and pytest loads the kit in every run: both
    must stay cheap (no SQLAlchemy, FAISS, alembic)."""
    code = (
        "import sys, mmsearch, mmsearch.contracts, mmsearch.hookspecs, mmsearch.testing\n"
        "heavy = [m for m in ('sqlalchemy', 'faiss', 'alembic') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""
