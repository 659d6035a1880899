"""mmsearch-clap: sound windows beside whisper's transcript, embedded by a CLAP model.

The model is a tiny randomly initialised ClapModel saved here (no CLAP weights ship on
PyPI, and tests never download); its vectors are checked against transformers' own
pipeline (ClapProcessor + ClapModel), the way the package's documentation runs it.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest
from mmsearch_clap import ClapEncoder, SoundExtractor
from mmsearch_clap.sound import sound_windows
from mmsearch_colour.encoder import ColourEncoder
from PIL import Image

from mmsearch import Library, SearchOptions
from mmsearch.contracts import Extractor, ExtractSettings, SkipFile, Source
from mmsearch.errors import EncoderUnavailableError
from mmsearch.testing import EncoderConformance, ExtractorConformance
from tests.sounds import RATE, build_tiny_clap, read_wav, tone, write_wav
from tests.support import make_registry

pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def tiny_clap(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_clap(tmp_path_factory.mktemp("tiny-clap") / "model")


def _source(path: Path, **options: object) -> Source:
    return Source(
        bytes(path), str(path), path.stat().st_size, ExtractSettings(options=dict(options))
    )


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


# -- the sound extractor ------------------------------------------------------------------


def test_windows_cover_the_sound_and_leave_silence_out(tmp_path: Path) -> None:
    samples = np.concatenate([tone(440, 12.0), np.zeros(RATE * 10, np.float32), tone(0, 4.5)])
    segments = sound_windows(_source(write_wav(tmp_path / "a.wav", samples)))
    assert [(s.start, s.end) for s in segments] == [(0.0, 10.0), (10.0, 20.0), (20.0, 26.5)]
    assert all(s.kind == "sound" and s.modality == "audio" and s.text is None for s in segments)
    assert segments[0].content.dtype == np.float32 and len(segments[0].content) == 10 * RATE


def test_other_rates_and_a_short_tail(tmp_path: Path) -> None:
    path = write_wav(tmp_path / "b.wav", tone(1000, 10.4, rate=16_000), rate=16_000)
    segments = sound_windows(_source(path, sound_window_seconds=5))
    assert [(s.start, s.end) for s in segments] == [(0.0, 5.0), (5.0, 10.0)]  # 0.4 s tail out
    assert len(segments[0].content) == 5 * RATE  # resampled to CLAP's 48 kHz


def test_silence_no_audio_and_a_bad_setting_are_skips(tmp_path: Path) -> None:
    with pytest.raises(SkipFile, match="no sound"):
        sound_windows(_source(write_wav(tmp_path / "quiet.wav", np.zeros(RATE, np.float32))))
    png = tmp_path / "p.png"
    Image.new("RGB", (8, 8)).save(png)
    with pytest.raises(SkipFile) as skipped:
        sound_windows(_source(png))
    assert skipped.value.reason in {"no audio", "corrupt audio"}
    with pytest.raises(SkipFile, match="sound_window_seconds=30") as bad:
        sound_windows(_source(write_wav(tmp_path / "c.wav", tone(440, 2)), sound_window_seconds=30))
    assert bad.value.once


def test_the_cap_bounds_what_is_heard(tmp_path: Path) -> None:
    path = write_wav(tmp_path / "long.wav", tone(440, 35.0))
    segments = sound_windows(_source(path, sound_max_seconds=20))
    assert [(s.start, s.end) for s in segments] == [(0.0, 10.0), (10.0, 20.0)]


@pytest.fixture(scope="module")
def kit_sounds(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    folder = tmp_path_factory.mktemp("kit-sounds")
    return [write_wav(folder / "tone.wav", tone(660, 3.0)), write_wav(folder / "n.wav", tone(0, 2))]


class TestSoundExtractorConformance(ExtractorConformance):
    thread_rounds = 1

    @pytest.fixture
    def extractor(self) -> Extractor:
        return SoundExtractor()

    @pytest.fixture
    def extractor_samples(self, kit_sounds: list[Path]) -> list[Path]:
        return kit_sounds


# -- the encoder ----------------------------------------------------------------------------


class TestClapEncoderConformance(EncoderConformance):
    @pytest.fixture
    def encoder(self, tiny_clap: Path) -> ClapEncoder:
        return ClapEncoder(str(tiny_clap))


def test_absent_weights_say_what_to_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    reason = ClapEncoder().unavailable_reason()
    assert reason is not None
    assert "hf download laion/clap-htsat-unfused" in reason and "PyPI" in reason
    folder = tmp_path / "half"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    partial = ClapEncoder(str(folder)).unavailable_reason()
    assert partial is not None and "save_pretrained" in partial
    assert ClapEncoder(str(folder)).dim == 512  # the LAION size when the config says none
    registry = make_registry(ColourEncoder(), ClapEncoder())
    (tmp_path / "m").mkdir()
    with (
        Library.open(tmp_path / "lib.db", registry=registry) as lib,
        pytest.raises(EncoderUnavailableError, match="save_pretrained"),
    ):
        lib.index(tmp_path / "m", encoder="colour", spaces=[f"clap={folder}"])


def test_the_engine_s_vectors_equal_transformers_own_pipeline(
    tiny_clap: Path, tmp_path: Path
) -> None:
    import torch
    from transformers import ClapModel, ClapProcessor

    root = tmp_path / "media"
    root.mkdir()
    samples = np.concatenate([tone(880, 10.0), tone(0, 6.0, level=0.2)])
    wav = write_wav(root / "doorbell.wav", samples)
    Image.new("RGB", (64, 48), (200, 30, 30)).save(root / "red.png")
    registry = make_registry(ColourEncoder(), ClapEncoder())  # every first-party extractor
    with Library.open(tmp_path / "lib.db", registry=registry) as lib:
        report = lib.index(root, encoder="colour", spaces=[f"clap={tiny_clap}"])
        assert report.indexed == 2 and not report.failed, report.to_json()
        clap = next(s for s in lib.catalog.spaces() if s.encoder_id == "clap")
        assert clap.dim == 16
        with sqlite3.connect(tmp_path / "lib.db") as conn:
            rows = conn.execute(
                "SELECT id, start, end FROM segments WHERE kind = 'sound' ORDER BY start"
            ).fetchall()
        assert [(a, b) for _, a, b in rows] == [(0.0, 10.0), (10.0, 16.0)]
        stored = lib.catalog.vectors_for(clap.id, [r[0] for r in rows])

        model = ClapModel.from_pretrained(str(tiny_clap)).eval()
        processor = ClapProcessor.from_pretrained(str(tiny_clap))
        decoded = read_wav(wav)
        windows = [decoded[: 10 * RATE], decoded[10 * RATE :]]
        with torch.no_grad():
            inputs = processor(audio=windows, sampling_rate=RATE, return_tensors="pt")
            reference = model.get_audio_features(**inputs).pooler_output.numpy()
            words = processor(text=["a doorbell ringing"], padding=True, return_tensors="pt")
            text_reference = model.get_text_features(**words).pooler_output.numpy()[0]
        for (segment_id, _, _), expected in zip(rows, reference, strict=True):
            assert _cosine(stored[segment_id], expected) >= 0.9999
        engine_text = lib.encoder_for(clap).encode_batch("text", ["a doorbell ringing"])[0]
        assert _cosine(engine_text, text_reference) >= 0.9999

        # A default text query searches the colour space and the CLAP space together.
        result = lib.search("a doorbell ringing", options=SearchOptions(k=5, keep_weak=True))
        assert [s.encoder for s in result.plan.spaces] == ["colour", "clap"]
        hit = next(h for h in result.hits if Path(h.path).name == "doorbell.wav")
        assert hit.kind == "sound" and hit.start in (0.0, 10.0)
        assert any(s["signal"] == "vector:clap" for s in hit.why["signals"])
        # The recording itself as an example finds itself through its sound.
        by_example = lib.search(examples=[str(wav)], options=SearchOptions(k=2, keep_weak=True))
        assert Path(by_example.hits[0].path).name == "doorbell.wav"
