"""Plugin discovery and registration.

Every plugin, first-party or not, is found through the ``mmsearch`` entry-point
group; the core never imports a plugin by name. A plugin that fails to import,
defines a hook mmsearch does not know, or raises while registering is recorded
in :attr:`Registry.failures` and left out; the rest keep working. One whose
distribution supports another core (its requirement on ``mmsearch`` excludes this
version, :mod:`mmsearch.plugin_compat`) is refused the same way, before it is imported.

Environment:

- ``MMSEARCH_LOAD_PLUGINS``: comma-separated allowlist of entry-point names
  (set but empty: load none).
- ``MMSEARCH_PLUGIN_MODULES``: extra importable modules to register, for
  developing a plugin without installing it.
- ``MMSEARCH_TRACE_PLUGINS=1``: print each plugin load, each hook call and its
  result (what was registered, or the error) to stderr.
"""

from __future__ import annotations

import importlib
import os
import sys
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from importlib.metadata import entry_points, packages_distributions, version
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pluggy
from pluggy import HookImpl

from mmsearch import hookspecs
from mmsearch.contracts import Annotator, Encoder, Extractor, Reranker, VectorStore
from mmsearch.plugin_compat import core_mismatch, core_version

if TYPE_CHECKING:
    import click

ENTRY_POINT_GROUP = "mmsearch"
BUILT_IN_PLUGIN = "mmsearch.builtin"


def _built_ins() -> object:
    return importlib.import_module("mmsearch.builtin")


@dataclass(slots=True)
class PluginInfo:
    """What ``mmsearch plugins`` reports about one plugin."""

    name: str
    distribution: str | None = None
    version: str | None = None
    hooks: list[str] = field(default_factory=list)
    provides: dict[str, list[str]] = field(default_factory=dict)
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The stable JSON shape of this plugin's entry."""
        return {
            "name": self.name,
            "distribution": self.distribution,
            "version": self.version,
            "hooks": sorted(self.hooks),
            "provides": {kind: sorted(ids) for kind, ids in self.provides.items()},
            "error": self.error,
        }


@dataclass(slots=True)
class Registry:
    """Everything the loaded plugins provide."""

    manager: pluggy.PluginManager
    plugins: dict[str, PluginInfo] = field(default_factory=dict)
    extractors: list[Extractor] = field(default_factory=list)
    encoders: dict[str, Encoder] = field(default_factory=dict)
    annotators: list[Annotator] = field(default_factory=list)
    rerankers: dict[str, Reranker] = field(default_factory=dict)
    vector_stores: dict[str, VectorStore] = field(default_factory=dict)

    @property
    def failures(self) -> list[PluginInfo]:
        """Plugins that could not be loaded or registered."""
        return [info for info in self.plugins.values() if info.error]

    def encoder(self, encoder_id: str) -> Encoder | None:
        """The registered encoder with this id, if any."""
        return self.encoders.get(encoder_id)

    def encoders_by_priority(self) -> list[Encoder]:
        """Every encoder, the one a new library should prefer first."""
        return sorted(self.encoders.values(), key=lambda e: (-e.priority, e.encoder_id))


def _short_error(exc: BaseException) -> str:
    """The last line of a traceback: what failed, in one line."""
    return traceback.format_exception_only(type(exc), exc)[-1].strip()


def _tracing() -> bool:
    return bool(os.environ.get("MMSEARCH_TRACE_PLUGINS"))


def _trace(message: str) -> None:
    if _tracing():
        print(f"[mmsearch plugins] {message}", file=sys.stderr)


def _trace_hook_calls(manager: pluggy.PluginManager) -> None:
    """Trace hooks called through the manager (``manager.hook.NAME(...)``), with their results."""

    def before(hook_name: str, impls: Sequence[HookImpl], kwargs: Mapping[str, Any]) -> None:
        names = ", ".join(impl.plugin_name for impl in impls) or "no plugin"
        _trace(f"call {hook_name}({', '.join(kwargs)}) on {names}")

    def after(
        outcome: pluggy.Result[Any],
        hook_name: str,
        impls: Sequence[HookImpl],
        kwargs: Mapping[str, Any],
    ) -> None:
        error = outcome.exception
        shown = f"raised {_short_error(error)}" if error else f"returned {outcome.get_result()!r}"
        _trace(f"{hook_name} {shown}")

    manager.add_hookcall_monitoring(before, after)


def _allowlist() -> set[str] | None:
    raw = os.environ.get("MMSEARCH_LOAD_PLUGINS")
    if raw is None:
        return None
    return {name.strip() for name in raw.split(",") if name.strip()}


def _candidate_modules() -> Iterator[tuple[PluginInfo, Callable[[], Any]]]:
    allow = _allowlist()
    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        if allow is not None and ep.name not in allow:
            continue
        dist = ep.dist
        info = PluginInfo(
            name=ep.name,
            distribution=dist.name if dist else None,
            version=dist.version if dist else None,
        )
        # A plugin made for another core is refused before it is imported.
        info.error = core_mismatch(dist)
        yield info, ep.load
    extra = os.environ.get("MMSEARCH_PLUGIN_MODULES", "")
    for module_name in filter(None, (m.strip() for m in extra.split(","))):
        yield _module_info(module_name), _importer(module_name)


def _module_info(module_name: str) -> PluginInfo:
    """A plugin given as a module: its distribution is whichever installed one ships it."""
    found = packages_distributions().get(module_name.split(".")[0], [])
    if not found:
        return PluginInfo(name=module_name)
    return PluginInfo(name=module_name, distribution=found[0], version=version(found[0]))


