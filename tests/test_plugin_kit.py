"""The plugin authors' test kit (mmsearch.testing): it passes the first-party plugins, it
catches broken ones, its fixtures work, and plugin failures are reported and traced.

The conformance suites run here over every installed plugin object (parametrised
by id), so a plugin added under plugins/ is checked without editing this file.
"""

from __future__ import annotations

import inspect
import json
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator, Sequence
from importlib.metadata import distributions
from pathlib import Path
from typing import Any, ClassVar

import click
import numpy as np
import pytest
from click.testing import CliRunner

from mmsearch import (
    Annotator,
    Encoder,
    Extractor,
    Library,
    Modality,
    Segment,
    SkipFile,
    Source,
    hookimpl,
)
from mmsearch.cli import cli
from mmsearch.plugins import add_commands, load_plugins
from mmsearch.store.catalog import Catalog
from mmsearch.testing import (
    AnnotatorConformance,
    EncoderConformance,
    ExtractorConformance,
    FakeEncoder,
    HostileCorpus,
    Plugin,
    measure,
    registered,
    run_hostile_corpus,
    sample_contents,
    source_for,
    write_sample_media,
)
from mmsearch.testing import pytest_plugin as kit_fixtures
from tests.rawfiles import write_dng
from tests.sounds import tone, write_wav
from tests.videos import photo_scenes, write_video

REPO = Path(__file__).resolve().parent.parent
INSTALLED = load_plugins()
REQUIRED_ENCODERS = {"hash", "colour"}
REQUIRED_EXTRACTORS = {"pillow-image", "plain-text"}
Violation = (AssertionError, pytest.fail.Exception)


def _open_clip_tiny(encoder: Encoder) -> Encoder:
    from mmsearch_open_clip import TINY_ARCH

    return encoder.configure(f"{TINY_ARCH}:random")


# Encoders whose default weights may need the network, and the checkpoint always tested
# instead: the suites must run the same offline and online (never download ViT-B-32).
TEST_CHECKPOINTS: dict[str, Callable[[Encoder], Encoder]] = {"open-clip": _open_clip_tiny}


def _encoder_to_check(name: str) -> Encoder:
    encoder = INSTALLED.encoders[name]
    if name in TEST_CHECKPOINTS:
        return TEST_CHECKPOINTS[name](encoder)
    if encoder.unavailable_reason() is None:
        return encoder
    pytest.skip(f"{name} cannot run here: {encoder.unavailable_reason()}")


def test_open_clip_is_checked_on_the_tiny_model_even_when_the_hub_is_reachable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if "open-clip" not in INSTALLED.encoders:
        pytest.skip("the open-clip plugin is not installed")
    asked: list[str] = []
    encoder_class = type(INSTALLED.encoders["open-clip"])
    monkeypatch.setattr(encoder_class, "unavailable_reason", lambda self: asked.append("?"))
    checked = _encoder_to_check("open-clip")
    assert checked.checkpoint.endswith(":random") and checked.dim == 64
    assert asked == []  # not even a network probe


def test_the_first_party_plugins_are_among_those_checked() -> None:
    assert set(INSTALLED.encoders) >= REQUIRED_ENCODERS
    assert {e.name for e in INSTALLED.extractors} >= REQUIRED_EXTRACTORS


# -- the suites over every installed plugin ----------------------------------------------


class TestInstalledEncoders(EncoderConformance):
    # Class scope: a model loads once for all the checks.
    @pytest.fixture(scope="class", params=sorted(INSTALLED.encoders))
    @classmethod
    def encoder(cls, request: pytest.FixtureRequest) -> Encoder:
        return _encoder_to_check(request.param)


SPEECH = REPO / "tests" / "media" / "speech"


def _remux(source: Path, target: Path) -> Path:
    """The same audio stream in another container (Matroska audio), without re-encoding."""
    import av

    with av.open(str(source)) as inp, av.open(str(target), "w", format="matroska") as out:
        stream = inp.streams.audio[0]
        copy = out.add_stream_from_template(stream)
        for packet in inp.demux(stream):
            if packet.dts is not None:
                packet.stream = copy
                out.mux(packet)
    return target


