"""What importing and registering a plugin costs, measured in a fresh interpreter.

The contract says weights load on the first encode or extract call, never at
import or registration, so ``mmsearch --help`` and ``mmsearch plugins`` stay
instant. A fresh interpreter loads exactly one plugin and reports:

- the model runtimes it imported (torch, onnxruntime, ...: seconds each);
- the weight-like files it opened (seen through ``sys.addaudithook``, which sees
  files opened from Python, as ``torch.load`` and most loaders do);
- the ``loaded`` attribute of everything it registered, for plugins that
  follow the kit's convention of exposing one.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any

from mmsearch.plugins import BUILT_IN_PLUGIN

HEAVY_MODULES: tuple[str, ...] = (
    "torch",
    "tensorflow",
    "jax",
    "keras",
    "onnxruntime",
    "ctranslate2",
    "transformers",
    "sentence_transformers",
    "open_clip",
    "timm",
    "faster_whisper",
    "whisper",
    "rapidocr_onnxruntime",
    "paddle",
    "safetensors",
    "pymilvus",
    "ray",
)
"""Model runtimes (and the Milvus and Ray clients) a plugin must import inside its first
encode/extract call or its first use, not at import."""

WEIGHT_SUFFIXES: tuple[str, ...] = (
    ".pt",
    ".pth",
    ".bin",
    ".safetensors",
    ".onnx",
    ".ckpt",
    ".h5",
    ".pb",
    ".tflite",
    ".gguf",
    ".msgpack",
    ".npz",
)
"""File endings that mean model weights."""

_SCRIPT = textwrap.dedent(
    """
    import json, os, sys, time
    suffixes = tuple(json.loads(sys.argv[1]))
    heavy = json.loads(sys.argv[2])
    opened = []

    def audit(event, args):
        if event == "open" and args and isinstance(args[0], (str, bytes, os.PathLike)):
            name = os.fsdecode(args[0])
            if name.lower().endswith(suffixes):
                opened.append(name)

    sys.addaudithook(audit)
    started = time.perf_counter()
    from mmsearch.plugins import load_plugins

    registry = load_plugins()
    seconds = time.perf_counter() - started
    objects = {
        "encoders": list(registry.encoders.values()),
        "extractors": registry.extractors,
        "annotators": registry.annotators,
    }

    def ident(obj):
        return getattr(obj, "encoder_id", None) or getattr(obj, "name", type(obj).__name__)

    loaded = {
        f"{kind[:-1]} {ident(obj)}": getattr(obj, "loaded")
        for kind, found in objects.items()
        for obj in found
        if isinstance(getattr(obj, "loaded", None), bool)
    }
    print(json.dumps({
        "plugins": {name: info.to_json() for name, info in registry.plugins.items()},
        "heavy": sorted(m for m in heavy if m in sys.modules),
        "opened": opened,
        "loaded": loaded,
        "seconds": seconds,
    }))
    """
)


@dataclass(frozen=True, slots=True)
class Footprint:
    """What loading one plugin did, in a fresh interpreter."""

    plugin: str
    heavy_modules: list[str]
    weight_files: list[str]
    loaded: dict[str, bool]
    """``loaded`` of each registered object that exposes one (True is a violation)."""
    errors: dict[str, str]
    seconds: float
    provides: dict[str, list[str]] = field(default_factory=dict)

    def problems(self) -> list[str]:
        """Each way this plugin breaks the lazy-loading rule, in words."""
        out = [f"plugin {name} failed to load: {error}" for name, error in self.errors.items()]
        if self.heavy_modules:
            out.append(
                f"importing and registering {self.plugin} imported {', '.join(self.heavy_modules)}"
                "; import model runtimes inside the first encode/extract call instead"
            )
        if self.weight_files:
            out.append(
                f"registering {self.plugin} opened {', '.join(self.weight_files)}"
                "; load weights on first use, not at import or registration"
            )
        out.extend(
            f"{what} says loaded=True right after registration; load on first use"
            for what, state in self.loaded.items()
            if state
        )
        return out


def plugin_for(obj: object) -> str | None:
    """The entry-point name of the installed plugin whose package defines ``obj``'s class."""
    package = type(obj).__module__.split(".")[0]
    for ep in entry_points(group="mmsearch"):
        if ep.module.split(".")[0] == package:
            return ep.name
    return None


def measure(plugin: str, heavy: tuple[str, ...] = HEAVY_MODULES, timeout: float = 120) -> Footprint:
    """Load only ``plugin`` (an entry-point name, or ``module:NAME`` for a module) and measure.

    ``module:NAME`` registers the importable module NAME through
    ``MMSEARCH_PLUGIN_MODULES``, for plugins that are not installed.
    """
    env = dict(os.environ)
    if plugin.startswith("module:"):
        env["MMSEARCH_LOAD_PLUGINS"] = ""
        env["MMSEARCH_PLUGIN_MODULES"] = plugin.removeprefix("module:")
    else:
        env["MMSEARCH_LOAD_PLUGINS"] = plugin
        env.pop("MMSEARCH_PLUGIN_MODULES", None)
    env.pop("MMSEARCH_TRACE_PLUGINS", None)
    args = [sys.executable, "-c", _SCRIPT, json.dumps(WEIGHT_SUFFIXES), json.dumps(list(heavy))]
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"loading plugin {plugin} in a fresh interpreter failed:\n{done.stderr}")
    payload: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    # The core's own plugin (built-in rerankers) loads in every registry; it is not measured.
    infos = {n: i for n, i in payload["plugins"].items() if n != BUILT_IN_PLUGIN}
    return Footprint(
        plugin=plugin,
        heavy_modules=payload["heavy"],
        weight_files=payload["opened"],
        loaded=payload["loaded"],
        errors={name: info["error"] for name, info in infos.items() if info["error"]},
        seconds=payload["seconds"],
        provides={k: v for info in infos.values() for k, v in info["provides"].items()},
    )
