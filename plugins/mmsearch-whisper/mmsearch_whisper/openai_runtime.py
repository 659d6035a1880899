"""The openai-whisper runtime (PyTorch), fed decoded arrays so no ffmpeg program is needed.

It has no voice-activity filter of its own, so the Silero VAD that ships with
faster-whisper picks the speech, and whisper transcribes only those clips
(``clip_timestamps``), which keeps silence from turning into hallucinated text
and keeps every timestamp in the file's own time.
"""

from __future__ import annotations

from typing import Any

from mmsearch_whisper.audio import SAMPLE_RATE, FloatArray
from mmsearch_whisper.options import WhisperOptions, how_to_set
from mmsearch_whisper.runtimes import Runtime, first_line, temperatures
from mmsearch_whisper.windows import Piece


class OpenAIWhisperRuntime(Runtime):
    """openai-whisper on the CPU in float32."""

    label = "openai-whisper"

    def _load(self) -> Any:
        import whisper  # heavy: torch

        try:
            # Checkpoints load with torch.load(weights_only=True): tensors only, no pickled code.
            return whisper.load_model(self.model, device="cpu").eval()
        except Exception as exc:  # not cached and no network, not a checkpoint, unsafe pickle
            names = ", ".join(whisper.available_models())
            raise self.unavailable(
                first_line(exc),
                f"give a whisper .pt checkpoint with {how_to_set('whisper_model')}, or a "
                f"model name ({names}) that is in ~/.cache/whisper or can be downloaded once",
            ) from exc

    def _run(self, model: Any, samples: FloatArray, options: WhisperOptions) -> list[Piece]:
        import whisper

        clips = speech_clips(samples)
        if not clips:
            return []
        result = whisper.transcribe(
            model,
            samples,
            language=options.language,
            temperature=temperatures(options),
            beam_size=options.beam_size if options.beam_size > 1 else None,
            fp16=False,
            condition_on_previous_text=False,
            clip_timestamps=clips,
            verbose=None,
        )
        return [
            Piece(float(s["start"]), float(s["end"]), str(s["text"])) for s in result["segments"]
        ]


def speech_clips(samples: FloatArray) -> list[float]:
    """Start and end times (seconds, flattened) of the stretches of speech, from Silero VAD."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    regions = get_speech_timestamps(samples, VadOptions())
    return [t / SAMPLE_RATE for region in regions for t in (region["start"], region["end"])]
