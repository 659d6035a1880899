"""The ``--model`` strings this encoder accepts, and the checkpoint recorded for each.

Three forms, all ``ARCH:WHAT``:

- ``ViT-B-32:laion2b_s34b_b79k``: an architecture and one of open_clip's pretrained tags;
- ``ViT-B-32:/abs/path/weights.safetensors``: a local weights file. The checkpoint
  recorded for the library is ``ARCH:PATH@sha256:<16 hex>``, so two different files
  (or one file that changed) are two different spaces;
- ``ViT-B-32:random``: deterministic random weights, for tests and benchmarks only
  (same compute as the real model, meaningless vectors).
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from mmsearch_open_clip.configs import TINY_ARCH, ArchInfo, arch_info, known_arches

DEFAULT_CHECKPOINT = "ViT-B-32:laion2b_s34b_b79k"
TAGS_FILE = Path(__file__).parent / "pretrained_tags.json"
"""open_clip's pretrained tags per architecture (``open_clip.list_pretrained()``), so checking
a ``--model`` or a library's recorded checkpoint does not import open_clip (about 7 s cold:
it pulls in torch and transformers). Regenerate it with ``python -c "from
mmsearch_open_clip.choice import write_tag_table; write_tag_table()"``; a test compares it
with the installed open_clip, and a tag missing from it is asked of open_clip."""
RANDOM = "random"
DIGEST_LENGTH = 16
_DIGEST = re.compile(rf"^(?P<path>.+)@sha256:(?P<digest>[0-9a-f]{{{DIGEST_LENGTH}}})$")
_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".npz")
_FORMS = (
    "ARCH:TAG (e.g. ViT-B-32:laion2b_s34b_b79k), ARCH:/path/to/weights.safetensors, "
    "or ARCH:random (random weights, for tests and benchmarks only)"
)


@dataclass(frozen=True, slots=True)
class ModelChoice:
    """One architecture with one source of weights: a pretrained tag, a file, or random."""

    arch: ArchInfo
    tag: str | None = None
    path: str | None = None
    digest: str | None = None

    @property
    def random(self) -> bool:
        """Random weights, for tests and benchmarks."""
        return self.tag == RANDOM

    @property
    def checkpoint(self) -> str:
        """The string that names these weights in a library's space."""
        if self.path is not None:
            return f"{self.arch.name}:{self.path}@sha256:{self.digest}"
        return f"{self.arch.name}:{self.tag}"

    @property
    def label(self) -> str:
        """A short name for messages."""
        return f"{self.arch.name}:{self.path or self.tag}"


def file_digest(path: str) -> str:
    """The first hex digits of the file's SHA-256, enough to tell two weights files apart."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()[:DIGEST_LENGTH]


def parse_choice(text: str) -> ModelChoice:
    """Read a ``--model`` value or a stored checkpoint; ValueError says what is valid."""
    text = text.strip()
    if text.startswith(("hf-hub:", "local-dir:")):
        raise ValueError(
            f"{text!r}: hf-hub: and local-dir: models are not supported yet; use {_FORMS}"
        )
    arch_name, sep, what = text.partition(":")
    arch = _arch(arch_name)
    if not sep or not what:
        raise ValueError(f"{text!r} names no weights; use {_FORMS}. {_tags_hint(arch)}")
    if what == RANDOM:
        return ModelChoice(arch, tag=RANDOM)
    if _looks_like_path(what):
        return _file_choice(arch, what)
    return ModelChoice(arch, tag=_check_tag(arch, what))


def _arch(name: str) -> ArchInfo:
    info = arch_info(name)
    if info is not None:
        return info
    close = difflib.get_close_matches(name, known_arches(), n=4)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    raise ValueError(
        f"unknown open_clip architecture {name!r}.{hint} Valid values are {_FORMS}; "
        "`python -c 'import open_clip; print(open_clip.list_pretrained())'` lists every "
        "architecture with its pretrained tags."
    )


def _looks_like_path(what: str) -> bool:
    return (
        what.startswith(("/", "~", "."))
        or os.sep in what
        or what.lower().endswith(_WEIGHT_SUFFIXES)
        or _DIGEST.match(what) is not None
    )


def _file_choice(arch: ArchInfo, what: str) -> ModelChoice:
    recorded = _DIGEST.match(what)
    if recorded:
        # A checkpoint stored with its digest: the file is checked when it is loaded, so
        # opening a library for a query does not hash hundreds of megabytes.
        return ModelChoice(arch, path=recorded["path"], digest=recorded["digest"])
    path = os.path.abspath(os.path.expanduser(what))
    if not os.path.isfile(path):
        raise ValueError(
            f"the weights file {path} does not exist or is not a file; give the path of an "
            f"open_clip weights file (.safetensors preferred) for {arch.name}"
        )
    return ModelChoice(arch, path=path, digest=file_digest(path))


def _check_tag(arch: ArchInfo, tag: str) -> str:
    cleaned = tag.lower().replace("-", "_")
    if f"{arch.name}:{cleaned}" == DEFAULT_CHECKPOINT:
        return cleaned  # known without importing open_clip
    if not _is_tag(arch, cleaned):
        raise ValueError(f"{arch.name} has no pretrained tag {tag!r}. {_tags_hint(arch)}")
    return cleaned


def _is_tag(arch: ArchInfo, tag: str) -> bool:
    if tag in known_tags(arch.name):
        return True
    # Not in the table: an open_clip newer than the table may know it, so ask it (seconds).
    return tag in _pretrained_tags(arch)


@cache
def _tag_table() -> dict[str, list[str]]:
    with TAGS_FILE.open(encoding="utf-8") as handle:
        table = json.load(handle)["tags"]
    return {str(arch): [str(t) for t in tags] for arch, tags in table.items()}


def known_tags(arch_name: str) -> list[str]:
    """The pretrained tags of an architecture in the plugin's table (no open_clip import)."""
    return _tag_table().get(arch_name, [])


def _pretrained_tags(arch: ArchInfo) -> list[str]:
    if arch.name == TINY_ARCH:
        return []
    import open_clip

    return list(open_clip.list_pretrained_tags_by_model(arch.name))


def _tags_hint(arch: ArchInfo) -> str:
    tags = known_tags(arch.name) or _pretrained_tags(arch)
    if not tags:
        return (
            f"{arch.name} has no pretrained tags: give a weights file "
            f"({arch.name}:/path/to/weights.safetensors) or {arch.name}:random."
        )
    return f"Tags for {arch.name}: {', '.join(tags)}."


def write_tag_table(path: Path = TAGS_FILE) -> None:
    """Write the tag table from the installed open_clip (imports it)."""
    import open_clip

    table: dict[str, list[str]] = {}
    for arch, tag in open_clip.list_pretrained():
        table.setdefault(arch, []).append(tag)
    data = {"open_clip": open_clip.__version__, "tags": dict(sorted(table.items()))}
    path.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