def _pdf(target: Path, *lines: str) -> Path:
    """A one-page PDF showing ``lines`` in Helvetica, written object by object."""
    shown = b" ".join(b"(" + line.encode("latin-1") + b") Tj T*" for line in lines)
    content = b"BT /F1 12 Tf 14 TL 72 720 Td " + shown + b" ET"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [4 0 R] /Count 1 >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
        b"/Resources << /Font << /F1 3 0 R >> >> /Contents 5 0 R >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content),
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    target.write_bytes(bytes(out))
    return target


# Extractors the kit's own sample files cannot serve (speech, containers, PDF), and files that can.
SAMPLES: dict[str, Callable[[Path], list[Path]]] = {
    "whisper": lambda tmp: [SPEECH / "weather.ogg"],
    "whisper-container": lambda tmp: [_remux(SPEECH / "weather.ogg", tmp / "weather.mka")],
    "pdf": lambda tmp: [_pdf(tmp / "report.pdf", "Annual report", "The harbour budget grew.")],
    "pyav-video": lambda tmp: [write_video(tmp / "a.mp4", photo_scenes([1.0]), size=(160, 90))],
    "libraw-raw": lambda tmp: [write_dng(tmp / "a.dng", photo_scenes([1.0])[0].picture)],
    "clap-sound": lambda tmp: [write_wav(tmp / "tone.wav", tone(660, 2.0))],
}


class TestInstalledExtractors(ExtractorConformance):
    @pytest.fixture(params=sorted(e.name for e in INSTALLED.extractors))
    def extractor(self, request: pytest.FixtureRequest) -> Extractor:
        return next(e for e in INSTALLED.extractors if e.name == request.param)

    @pytest.fixture
    def extractor_samples(self, extractor: Extractor, tmp_path: Path) -> list[Path]:
        if extractor.name in SAMPLES:
            return SAMPLES[extractor.name](tmp_path)
        files = write_sample_media(tmp_path / "kit-samples")
        chosen = [f for f in files if f.suffix.lstrip(".") in extractor.extensions]
        if not chosen:
            pytest.skip(f"no sample files for {extractor.name}: add some to SAMPLES in this module")
        return chosen


@pytest.mark.skipif(not INSTALLED.annotators, reason="no annotator plugin is installed")
class TestInstalledAnnotators(AnnotatorConformance):
    @pytest.fixture(params=sorted(a.name for a in INSTALLED.annotators) or ["none"])
    def annotator(self, request: pytest.FixtureRequest) -> Annotator:
        return next(a for a in INSTALLED.annotators if a.name == request.param)


class TestFakeEncoder(EncoderConformance):
    plugin = "module:mmsearch.testing.fakes"

    @pytest.fixture
    def encoder(self) -> Encoder:
        return FakeEncoder()


def test_the_colour_plugin_passes_its_own_tests_as_a_third_party_would() -> None:
    """Its tests run in their own pytest process, against the pip-installed plugin."""
    folder = REPO / "plugins" / "mmsearch-colour"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert " passed" in done.stdout and "failed" not in done.stdout


# -- the suites catch what they claim to catch --------------------------------------------


class Scaled(FakeEncoder):
    """Rows of length 2, in float64."""

    def encode_batch(self, modality: Modality, contents: Sequence[Any]) -> Any:
        return (2 * super().encode_batch(modality, contents)).astype(np.float64)


class Noisy(FakeEncoder):
    def encode_batch(self, modality: Modality, contents: Sequence[Any]) -> Any:
        rows = super().encode_batch(modality, contents)
        rows += np.random.default_rng().normal(0, 0.05, rows.shape).astype(np.float32)
        return rows / np.linalg.norm(rows, axis=1, keepdims=True)


class BatchCentred(FakeEncoder):
    """Subtracts the batch mean: each row depends on its neighbours."""

    def encode_batch(self, modality: Modality, contents: Sequence[Any]) -> Any:
        rows = super().encode_batch(modality, contents)
        rows = rows - 0.5 * rows.mean(axis=0) + 1e-3
        return rows / np.linalg.norm(rows, axis=1, keepdims=True)


