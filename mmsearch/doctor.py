"""``mmsearch doctor``: what a user checks first when something is off, in one report.

Each check is a :class:`Check` with a state: ``ok``, ``warn`` (worth knowing, nothing is
broken) or ``fail`` (mmsearch cannot do its job until it is fixed). The report's first
failure is the thing to fix first. Checks read; none of them writes, creates a catalog or
loads model weights.
"""

from __future__ import annotations

import importlib.util
import os
import platform
import shutil
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from mmsearch.plugins import Registry

State = Literal["ok", "warn", "fail"]
LOW_DISK_BYTES = 1_000_000_000
"""Under this much free space beside the catalog, doctor warns (an index run writes)."""
FULL_DISK_BYTES = 100_000_000
"""Under this, it fails: a batch commit or an index save may not fit."""


@dataclass(slots=True)
class Check:
    """One line of the report."""

    name: str
    state: State
    summary: str
    details: list[str] = field(default_factory=list)
    fix: str | None = None
    """What to do, for warn and fail."""

    def to_json(self) -> dict[str, Any]:
        """The stable JSON shape of one check."""
        return {
            "name": self.name,
            "state": self.state,
            "summary": self.summary,
            "details": list(self.details),
            "fix": self.fix,
        }


@dataclass(slots=True)
class Report:
    """Every check, in the order they ran."""

    checks: list[Check]

    @property
    def ok(self) -> bool:
        """No check failed."""
        return all(c.state != "fail" for c in self.checks)

    @property
    def first_problem(self) -> Check | None:
        """The first failure, else None."""
        return next((c for c in self.checks if c.state == "fail"), None)

    def to_json(self) -> dict[str, Any]:
        """The stable JSON shape of ``mmsearch doctor --json``."""
        first = self.first_problem
        return {
            "ok": self.ok,
            "first_problem": first.to_json() if first else None,
            "checks": [c.to_json() for c in self.checks],
        }


def check_versions() -> Check:
    """mmsearch, Python and the platform."""
    from mmsearch import __version__

    python = platform.python_version()
    return Check(
        "versions",
        "ok",
        f"mmsearch {__version__}, Python {python} ({sys.executable}), {platform.platform()}",
    )


def check_plugins(registry: Registry) -> Check:
    """Each plugin with its version; the ones that failed to load, with why."""
    loaded = [p for p in registry.plugins.values() if not p.error]
    details = [f"{p.name} {p.version or ''}".rstrip() for p in loaded]
    failed = registry.failures
    details += [f"{p.name}: NOT LOADED: {p.error}" for p in failed]
    if failed:
        first = failed[0]
        return Check(
            "plugins",
            "fail",
            f"{len(loaded)} loaded, {len(failed)} failed",
            details,
            fix=f"plugin {first.name}: {first.error}",
        )
    return Check("plugins", "ok", f"{len(loaded)} loaded", details)


def check_encoders(registry: Registry) -> Check:
    """Which encoders can run here, and the models each has (``mmsearch models``)."""
    from mmsearch.models import known_models, model_status

    statuses = [model_status(spec) for spec in known_models(registry)]
    details, runnable = [], []
    for encoder in registry.encoders_by_priority():
        reason = encoder.unavailable_reason()
        mine = [s for s in statuses if s.spec.used_by == f"encoder {encoder.encoder_id}"]
        here = sum(1 for s in mine if s.present)
        models = f", models here {here}/{len(mine)}" if mine else ""
        if reason is None:
            runnable.append(encoder.encoder_id)
            details.append(f"{encoder.encoder_id}: can run{models}")
        else:
            details.append(f"{encoder.encoder_id}: cannot run{models}: {reason.splitlines()[0]}")
    if not runnable:
        return Check(
            "encoders",
            "fail",
            "no installed encoder can run here",
            details,
            fix='install one (pip install "mmsearch[all]"), or fetch a model: '
            "`mmsearch models list` says which are missing and `models pull` fetches one",
        )
    idle = len(details) - len(runnable)
    if idle:
        return Check(
            "encoders",
            "warn",
            f"{len(runnable)} can run ({', '.join(runnable)}), {idle} cannot",
            details,
            fix="`mmsearch models list` says what each one lacks and the command to fetch it",
        )
    return Check("encoders", "ok", f"all {len(runnable)} can run", details)


