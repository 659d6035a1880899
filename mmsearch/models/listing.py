"""Every model the installed plugins declare, and where each one stands on this machine."""

from __future__ import annotations

import dataclasses
import difflib
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mmsearch.contracts import ModelSpec
from mmsearch.models.manifest import ModelError

if TYPE_CHECKING:
    from mmsearch.plugins import Registry

log = logging.getLogger(__name__)


def _declarers(registry: Registry) -> Iterable[tuple[str, Any]]:
    for encoder in registry.encoders_by_priority():
        yield f"encoder {encoder.encoder_id}", encoder
    for extractor in registry.extractors:
        yield f"extractor {extractor.name}", extractor
    for annotator in registry.annotators:
        yield f"annotator {annotator.name}", annotator


def known_models(registry: Registry) -> list[ModelSpec]:
    """Each model declared by a loaded plugin, once, with ``used_by`` filled in."""
    found: dict[str, ModelSpec] = {}
    for used_by, component in _declarers(registry):
        try:
            specs = list(component.models())
        except Exception as exc:  # one plugin's bug must not hide every other model
            log.warning("%s could not list its models: %s; it is left out", used_by, exc)
            continue
        for spec in specs:
            licence = spec.licence or _package_licence(spec.package)
            found.setdefault(spec.name, dataclasses.replace(spec, used_by=used_by, licence=licence))
    return list(found.values())


def _package_licence(package: str | None) -> str:
    """The licence a package declares in its metadata, for weights that ship in it."""
    if not package:
        return "unknown"
    from importlib import metadata

    try:
        meta = metadata.metadata(package)
    except metadata.PackageNotFoundError:
        return f"unknown ({package} is not installed)"
    declared = meta["License-Expression"] or meta["License"] or ""
    if declared and declared != "UNKNOWN" and len(declared) < 80:
        return f"{declared} (package {package})"
    for classifier in meta.get_all("Classifier") or []:
        if classifier.startswith("License :: "):
            return f"{classifier.rsplit(' :: ', 1)[-1]} (package {package})"
    return f"not stated by the package {package}"


def find_model(registry: Registry, name: str) -> ModelSpec:
    """The declared model called ``name``; ModelError naming the known ones if none is."""
    specs = known_models(registry)
    for spec in specs:
        if spec.name == name:
            return spec
    names = [s.name for s in specs]
    close = difflib.get_close_matches(name, names, n=3, cutoff=0.5)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    raise ModelError(
        f"no installed plugin declares a model {name!r}.{hint} `mmsearch models list` "
        f"shows the {len(names)} known ones; a model of another plugin needs that plugin"
    )


def _folder_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


@dataclass(frozen=True, slots=True)
class ModelStatus:
    """One model as ``mmsearch models list`` shows it."""

    spec: ModelSpec
    present: bool
    size_bytes: int | None
    """On disk when present, else as declared (None: unknown until downloaded)."""

    @property
    def can_run(self) -> bool:
        """Whether its plugin says it can run here."""
        return self.spec.unavailable is None

    @property
    def source(self) -> str:
        """How it gets here: with a package, by download, or only by import."""
        if self.spec.package:
            return f"package {self.spec.package}"
        if any(f.url for f in self.spec.files):
            return "download (mmsearch models pull)"
        return "import (mmsearch models import)"

    def to_json(self) -> dict[str, Any]:
        """The stable JSON shape of a model's entry."""
        spec = self.spec
        return {
            "name": spec.name,
            "used_by": spec.used_by,
            "description": spec.description,
            "licence": spec.licence,
            "default": spec.default,
            "folder": str(spec.folder) if spec.folder else None,
            "present": self.present,
            "size_bytes": self.size_bytes,
            "source": self.source,
            "package": spec.package,
            "can_run": self.can_run,
            "why_not": spec.unavailable,
            "files": [dataclasses.asdict(f) for f in spec.files],
            "extra": dict(spec.extra),
        }


def model_status(spec: ModelSpec) -> ModelStatus:
    """Whether the model's files are here, and their size."""
    folder = spec.folder
    if spec.files and folder is not None:
        present = all((folder / f.path).is_file() for f in spec.files)
        if present:
            size: int | None = sum((folder / f.path).stat().st_size for f in spec.files)
        else:
            sizes = [f.size for f in spec.files]
            size = None if None in sizes else sum(s or 0 for s in sizes)
        return ModelStatus(spec, present, size)
    present = folder is not None and folder.exists()
    if not present or folder is None:
        return ModelStatus(spec, False, None)
    return ModelStatus(
        spec, True, folder.stat().st_size if folder.is_file() else _folder_size(folder)
    )