class Constant(FakeEncoder):
    def encode_batch(self, modality: Modality, contents: Sequence[Any]) -> Any:
        rows = np.ones((len(contents), self.dim), dtype=np.float32)
        return rows / np.linalg.norm(rows, axis=1, keepdims=True)


class PoisonedByEmptyText(FakeEncoder):
    """An empty text in a batch turns every row of that batch into the same vector."""

    def encode_batch(self, modality: Modality, contents: Sequence[Any]) -> Any:
        if any(isinstance(c, str) and not c for c in contents):
            return Constant().encode_batch(modality, contents)
        return super().encode_batch(modality, contents)


class AcceptsAnyCheckpoint(FakeEncoder):
    def configure(self, checkpoint: str) -> Encoder:
        return self


class NeverLoaded(FakeEncoder):
    @property
    def loaded(self) -> bool:
        return False


@pytest.mark.parametrize(
    ("encoder", "check"),
    [
        (Scaled(), "test_returns_unit_float32_rows_of_its_dim"),
        (Noisy(), "test_is_deterministic"),
        (BatchCentred(), "test_batch_matches_one_at_a_time"),
        (Constant(), "test_different_inputs_give_different_vectors"),
        (PoisonedByEmptyText(), "test_edge_inputs_cost_only_themselves"),
        (AcceptsAnyCheckpoint(), "test_configure_keeps_its_checkpoint_and_refuses_unknown_ones"),
        (NeverLoaded(), "test_loaded_turns_true_on_first_use"),
    ],
    ids=["float64-long-rows", "noisy", "batch-centred", "constant", "poisoned", "any-ckpt", "lazy"],
)
def test_the_encoder_suite_catches_a_broken_encoder(encoder: Encoder, check: str) -> None:
    from mmsearch.testing.media import edge_contents

    suite = EncoderConformance()
    method = getattr(suite, check)
    arguments: dict[str, Any] = {
        "encoder": encoder,
        "encoder_samples": sample_contents(encoder.modalities),
        "encoder_edge_samples": edge_contents(encoder.modalities),
    }
    wanted = {name: arguments[name] for name in inspect.signature(method).parameters}
    with pytest.raises(Violation):
        method(**wanted)
    # The same check passes on the honest encoder it was broken from.
    honest = {**wanted, "encoder": FakeEncoder()} if "encoder" in wanted else wanted
    method(**honest)


def _write_module(folder: Path, name: str, body: str) -> str:
    (folder / f"{name}.py").write_text(textwrap.dedent(body))
    return name


def test_the_registration_check_catches_heavy_imports_and_opened_weights(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "kitcase_fake_runtime.py").write_text("LOADED = True\n")
    (tmp_path / "weights.pt").write_bytes(b"\0" * 16)
    name = _write_module(
        tmp_path,
        "kitcase_eager_plugin",
        f"""
        import kitcase_fake_runtime
        from mmsearch import hookimpl
        from mmsearch.testing import FakeEncoder

        @hookimpl
        def register_encoders(register):
            with open({str(tmp_path / "weights.pt")!r}, "rb") as handle:
                handle.read()
            register(FakeEncoder())
        """,
    )
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    footprint = measure(f"module:{name}", heavy=("kitcase_fake_runtime",))
    problems = "\n".join(footprint.problems())
    assert "imported kitcase_fake_runtime" in problems
    assert "weights.pt" in problems
    lazy = measure("module:mmsearch.testing.fakes", heavy=("kitcase_fake_runtime",))
    assert lazy.problems() == [] and lazy.provides == {"encoders": ["fake"]}


class RaisesOnBadInput(Extractor):
    """Lets the decoder's exceptions escape instead of raising SkipFile."""

    name: ClassVar[str] = "kit-raises"
    media_type: ClassVar[Any] = "image"
    extensions: ClassVar[frozenset[str]] = frozenset({"png"})
    signatures: ClassVar[tuple[bytes, ...]] = (b"\x89PNG",)

    def extract(self, source: Source) -> Iterator[Segment]:
        from PIL import Image

        if source.size < 100:
            raise ValueError("too short to be an image")
        with Image.open(source.path) as image:
            image.load()  # Pillow raises OSError for truncated data
            yield Segment("image", "image", image.convert("RGB"))


