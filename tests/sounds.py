"""Sounds and sound spaces for the tests: generated tones and noise, a tiny random CLAP model,
and a pitch encoder whose space a test can reason about."""

from __future__ import annotations

import json
import re
import wave
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from mmsearch import Encoder, Extractor, MediaType, Modality, Segment, SkipFile, Source

RATE = 48_000
FloatArray = npt.NDArray[np.float32]


def tone(freq: float, seconds: float, *, level: float = 0.3, rate: int = RATE) -> FloatArray:
    """A sine tone; ``freq`` 0 gives white noise (seeded) at the same level."""
    t = np.arange(int(seconds * rate)) / rate
    if freq == 0:
        wave_ = np.random.default_rng(7).uniform(-1, 1, t.size)
    else:
        wave_ = np.sin(2 * np.pi * freq * t)
    return (level * wave_).astype(np.float32)


def write_wav(path: Path, samples: FloatArray, rate: int = RATE) -> Path:
    """16-bit mono PCM; returns ``path``."""
    pcm = np.clip(np.round(samples * 32767), -32768, 32767).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(pcm.tobytes())
    return path


def read_wav(path: Path) -> FloatArray:
    """The samples of a 16-bit mono WAV as float32 in [-1, 1) (FFmpeg's s16 to flt)."""
    with wave.open(str(path), "rb") as handle:
        pcm = np.frombuffer(handle.readframes(handle.getnframes()), dtype="<i2")
    return (pcm.astype(np.float32) / 32768.0).astype(np.float32)


class WavFiles(Extractor):
    """Identifies WAV files and hears no speech in them: whisper's part on a non-speech sound."""

    name: ClassVar[str] = "test-wav"
    media_type: ClassVar[MediaType] = "audio"
    extensions: ClassVar[frozenset[str]] = frozenset({"wav"})

    def sniff(self, head: bytes) -> bool:
        return head[:4] == b"RIFF" and head[8:12] == b"WAVE"

    def extract(self, source: Source) -> list[Segment]:
        raise SkipFile("no speech", "no speech was heard in it")


class PitchEncoder(Encoder):
    """A sound space a test can reason about: low (< 1 kHz) sounds, high sounds, and noise.

    Sounds go to one of three directions by their spectrum; a text goes to the direction
    its words name ("low", "high", "noise"), else to a fourth. It embeds only sounds in an
    index run, as CLAP does.
    """

    encoder_id: ClassVar[str] = "pitch"
    modalities: ClassVar[frozenset[Modality]] = frozenset({"audio", "text"})
    indexes: ClassVar[frozenset[Modality] | None] = frozenset({"audio"})
    checkpoint = "pitch-v1"
    priority: ClassVar[int] = -500

    def __init__(self) -> None:
        self.dim = 8
        self.calls: list[tuple[Modality, int]] = []

    def encode_batch(self, modality: Modality, contents: Sequence[Any]) -> FloatArray:
        self.calls.append((modality, len(contents)))
        rows = [self._sound(c) if modality == "audio" else self._text(c) for c in contents]
        out = np.stack(rows).astype(np.float32)
        return out / np.linalg.norm(out, axis=1, keepdims=True)

    @staticmethod
    def _direction(index: int, salt: str) -> FloatArray:
        row = np.full(8, 0.02, dtype=np.float32)
        row[index] = 1.0
        row[4 + len(salt) % 4] += 0.05  # not all alike, so the calibration has a spread
        return row

    def _sound(self, samples: Any) -> FloatArray:
        spectrum = np.abs(np.fft.rfft(np.asarray(samples, dtype=np.float32)))
        peak = float(np.argmax(spectrum)) * RATE / (2 * (len(spectrum) - 1))
        flatness = float(np.exp(np.mean(np.log(spectrum + 1e-9))) / (spectrum.mean() + 1e-9))
        if flatness > 0.3:
            return self._direction(2, "noise")
        return self._direction(0 if peak < 1000 else 1, f"{peak:.0f}")

    def _text(self, text: str) -> FloatArray:
        words = set(re.findall(r"\w+", text.lower()))
        for index, word in enumerate(("low", "high", "noise")):
            if word in words:
                return self._direction(index, text)
        return self._direction(3, text)


def build_tiny_clap(folder: Path) -> Path:
    """Save a tiny randomly initialised CLAP model with its processor in ``folder``.

    The tokenizer is a byte-level BPE trained here on a few sentences (no download); the
    feature extractor is CLAP's own with the unfused models' settings (``rand_trunc``).
    """
    import torch
    from tokenizers import ByteLevelBPETokenizer
    from transformers import (
        ClapConfig,
        ClapFeatureExtractor,
        ClapModel,
        ClapProcessor,
        RobertaTokenizerFast,
    )

    folder.mkdir(parents=True, exist_ok=True)
    words = folder / "bpe"
    words.mkdir(exist_ok=True)
    bpe = ByteLevelBPETokenizer()
    corpus = ["a dog barking", "a doorbell ringing", "a high beep", "a low hum", "white noise"]
    bpe.train_from_iterator(
        corpus, vocab_size=300, min_frequency=1,
        special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"],
    )  # fmt: skip
    bpe.save_model(str(words))
    vocab = json.loads((words / "vocab.json").read_text(encoding="utf-8"))
    lines = (words / "merges.txt").read_text(encoding="utf-8").splitlines()[1:]
    merges = [tuple(line.split()) for line in lines if line.strip()]
    tokenizer = RobertaTokenizerFast(vocab=vocab, merges=merges)
    config = ClapConfig(
        text_config={
            "vocab_size": len(tokenizer), "hidden_size": 32, "num_hidden_layers": 2,
            "num_attention_heads": 2, "intermediate_size": 37, "max_position_embeddings": 80,
            "projection_dim": 16,
        },
        audio_config={
            "hidden_size": 32, "patch_embeds_hidden_size": 16, "depths": [1, 1],
            "num_attention_heads": [2, 2], "window_size": 8, "num_hidden_layers": 2,
            "projection_dim": 16,
        },
        projection_dim=16,
    )  # fmt: skip
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = ClapModel(config).eval()
        # transformers' CLAP init leaves the tiny text tower blind to all but the first
        # token (every text one vector): draw every matrix afresh, seeded.
        with torch.no_grad():
            for parameter in model.parameters():
                if parameter.dim() > 1:
                    parameter.normal_(0.0, 0.3)
    processor = ClapProcessor(
        feature_extractor=ClapFeatureExtractor(truncation="rand_trunc"), tokenizer=tokenizer
    )
    model.save_pretrained(str(folder))
    processor.save_pretrained(str(folder))
    return folder
