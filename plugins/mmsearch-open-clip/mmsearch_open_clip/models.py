"""The models ``mmsearch models`` shows for open-clip: the encoder's model, and any pulled
or imported ones, each with where its weights are (this plugin's folder under
``models_home()``, or the Hugging Face cache) and where ``models pull`` fetches them."""

from __future__ import annotations

import json
import os
from pathlib import Path

from mmsearch.contracts import ModelFile, ModelSpec, models_home
from mmsearch_open_clip.choice import DEFAULT_CHECKPOINT, ModelChoice, parse_choice
from mmsearch_open_clip.store import PREFIX, WEIGHTS, model_name, stored_folder, stored_weights
from mmsearch_open_clip.weights import Source, _source, cached_file, unavailable_reason

# The licence on the model card of each pretrained tag this plugin knows without asking
# the hub; other tags say where to read theirs.
LICENCES = {DEFAULT_CHECKPOINT: "MIT"}


def _download_url(source: Source) -> str | None:
    """The safetensors file on the hub; None for tags open_clip fetches from a plain URL,
    as those are pickles this plugin does not store under models_home()."""
    if not source.hf_repo:
        return None
    from huggingface_hub import constants

    return f"{constants.ENDPOINT}/{source.hf_repo}/resolve/main/{WEIGHTS}"


def _spec(choice: ModelChoice, default: bool) -> ModelSpec:
    """The declaration of one pretrained tag's weights."""
    source = _source(choice)
    folder = stored_folder(choice)
    files: tuple[ModelFile, ...] = (ModelFile(WEIGHTS, url=_download_url(source)),)
    if not stored_weights(choice):
        found = cached_file(source)
        if found:  # already in the hub's cache: show (and export) that copy
            folder = Path(found).parent
            files = (ModelFile(os.path.basename(found)),)
    licence = LICENCES.get(choice.checkpoint) or f"see the model card at {source.page}"
    return ModelSpec(
        name=model_name(choice),
        description=f"open_clip {choice.arch.name} ({choice.arch.embed_dim}-d), images and text",
        licence=licence,
        folder=folder,
        files=files,
        unavailable=unavailable_reason(choice),
        default=default,
        extra={"architecture": choice.arch.name, "tag": choice.tag or "", "page": source.page},
    )


def _stored_choices() -> list[ModelChoice]:
    """Pretrained tags pulled or imported into models_home(), read from their manifests."""
    found = []
    for manifest in sorted(models_home().glob("open-clip__*/manifest.json")):
        try:
            name = str(json.loads(manifest.read_text("utf-8"))["name"])
            found.append(parse_choice(name.removeprefix(PREFIX)))
        except (OSError, ValueError, KeyError, TypeError):
            continue  # not ours, or damaged: `mmsearch models verify` reports it
    return found


def declared_models(current: ModelChoice) -> list[ModelSpec]:
    """The encoder's own model (if a pretrained tag) and every stored one."""
    choices = [c for c in (current,) if c.tag is not None and not c.random]
    if DEFAULT_CHECKPOINT not in {c.checkpoint for c in choices}:
        choices.insert(0, parse_choice(DEFAULT_CHECKPOINT))
    for choice in _stored_choices():
        if choice.checkpoint not in {c.checkpoint for c in choices}:
            choices.append(choice)
    return [_spec(c, default=c.checkpoint == DEFAULT_CHECKPOINT) for c in choices]