class AcceptsAnything(Extractor):
    """Claims every .png, intact or not, and never gives a reason."""

    name: ClassVar[str] = "kit-accepts"
    media_type: ClassVar[Any] = "image"
    extensions: ClassVar[frozenset[str]] = frozenset({"png"})

    def extract(self, source: Source) -> Iterator[Segment]:
        from PIL import Image

        yield Segment("image", "image", Image.new("RGB", (4, 4)))


def test_the_hostile_corpus_catches_crashes_and_silent_acceptance(tmp_path: Path) -> None:
    raising = run_hostile_corpus(
        tmp_path / "a", extractors=[RaisesOnBadInput()], encoder=FakeEncoder()
    )
    problems = raising.problems()
    assert any("header-only.png: extractor error" in p for p in problems), problems
    # A decoder's OSError is the extractor failing, not a permissions problem.
    assert any("truncated.png: extractor error" in p for p in problems), problems
    accepting = run_hostile_corpus(
        tmp_path / "b", extractors=[AcceptsAnything()], encoder=FakeEncoder()
    )
    assert any("random.png" in p and "without a reason" in p for p in accepting.problems())


class SharedState(Extractor):
    """Keeps the file being read on the instance: threads overwrite each other's."""

    name: ClassVar[str] = "kit-shared-state"
    media_type: ClassVar[Any] = "text"
    extensions: ClassVar[frozenset[str]] = frozenset({"txt", "md"})

    def extract(self, source: Source) -> Iterator[Segment]:
        self.current = source.path
        time.sleep(0.05)
        text = Path(self.current.decode()).read_bytes().decode("utf-8", "replace")
        yield Segment("text", "text", text, text)


class TextMismatch(SharedState):
    name: ClassVar[str] = "kit-mismatch"

    def extract(self, source: Source) -> Iterator[Segment]:
        text = Path(source.fspath).read_bytes().decode("utf-8", "replace")
        yield Segment("text", "text", text, text.upper())


def test_the_extractor_suite_catches_unsafe_threads_and_broken_segments(tmp_path: Path) -> None:
    samples = [p for p in write_sample_media(tmp_path) if p.suffix in (".txt", ".md")]
    suite = ExtractorConformance()
    with pytest.raises(Violation):
        suite.test_is_thread_safe(SharedState(), samples)
    with pytest.raises(Violation, match="text must equal its content"):
        suite.test_extracts_valid_segments(TextMismatch(), samples)
    suite.test_extracts_valid_segments(SharedState(), samples)


class RewritesContent(Annotator):
    name: ClassVar[str] = "kit-rewrites"
    kinds: ClassVar[frozenset[str]] = frozenset({"text"})

    def annotate(self, segment: Segment, source: Source) -> Segment:
        return Segment(segment.kind, segment.modality, "other", "other")


def test_the_annotator_suite_catches_an_annotator_that_replaces_content(
    tmp_path: Path,
) -> None:
    path = tmp_path / "note.txt"
    path.write_text("original words")
    pair = (Segment("text", "text", "original words", "original words"), source_for(path))
    with pytest.raises(Violation):
        AnnotatorConformance().test_only_adds_text(RewritesContent(), [pair])


# -- the fixtures ---------------------------------------------------------------------------


def test_fixture_names_never_collide_with_a_projects_own() -> None:
    names = [n for n in dir(kit_fixtures) if n.startswith("mmsearch_")]
    assert len(names) >= 6
    assert not [n for n in vars(kit_fixtures) if n.startswith(("db_path", "media", "library"))]


def test_the_kit_is_a_pytest_plugin_through_pytest11(pytestconfig: pytest.Config) -> None:
    # Every copy of the metadata, not entry_points()'s first per name: a stale
    # mmsearch.egg-info in the working tree may shadow the installed one there.
    declared = {
        (ep.name, ep.value)
        for dist in distributions()
        if dist.metadata["Name"] == "mmsearch"
        for ep in dist.entry_points.select(group="pytest11")
    }
    assert ("mmsearch", "mmsearch.testing.pytest_plugin") in declared
    assert pytestconfig.pluginmanager.has_plugin("mmsearch")