def check_catalog(db_path: Path, registry: Registry) -> Check:
    """Where the catalog is, and whether it opens and reads whole (``status``)."""
    from mmsearch.errors import MmsearchError
    from mmsearch.library import Library

    if not db_path.exists():
        return Check(
            "catalog",
            "warn",
            f"no catalog at {db_path} yet",
            fix="run `mmsearch index FOLDER` to make one (or give --db / MMSEARCH_DB)",
        )
    try:
        with Library.open(db_path, registry=registry, read_only=True) as lib:
            status = lib.status()
    except MmsearchError as exc:
        return Check("catalog", "fail", f"{db_path} cannot be used", [str(exc)], fix=str(exc))
    except Exception as exc:  # SQLite, the file system: say what, never crash the report
        detail = f"{type(exc).__name__}: {exc}"
        return Check("catalog", "fail", f"{db_path} cannot be read", [detail], fix=detail)
    files = sum(sum(counts.values()) for counts in status.items.values())
    details = [f"{len(status.roots)} roots, {files} files, {len(status.spaces)} spaces"]
    bad = [s for s in status.spaces if s.index.state != "ok"]
    for space in status.spaces:
        detail = f": {space.index.detail}" if space.index.detail else ""
        details.append(f"space {space.id} {space.encoder}: index {space.index.state}{detail}")
    if bad:
        return Check(
            "catalog",
            "warn",
            f"{db_path}: {len(bad)} vector index(es) not ok",
            details,
            fix="the next query or index run rebuilds them from the catalog",
        )
    return Check("catalog", "ok", str(db_path), details)


def _existing(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def check_disk(db_path: Path) -> Check:
    """Free space where the catalog and its indexes are written."""
    where = _existing(db_path.parent)
    free = shutil.disk_usage(where).free
    summary = f"{free / 1e9:.1f} GB free at {where}"
    if free < FULL_DISK_BYTES:
        return Check("disk", "fail", summary, fix=f"free space on the disk holding {where}")
    if free < LOW_DISK_BYTES:
        return Check(
            "disk", "warn", summary, fix=f"an index run may need more; free space at {where}"
        )
    return Check("disk", "ok", summary)


ServerLookup = Callable[[Path], Any]


def _server_lookup() -> ServerLookup | None:
    """``running_server`` of the serve package, when this installation has one."""
    try:
        from mmsearch.serve.discovery import running_server
    except ImportError:
        return None
    return running_server


def check_server(db_path: Path, lookup: ServerLookup | None = None) -> Check:
    """Whether ``mmsearch serve`` is running for this catalog (its discovery file)."""
    lookup = lookup or _server_lookup()
    if lookup is None:
        return Check("server", "ok", "serve not available in this installation")
    info = lookup(db_path)
    if info is None:
        return Check("server", "ok", "no server running for this catalog")
    return Check(
        "server",
        "ok",
        f"mmsearch serve is running for this catalog at {info.base_url} (pid {info.pid}); "
        "the CLI asks it",
    )


def check_torch() -> Check:
    """torch's threads and GPUs, and the device encoders would use (``MMSEARCH_DEVICE``)."""
    if importlib.util.find_spec("torch") is None:
        return Check("torch", "ok", "torch is not installed (only torch-free plugins can run)")
    import torch

    from mmsearch.torch_device import DeviceError, cuda_device_count, device_setting, resolve_device

    gpus = cuda_device_count()
    summary = f"torch {torch.__version__}, {torch.get_num_threads()} threads, {gpus} CUDA GPU(s)"
    details = [torch.cuda.get_device_name(i) for i in range(gpus)]
    try:
        device = resolve_device(device_setting(), gpus)
    except DeviceError as exc:
        return Check("torch", "fail", summary, details, fix=str(exc))
    return Check("torch", "ok", f"{summary}; encoders run on {device}", details)


def _onnx_telemetry_folder() -> Path:
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(cache) / "Microsoft" / "DeveloperTools" / ".onnxruntime"


def check_telemetry() -> Check:
    """Whether the telemetry of the libraries plugins load is off (``mmsearch.privacy``)."""
    from mmsearch.privacy import TELEMETRY_OFF

    on = [f"{k}={os.environ.get(k)!r}" for k, v in TELEMETRY_OFF.items() if os.environ.get(k) != v]
    folder = _onnx_telemetry_folder()
    if on:
        return Check(
            "telemetry",
            "warn",
            f"third-party telemetry is ON: {', '.join(on)} (your setting)",
            fix=f"unset {', '.join(TELEMETRY_OFF)} to turn it off",
        )
    if folder.exists():
        return Check(
            "telemetry",
            "warn",
            f"off, but an earlier onnxruntime left its telemetry files in {folder}",
            fix=f"delete {folder}",
        )
    return Check("telemetry", "ok", "third-party telemetry off (ORT_DISABLE_TELEMETRY=1)")


def run_checks(registry: Registry, db_path: Path) -> Report:
    """Every check, for the catalog at ``db_path``; a check that raises is reported, not fatal."""

    def each() -> Iterator[tuple[str, Callable[[], Check]]]:
        yield "versions", check_versions
        yield "plugins", lambda: check_plugins(registry)
        yield "encoders", lambda: check_encoders(registry)
        yield "catalog", lambda: check_catalog(db_path, registry)
        yield "disk", lambda: check_disk(db_path)
        yield "server", lambda: check_server(db_path)
        yield "torch", check_torch
        yield "telemetry", check_telemetry

    checks = []
    for name, run in each():
        try:
            checks.append(run())
        except Exception as exc:  # doctor is what runs when things are broken
            problem = f"{type(exc).__name__}: {exc}"
            checks.append(Check(name, "fail", f"the check itself failed: {problem}", fix=problem))
    return Report(checks)