def _importer(module_name: str) -> Callable[[], ModuleType]:
    return lambda: importlib.import_module(module_name)


def _constant(obj: object) -> Callable[[], object]:
    return lambda: obj


def _register_module(manager: pluggy.PluginManager, info: PluginInfo, module: Any) -> None:
    manager.register(module, name=info.name)
    try:
        manager.check_pending()
    except pluggy.PluginValidationError:
        manager.unregister(name=info.name)
        raise
    info.hooks = [impl.name for impl in manager.get_hookcallers(module) or []]


def _ident(kind: str, obj: Any) -> str:
    return str(obj.encoder_id if kind == "encoders" else obj.name)


def _describe(registered: list[tuple[str, Any]]) -> str:
    if not registered:
        return "nothing"
    return ", ".join(f"{kind[:-1]} {_ident(kind, obj)}" for kind, obj in registered)


def _collect(registry: Registry) -> None:
    """Call each plugin's register hooks, attributing what it registers to it.

    Objects are gathered per plugin first and kept only when every one of the
    plugin's hooks succeeded, so a plugin that raises halfway leaves nothing behind.
    """
    gathered: dict[str, list[tuple[str, Any]]] = {}
    hooks = (
        "register_extractors",
        "register_encoders",
        "register_annotators",
        "register_rerankers",
        "register_vector_stores",
    )
    for hook_name in hooks:
        kind = hook_name.removeprefix("register_")
        for impl in getattr(registry.manager.hook, hook_name).get_hookimpls():
            info = registry.plugins[impl.plugin_name]
            bucket = gathered.setdefault(info.name, [])
            _trace(f"call {info.name}.{hook_name}(register)")
            before = len(bucket)
            try:
                impl.function(register=lambda obj, _b=bucket, _k=kind: _b.append((_k, obj)))
            except Exception as exc:  # a broken plugin must not break the CLI
                info.error = f"{hook_name} failed: {_short_error(exc)}"
                _trace(f"{info.name}: {info.error}")
                continue
            _trace(f"{info.name}.{hook_name}(register) -> {_describe(bucket[before:])}")
    for plugin_name, objects in gathered.items():
        info = registry.plugins[plugin_name]
        if info.error:
            if objects:
                _trace(f"{plugin_name}: dropped {_describe(objects)}, as its hooks failed")
            continue
        for kind, obj in objects:
            ident = _ident(kind, obj)
            if kind == "extractors":
                registry.extractors.append(obj)
            elif kind == "annotators":
                registry.annotators.append(obj)
            elif kind == "rerankers":
                registry.rerankers.setdefault(ident, obj)
            elif kind == "vector_stores":
                registry.vector_stores.setdefault(ident, obj)
            else:
                registry.encoders.setdefault(ident, obj)
            info.provides.setdefault(kind, []).append(ident)
            _trace(f"{plugin_name}: registered {kind[:-1]} {ident}")


def add_commands(registry: Registry, group: click.Group) -> None:
    """Call each plugin's ``register_commands`` hook on ``group``, traced and isolated.

    A plugin that raises is marked failed (the rest of the CLI still works); the
    names of the commands each plugin adds are recorded in its ``provides``.
    """
    for impl in registry.manager.hook.register_commands.get_hookimpls():
        info = registry.plugins[impl.plugin_name]
        before = set(group.commands)
        _trace(f"call {info.name}.register_commands(cli)")
        try:
            impl.function(cli=group)
        except Exception as exc:  # a broken plugin must not take the CLI down with it
            info.error = f"register_commands failed: {_short_error(exc)}"
            _trace(f"{info.name}: {info.error}")
            continue
        added = sorted(set(group.commands) - before)
        if added:
            info.provides.setdefault("commands", []).extend(added)
        shown = ", ".join(f"command {name}" for name in added) or "nothing"
        _trace(f"{info.name}.register_commands(cli) -> {shown}")


def load_plugins(*extra: object, discover: bool = True) -> Registry:
    """Discover, import and register every allowed plugin.

    ``extra`` are objects or modules with hook implementations to register too
    (an application's own plugins, or a test's); ``discover=False`` skips the
    entry points and ``MMSEARCH_PLUGIN_MODULES``, for a registry of exactly ``extra``.
    """
    manager = pluggy.PluginManager("mmsearch")
    manager.add_hookspecs(hookspecs)
    if _tracing():
        _trace_hook_calls(manager)
    registry = Registry(manager=manager)
    # The built-in rerankers come through the same hook as everyone's, first.
    core = PluginInfo(name=BUILT_IN_PLUGIN, distribution="mmsearch", version=core_version())
    candidates = [(core, _built_ins)]
    candidates += list(_candidate_modules()) if discover else []
    for obj in extra:
        name = getattr(obj, "__name__", None) or type(obj).__name__
        candidates.append((PluginInfo(name=name), _constant(obj)))
    for info, load in candidates:
        registry.plugins[info.name] = info
        if info.error:
            _trace(f"{info.name}: refused: {info.error}")
            continue
        try:
            _register_module(manager, info, load())
        except Exception as exc:
            info.error = _short_error(exc)
            _trace(f"{info.name}: failed to load: {info.error}")
            continue
        _trace(f"{info.name}: loaded, hooks {info.hooks}")
    _collect(registry)
    return registry