def test_the_library_fixture_indexes_with_the_fake_encoder(
    mmsearch_library: Library, mmsearch_sample_media: list[Path]
) -> None:
    report = mmsearch_library.index(mmsearch_sample_media[0].parent)
    assert report.space == "fake (64-d)"
    assert report.indexed >= 6 and not report.failed
    hit = mmsearch_library.query("roof repairs budget meeting", k=1)[0]
    assert Path(hit.path).name == "budget.md"


def test_make_library_builds_libraries_of_exactly_the_given_plugins(
    mmsearch_make_library: Callable[..., Library], mmsearch_fake_encoder: FakeEncoder
) -> None:
    first = mmsearch_make_library(Plugin(encoders=[mmsearch_fake_encoder]))
    second = mmsearch_make_library(Plugin(encoders=[Constant()]))
    assert first.db_path != second.db_path
    assert list(first.registry.encoders) == ["fake"] and first.registry.extractors == []


def test_the_hostile_media_fixture_holds_every_hazard(
    mmsearch_hostile_media: HostileCorpus,
) -> None:
    hazards = " | ".join(f.hazard for f in mmsearch_hostile_media.files)
    for hazard in (
        "zero-byte",
        "truncated PNG",
        "truncated WAV",
        "text named .jpg",
        "decompression bomb",
        "non-UTF-8 name",
        "binary data named .txt",
        "folder symlink loop",
    ):
        assert hazard in hazards
    assert all(f.path.is_symlink() or f.path.exists() for f in mmsearch_hostile_media.files)


class Words(Extractor):
    name: ClassVar[str] = "kit-words"
    media_type: ClassVar[Any] = "text"
    extensions: ClassVar[frozenset[str]] = frozenset({"words"})

    def extract(self, source: Source) -> Iterator[Segment]:
        raise SkipFile("kit skip", "always skipped; nothing to do")


