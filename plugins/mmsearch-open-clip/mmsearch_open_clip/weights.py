"""Where a model's weights are: a local file, the download caches, or the network.

``unavailable_reason`` answers without downloading and, for the default model,
without importing open_clip; ``weights_file`` is called when the model loads and
may download. Cached weights are used straight from the cache, so a machine
without a network never waits on one.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from mmsearch_open_clip.choice import DEFAULT_CHECKPOINT, ModelChoice, file_digest
from mmsearch_open_clip.network import unreachable_reason
from mmsearch_open_clip.store import model_name, stored_weights

HF_WEIGHTS = "open_clip_pytorch_model.bin"
HF_SAFE_WEIGHTS = "open_clip_model.safetensors"
URL_CACHE = os.path.join("~", ".cache", "clip")
"""Where open_clip keeps weights downloaded from a plain URL."""

# Where the default model comes from, so checking for it costs no open_clip import
# (seconds). A test checks this against open_clip's own table.
KNOWN_SOURCES: dict[str, dict[str, Any]] = {
    DEFAULT_CHECKPOINT: {"hf_hub": "laion/CLIP-ViT-B-32-laion2B-s34B-b79K/", "url": ""},
}


@dataclass(frozen=True, slots=True)
class Source:
    """The places open_clip would fetch a pretrained tag from, in its order of preference."""

    hf_repo: str | None
    hf_files: tuple[str, ...]
    url: str | None
    file: str | None = None

    @property
    def page(self) -> str:
        """Where a person can download the weights by hand."""
        if self.hf_repo:
            return f"https://huggingface.co/{self.hf_repo}"
        return self.url or self.file or "?"


def pretrained_config(choice: ModelChoice) -> dict[str, Any]:
    """open_clip's entry for the tag: its download locations and preprocessing."""
    import open_clip

    return dict(open_clip.get_pretrained_cfg(choice.arch.name, choice.tag or ""))


def _safe_alternatives(filename: str) -> tuple[str, ...]:
    """The safetensors files open_clip tries before a pickle file (same rule as open_clip)."""
    if filename == HF_WEIGHTS:
        return (HF_SAFE_WEIGHTS,)
    if filename.endswith((".bin", ".pth")):
        return (filename[:-4] + ".safetensors",)
    return ()


def source_of(config: dict[str, Any]) -> Source:
    """Read open_clip's pretrained entry the way its ``download_pretrained`` does."""
    if config.get("file"):
        return Source(None, (), None, file=str(config["file"]))
    hub = str(config.get("hf_hub") or "")
    if hub:
        repo, filename = os.path.split(hub)
        filename = filename or HF_WEIGHTS
        return Source(repo, (*_safe_alternatives(filename), filename), None)
    return Source(None, (), str(config.get("url") or "") or None)


def _source(choice: ModelChoice) -> Source:
    config = KNOWN_SOURCES.get(choice.checkpoint) or pretrained_config(choice)
    return source_of(config)


def hf_cache_dir() -> str:
    """The Hugging Face hub cache folder (HF_HUB_CACHE, HF_HOME/hub, or the default)."""
    from huggingface_hub import constants

    return str(constants.HF_HUB_CACHE)


def cached_file(source: Source) -> str | None:
    """The weights file if it is already on this machine; never touches the network."""
    if source.file:
        return source.file if os.path.isfile(source.file) else None
    if source.hf_repo:
        from huggingface_hub import try_to_load_from_cache

        for filename in source.hf_files:
            found = try_to_load_from_cache(source.hf_repo, filename, cache_dir=hf_cache_dir())
            if isinstance(found, str) and os.path.isfile(found):
                return found
        return None
    if source.url:
        path = os.path.join(os.path.expanduser(URL_CACHE), os.path.basename(source.url))
        return path if os.path.isfile(path) else None
    return None


def _cache_location(source: Source) -> str:
    if source.hf_repo:
        folder = "models--" + source.hf_repo.replace("/", "--")
        return f"{os.path.join(hf_cache_dir(), folder)} (file {source.hf_files[0]})"
    if source.url:
        return os.path.join(os.path.expanduser(URL_CACHE), os.path.basename(source.url))
    return source.file or "?"


def offline_flag() -> str | None:
    """The environment setting that forbids downloads, if one is set."""
    for name in ("HF_HUB_OFFLINE",):
        if os.environ.get(name, "").strip().upper() in {"1", "ON", "YES", "TRUE"}:
            return name
    return None


def _download_blocker(source: Source) -> str | None:
    if source.hf_repo:
        flag = offline_flag()
        if flag:
            return f"{flag}={os.environ[flag]} forbids downloads"
        from huggingface_hub import constants

        return unreachable_reason(str(constants.ENDPOINT))
    if source.url:
        return unreachable_reason(source.url)
    return "open_clip names no place to download them from"


def _file_problem(choice: ModelChoice) -> str | None:
    path = choice.path or ""
    if not os.path.isfile(path):
        return (
            f"the weights file {path} for {choice.arch.name} is missing; put it back, or "
            f"index with --model {choice.arch.name}:/path/to/weights.safetensors"
        )
    if not os.access(path, os.R_OK):
        return f"the weights file {path} cannot be read; check its permissions"
    return None


def unavailable_reason(choice: ModelChoice) -> str | None:
    """Why these weights cannot be had here, with what to do; None if they can."""
    if choice.random:
        return None
    if choice.path is not None:
        return _file_problem(choice)
    if stored_weights(choice):
        return None
    source = _source(choice)
    if cached_file(source):
        return None
    blocker = _download_blocker(source)
    if blocker is None:
        return None
    # Two lines: what is wrong, then the command that fixes it.
    name = model_name(choice)
    return (
        f"open_clip weights for {choice.label} are not in the download cache "
        f"({_cache_location(source)}) and cannot be downloaded: {blocker}.\n"
        f"  Run `mmsearch models pull {name}` where there is network (`mmsearch models "
        "export` and `import` carry them to this machine), or index with "
        f"--model {choice.arch.name}:/path/to/{source.hf_files[0] if source.hf_files else 'file'}"
    )


class WeightsChanged(RuntimeError):
    """A library's weights file is not the one its vectors were made with."""


def weights_file(choice: ModelChoice) -> str | None:
    """The file to load (downloading a pretrained tag if it must); None for random weights."""
    if choice.random:
        return None
    if choice.path is not None:
        problem = _file_problem(choice)
        if problem:
            raise FileNotFoundError(problem)
        actual = file_digest(choice.path)
        if actual != choice.digest:
            raise WeightsChanged(
                f"the weights file {choice.path} changed since this library's vectors were made "
                f"(sha256 {actual}..., recorded {choice.digest}...); restore the file, or index "
                f"again with --model {choice.arch.name}:{choice.path} to make a new space"
            )
        return choice.path
    stored = stored_weights(choice)
    if stored:
        return stored
    config = pretrained_config(choice)
    source = source_of(config)
    found = cached_file(source)
    if found:
        return found
    from open_clip.pretrained import download_pretrained

    try:
        return str(download_pretrained(config))
    except Exception as exc:  # network, disk, hub errors: one message that says what to do
        raise RuntimeError(
            f"could not download open_clip weights for {choice.label} from {source.page} "
            f"({type(exc).__name__}: {exc}); check the network and the free space in "
            f"{_cache_location(source)}, or download them by hand and index with "
            f"--model {choice.arch.name}:/path/to/weights.safetensors"
        ) from exc