def _plugins_json(*args: str) -> dict[str, Any]:
    result = CliRunner().invoke(cli, ["plugins", "--json", *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    payload: dict[str, Any] = json.loads(result.stdout)
    return payload


def test_register_plugin_makes_the_cli_see_it_for_one_test(
    mmsearch_register_plugin: Callable[..., str],
) -> None:
    name = mmsearch_register_plugin(Plugin(extractors=[Words()]), "kit-words-plugin")
    listed = {p["name"]: p for p in _plugins_json()["plugins"]}
    assert listed[name]["provides"] == {"extractors": ["kit-words"]}


def test_a_registered_plugin_is_gone_after_its_block() -> None:
    with registered(Plugin(extractors=[Words()]), "kit-words-block") as name:
        assert name in load_plugins().plugins
    assert name not in load_plugins().plugins
    assert name not in sys.modules


# -- broken plugins are reported, traced, and the CLI keeps working ------------------------


class RaisesAtRegistration:
    __name__ = "kit-broken"

    @hookimpl
    def register_encoders(self, register: Callable[[Encoder], None]) -> None:
        raise RuntimeError("weights file missing")


def test_a_plugin_raising_at_registration_is_reported_and_indexing_still_works(
    mmsearch_register_plugin: Callable[..., str], media_folder: Path, tmp_path: Path
) -> None:
    name = mmsearch_register_plugin(RaisesAtRegistration(), "kit-broken")
    payload = _plugins_json()
    broken = next(p for p in payload["plugins"] if p["name"] == name)
    assert broken["error"] == "register_encoders failed: RuntimeError: weights file missing"
    assert broken["hooks"] == ["register_encoders"]
    assert name in payload["failed"]
    result = CliRunner().invoke(
        cli, ["--db", str(tmp_path / "c.db"), "index", str(media_folder), "--json"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["indexed"] >= 2
    assert f"warning: plugin {name} is not loaded" in result.stderr


def test_a_plugin_raising_at_import_is_reported_with_the_last_traceback_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = _write_module(tmp_path, "kitcase_import_fails", "import no_such_module_anywhere\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("MMSEARCH_PLUGIN_MODULES", name)
    payload = _plugins_json()
    broken = next(p for p in payload["plugins"] if p["name"] == name)
    assert broken["error"] == "ModuleNotFoundError: No module named 'no_such_module_anywhere'"
    assert {"images", "text", "colour"} <= {p["name"] for p in payload["plugins"]}
    Catalog(tmp_path / "c.db").close()  # status only reads: it needs a catalog to read
    status = CliRunner().invoke(cli, ["--db", str(tmp_path / "c.db"), "status", "--json"])
    assert status.exit_code == 0, status.output


def test_plugins_json_names_distribution_version_hooks_and_what_was_registered() -> None:
    colour = next(p for p in _plugins_json()["plugins"] if p["name"] == "colour")
    assert colour == {
        "name": "colour",
        "distribution": "mmsearch-colour",
        "version": "0.1.0",
        "hooks": ["register_encoders"],
        "provides": {"encoders": ["colour"]},
        "error": None,
    }


def test_a_module_plugin_is_attributed_to_the_distribution_that_ships_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MMSEARCH_PLUGIN_MODULES", "mmsearch.testing.fakes")
    fakes = load_plugins().plugins["mmsearch.testing.fakes"]
    assert (fakes.distribution, fakes.version) == ("mmsearch", __import__("mmsearch").__version__)


def test_trace_prints_each_hook_call_and_its_result(
    mmsearch_register_plugin: Callable[..., str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    broken = mmsearch_register_plugin(RaisesAtRegistration(), "kit-broken")
    monkeypatch.setenv("MMSEARCH_TRACE_PLUGINS", "1")
    monkeypatch.setenv("MMSEARCH_LOAD_PLUGINS", "text,colour")
    load_plugins()
    lines = capsys.readouterr().err.splitlines()
    for expected in (
        "[mmsearch plugins] call text.register_extractors(register)",
        "[mmsearch plugins] text.register_extractors(register) -> extractor plain-text",
        "[mmsearch plugins] colour.register_encoders(register) -> encoder colour",
        f"[mmsearch plugins] call {broken}.register_encoders(register)",
        f"[mmsearch plugins] {broken}: register_encoders failed: RuntimeError: "
        "weights file missing",
    ):
        assert expected in lines, "\n".join(lines)


def test_trace_covers_hooks_called_through_the_plugin_manager(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Hooks the engine calls with ``manager.hook.NAME(...)`` (future ones) are traced too."""
    monkeypatch.setenv("MMSEARCH_TRACE_PLUGINS", "1")
    monkeypatch.setenv("MMSEARCH_LOAD_PLUGINS", "text")
    registry = load_plugins()
    seen: list[Extractor] = []
    registry.manager.hook.register_extractors(register=seen.append)
    err = capsys.readouterr().err
    assert "[mmsearch plugins] call register_extractors(register) on text" in err
    assert "[mmsearch plugins] register_extractors returned []" in err
    assert [e.name for e in seen] == ["plain-text"]


@pytest.fixture
def media_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "kit-media"
    folder.mkdir()
    (folder / "a.txt").write_text("alpha words")
    (folder / "b.txt").write_text("beta words")
    return folder


class AddsACommand:
    __name__ = "kit-commands"

    @hookimpl
    def register_commands(self, cli: click.Group) -> None:
        @cli.command()
        def hello() -> None:
            click.echo("hello from a plugin")


class CommandsRaise:
    __name__ = "kit-commands-broken"

    @hookimpl
    def register_commands(self, cli: click.Group) -> None:
        raise ImportError("libfoo is missing")


def test_add_commands_records_and_traces_commands_and_isolates_failures(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MMSEARCH_TRACE_PLUGINS", "1")
    registry = load_plugins(AddsACommand(), CommandsRaise(), discover=False)
    group = click.Group("mmsearch")
    add_commands(registry, group)
    assert list(group.commands) == ["hello"]
    assert registry.plugins["kit-commands"].provides == {"commands": ["hello"]}
    broken = registry.plugins["kit-commands-broken"]
    assert broken.error == "register_commands failed: ImportError: libfoo is missing"
    err = capsys.readouterr().err
    assert "[mmsearch plugins] kit-commands.register_commands(cli) -> command hello" in err
    assert CliRunner().invoke(group, ["hello"]).output == "hello from a plugin\n"
