"""Conformance suites: subclass one in a ``Test*`` class, give it your plugin object, run pytest.

>>> class TestMyEncoder(EncoderConformance):          # doctest: +SKIP
...     @pytest.fixture
...     def encoder(self) -> Encoder:
...         return MyEncoder()

Every test method is one rule of the contract; a failure says which rule and
which input broke it. Class attributes tune the checks (tolerances, the plugin's
entry-point name); fixtures supply the inputs (override them for media the kit
does not generate, speech recordings say).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest

from mmsearch.contracts import (
    Annotator,
    Encoder,
    Extractor,
    ExtractSettings,
    MediaType,
    Modality,
    Segment,
    Source,
)
from mmsearch.testing import checks
from mmsearch.testing.fakes import FakeEncoder
from mmsearch.testing.footprint import HEAVY_MODULES, measure, plugin_for
from mmsearch.testing.hostile import run_hostile_corpus
from mmsearch.testing.media import edge_contents, sample_contents, write_sample_media
from mmsearch.testing.registration import load_registry


def source_for(path: Path, settings: ExtractSettings | None = None) -> Source:
    """The :class:`~mmsearch.Source` the engine would hand an extractor for ``path``."""
    raw = os.fsencode(os.path.abspath(path))
    display = raw.decode("utf-8", "backslashreplace")
    return Source(raw, display, os.stat(raw).st_size, settings or ExtractSettings())


def _fail_if(problems: Sequence[str], heading: str) -> None:
    if problems:
        pytest.fail(heading + ":\n  - " + "\n  - ".join(problems), pytrace=False)


class _RegistrationCheck:
    """The lazy-loading rule, shared by every suite."""

    plugin: ClassVar[str | None] = None
    """Entry-point name of the plugin under test, or ``"module:NAME"`` for an uninstalled
    module; by default, the installed plugin whose package defines the object's class."""
    heavy_modules: ClassVar[tuple[str, ...]] = HEAVY_MODULES
    """Modules that must not be imported at registration (model runtimes)."""

    def _check_registration(self, obj: object, kind: str, ident: str) -> None:
        plugin = self.plugin or plugin_for(obj)
        if plugin is None:
            pytest.fail(
                f"no installed plugin's package defines {type(obj).__qualname__}: install "
                "the plugin (pip install -e .) or set `plugin = 'module:your_module'`",
                pytrace=False,
            )
        footprint = measure(plugin, self.heavy_modules)
        registered = footprint.provides.get(kind, [])
        if ident not in registered:
            footprint.errors.setdefault(plugin, f"it did not register {kind[:-1]} {ident}")
        _fail_if(footprint.problems(), f"loading plugin {plugin} broke the lazy-loading rule")


class EncoderConformance(_RegistrationCheck):
    """The encoder contract, one rule a test. Define an ``encoder`` fixture in the subclass."""

    batch_tolerance: ClassVar[float] = 1e-4
    """Largest 1 - cosine between a row encoded in a batch and the same input alone."""
    determinism_tolerance: ClassVar[float] = 1e-5
    """Largest absolute difference between two encodings of the same inputs."""
    invalid_checkpoint: ClassVar[str] = "no-such-checkpoint-for-mmsearch-conformance"
    """A checkpoint ``configure`` must refuse with ValueError."""

    @pytest.fixture
    def encoder(self) -> Encoder:
        """The encoder under test: override in the subclass."""
        pytest.fail("define an `encoder` fixture in your EncoderConformance subclass")

    @pytest.fixture
    def encoder_samples(self, encoder: Encoder) -> dict[str, list[Any]]:
        """Ordinary inputs by modality (at least three each, all different)."""
        return sample_contents(encoder.modalities)

    @pytest.fixture
    def encoder_edge_samples(self, encoder: Encoder) -> dict[str, list[Any]]:
        """Valid but unusual inputs by modality: empty text, 1x1 images, silence."""
        return edge_contents(encoder.modalities)

    @staticmethod
    def _by_modality(
        encoder: Encoder, samples: dict[str, list[Any]]
    ) -> list[tuple[Modality, list[Any]]]:
        missing = sorted(m for m in encoder.modalities if not samples.get(m))
        if missing:
            pytest.fail(f"no samples for {missing}: extend the `encoder_samples` fixture")
        return [(m, samples[m]) for m in sorted(encoder.modalities)]

    def test_declares_its_capabilities(self, encoder: Encoder) -> None:
        """encoder_id, modalities, dim, batch_size, checkpoint have usable values."""
        _fail_if(checks.encoder_capability_problems(encoder), "bad capability attributes")

    def test_returns_unit_float32_rows_of_its_dim(
        self, encoder: Encoder, encoder_samples: dict[str, list[Any]]
    ) -> None:
        """encode_batch returns an (n, dim) float32 array of finite unit rows."""
        problems = []
        for modality, contents in self._by_modality(encoder, encoder_samples):
            rows = encoder.encode_batch(modality, contents)
            problems += checks.rows_problems(encoder, rows, len(contents), modality)
        _fail_if(problems, "encode_batch broke the output contract")

    def test_is_deterministic(
        self, encoder: Encoder, encoder_samples: dict[str, list[Any]]
    ) -> None:
        """The same inputs give the same vectors, call after call."""
        for modality, contents in self._by_modality(encoder, encoder_samples):
            first = np.asarray(encoder.encode_batch(modality, contents), dtype=np.float64)
            second = np.asarray(encoder.encode_batch(modality, contents), dtype=np.float64)
            drift = float(np.max(np.abs(first - second)))
            assert drift <= self.determinism_tolerance, (
                f"{modality}: two encodings of the same inputs differ by up to {drift:g}"
            )

    def test_batch_matches_one_at_a_time(
        self, encoder: Encoder, encoder_samples: dict[str, list[Any]]
    ) -> None:
        """A row does not depend on what else is in its batch (padding, batch statistics)."""
        for modality, contents in self._by_modality(encoder, encoder_samples):
            batch = encoder.encode_batch(modality, contents)
            for i, item in enumerate(contents):
                alone = encoder.encode_batch(modality, [item])[0]
                gap = 1.0 - checks.cosine(batch[i], alone)
                assert gap <= self.batch_tolerance, (
                    f"{modality} input {i}: 1 - cosine(batched, alone) = {gap:g}"
                )

    def test_different_inputs_give_different_vectors(
        self, encoder: Encoder, encoder_samples: dict[str, list[Any]]
    ) -> None:
        """The vectors carry information: distinct inputs are not all mapped to one point."""
        for modality, contents in self._by_modality(encoder, encoder_samples):
            if len(contents) < 2:
                pytest.fail(f"give at least two {modality} samples in `encoder_samples`")
            rows = encoder.encode_batch(modality, contents)
            spread = max(
                1.0 - checks.cosine(rows[i], rows[j])
                for i in range(len(contents))
                for j in range(i + 1, len(contents))
            )
            assert spread > 1e-3, f"{modality}: every sample got the same vector"

    def test_edge_inputs_cost_only_themselves(
        self,
        encoder: Encoder,
        encoder_samples: dict[str, list[Any]],
        encoder_edge_samples: dict[str, list[Any]],
    ) -> None:
        """An odd input (empty text, 1x1 image, silence) embeds or fails alone, never its batch."""
        from mmsearch.index.encoding import encode_all

        for modality, contents in self._by_modality(encoder, encoder_samples):
            first, last = contents[0], contents[-1]
            expected = encoder.encode_batch(modality, [first, last])
            for n, edge in enumerate(encoder_edge_samples.get(modality, [])):
                out = encode_all(encoder, modality, [first, edge, last])
                assert out.errors[0] is None and out.errors[2] is None, (
                    f"{modality} edge input {n} made its neighbours fail: {out.errors}"
                )
                for row, want in ((0, 0), (2, 1)):
                    gap = 1.0 - checks.cosine(out.vectors[row], expected[want])
                    assert gap <= self.batch_tolerance, (
                        f"{modality} edge input {n} changed a neighbour's vector (1 - cos {gap:g})"
                    )

    def test_engine_rejects_nan_and_inf_rows(
        self, encoder: Encoder, encoder_samples: dict[str, list[Any]]
    ) -> None:
        """Rows made NaN or infinite fail only their own input; the others keep their vectors."""
        from mmsearch.index.encoding import encode_all

        for modality, contents in self._by_modality(encoder, encoder_samples):
            bad = {id(contents[-1]): np.nan}
            if len(contents) >= 3:
                bad[id(contents[-2])] = np.inf
            wrapped = _Corrupting(encoder, bad)
            out = encode_all(wrapped, modality, contents)
            clean = encoder.encode_batch(modality, contents)
            for i, item in enumerate(contents):
                if id(item) in bad:
                    assert out.errors[i], f"{modality} input {i}: a non-finite row was accepted"
                    assert not np.any(out.vectors[i]), "a rejected row must not be stored"
                    continue
                assert out.errors[i] is None, f"{modality} input {i} failed: {out.errors[i]}"
                gap = 1.0 - checks.cosine(out.vectors[i], clean[i])
                assert gap <= self.batch_tolerance, f"{modality} input {i} lost its vector"

    def test_configure_keeps_its_checkpoint_and_refuses_unknown_ones(
        self, encoder: Encoder
    ) -> None:
        """configure(own checkpoint) is the same space; an unknown one is a ValueError."""
        same = encoder.configure(encoder.checkpoint)
        assert same.space_key == encoder.space_key
        if same is not encoder:
            assert not checks.loaded_state(same), "configure must not load weights"
        with pytest.raises(ValueError) as refused:
            encoder.configure(self.invalid_checkpoint)
        assert str(refused.value).strip(), "say which checkpoints are valid"

    def test_unavailable_reason_is_none_or_advice(self, encoder: Encoder) -> None:
        """unavailable_reason() is None, or a sentence that says what to do."""
        reason = encoder.unavailable_reason()
        assert reason is None or (isinstance(reason, str) and len(reason.split()) >= 3), (
            f"unavailable_reason() returned {reason!r}"
        )

    def test_loaded_turns_true_on_first_use(
        self, encoder: Encoder, encoder_samples: dict[str, list[Any]]
    ) -> None:
        """The kit's convention: an encoder exposing ``loaded`` is loaded once it has encoded."""
        if checks.loaded_state(encoder) is None:
            pytest.skip("the encoder exposes no `loaded` flag (optional convention)")
        modality, contents = self._by_modality(encoder, encoder_samples)[0]
        encoder.encode_batch(modality, contents[:1])
        assert checks.loaded_state(encoder), "`loaded` is still False after encoding"

    def test_registration_loads_no_weights(self, encoder: Encoder) -> None:
        """Importing and registering the plugin imports no model runtime and opens no weights."""
        self._check_registration(encoder, "encoders", encoder.encoder_id)

    def test_hostile_corpus_yields_reasons_not_crashes(
        self, encoder: Encoder, tmp_path: Path
    ) -> None:
        """Indexing the hostile corpus with the installed extractors: a reason per bad file."""
        installed = load_registry(discover=True).extractors
        extractors = [e for e in installed if e.media_type in encoder.modalities]
        run = run_hostile_corpus(tmp_path, extractors=extractors, encoder=encoder)
        _fail_if(run.problems(), "the hostile corpus broke the skip-with-a-reason rule")


class _Corrupting(Encoder):
    """Wraps an encoder and turns the rows of marked inputs into NaN or infinity."""

    encoder_id: ClassVar[str] = "conformance-corrupting"
    modalities: ClassVar[frozenset[Modality]] = frozenset(checks.MODALITIES)  # type: ignore[arg-type]

    def __init__(self, inner: Encoder, bad: dict[int, float]) -> None:
        self.inner = inner
        self.bad = bad
        self.dim = inner.dim
        self.batch_size = inner.batch_size

    def encode_batch(self, modality: Modality, contents: Sequence[Any]) -> Any:
        rows = np.array(self.inner.encode_batch(modality, contents), dtype=np.float32)
        for i, item in enumerate(contents):
            if id(item) in self.bad:
                rows[i] = self.bad[id(item)]
        return rows


class ExtractorConformance(_RegistrationCheck):
    """The extractor contract, one rule a test. Define an ``extractor`` fixture in the subclass.

    Files come from the ``extractor_samples`` fixture: by default the kit's own
    samples whose extension the extractor claims; override it for other formats.
    """

    thread_workers: ClassVar[int] = 4
    """Threads that extract at once in the thread-safety check (the engine uses up to 4)."""
    thread_rounds: ClassVar[int] = 2
    """How many times each sample is read in parallel in the thread-safety check."""

    @pytest.fixture
    def extractor(self) -> Extractor:
        """The extractor under test: override in the subclass."""
        pytest.fail("define an `extractor` fixture in your ExtractorConformance subclass")

    @pytest.fixture
    def extractor_samples(self, extractor: Extractor, tmp_path: Path) -> list[Path]:
        """Valid files the extractor must read (at least one)."""
        files = write_sample_media(tmp_path / "kit-samples")
        chosen = [f for f in files if f.suffix.lstrip(".") in extractor.extensions]
        if not chosen:
            pytest.fail(
                f"the kit has no sample files for {sorted(extractor.extensions)}: define an "
                "`extractor_samples` fixture that returns paths of valid files"
            )
        return chosen

    def test_declares_its_capabilities(self, extractor: Extractor) -> None:
        """name, media_type, extensions and signatures have usable values."""
        _fail_if(checks.extractor_capability_problems(extractor), "bad capability attributes")

    def test_is_chosen_for_its_samples(
        self, extractor: Extractor, extractor_samples: list[Path]
    ) -> None:
        """The engine picks it for its own files, by content where it can sniff them."""
        from mmsearch.index.extraction import HEAD_BYTES, choose_extractor

        if not extractor.extensions and not extractor.identifies_by_content:
            if not extractor.contributes_to:
                pytest.fail("it claims no extension, sniffs nothing and contributes to nothing")
            pytest.skip("a companion only: it never identifies a file itself")
        for sample in extractor_samples:
            head = sample.read_bytes()[:HEAD_BYTES]
            if extractor.identifies_by_content:
                assert extractor.sniff(head), f"sniff() does not recognise {sample.name}"
            chosen = choose_extractor([extractor], head, os.fsencode(sample))
            assert chosen is extractor, f"{sample.name} was not given to {extractor.name}"

    def test_runs_beside_the_extractor_that_identified_a_file(
        self, extractor: Extractor, extractor_samples: list[Path]
    ) -> None:
        """With ``contributes_to``, it adds its segments, marked as its own, to such files."""
        from mmsearch.index.extraction import extract_file

        if not extractor.contributes_to:
            pytest.skip("not a companion of other extractors")
        for media_type in sorted(extractor.contributes_to):
            for sample in extractor_samples:
                first = _identifier(media_type, sample.suffix.lstrip("."))
                outcome = extract_file([first, extractor], source_for(sample))
                mine = [n for n in outcome.made_by if n == extractor.name]
                assert outcome.status == "done" and mine, (
                    f"{sample.name}, identified as {media_type}: no segments from "
                    f"{extractor.name} ({outcome.reason}: {outcome.detail})"
                )

    def test_does_not_sniff_arbitrary_bytes(self, extractor: Extractor) -> None:
        """sniff() says no to empty input, random bytes and (for non-text formats) prose."""
        junk = [b"", bytes(range(7, 200)) * 2]
        if extractor.media_type != "text":
            junk.append(b"Just a few words of plain text.\n")
        claimed = [head[:24] for head in junk if extractor.sniff(head)]
        assert not claimed, f"sniff() claims content that is not its format: {claimed}"

    def test_extracts_valid_segments(
        self, extractor: Extractor, extractor_samples: list[Path]
    ) -> None:
        """Each sample yields at least one segment, and every segment keeps the rules."""
        problems = []
        for sample in extractor_samples:
            segments = list(extractor.extract(source_for(sample)))
            if not segments:
                problems.append(f"{sample.name}: no segments")
            for n, segment in enumerate(segments):
                problems += [
                    f"{sample.name} segment {n}: {p}" for p in checks.segment_problems(segment)
                ]
                declared = extractor.produces
                if declared is not None and getattr(segment, "modality", None) not in declared:
                    problems.append(
                        f"{sample.name} segment {n}: modality {segment.modality!r} is not in "
                        f"produces {sorted(declared)}"
                    )
        _fail_if(problems, "extracted segments broke the Segment contract")

    def test_extraction_is_deterministic(
        self, extractor: Extractor, extractor_samples: list[Path]
    ) -> None:
        """Reading a file twice gives the same segments."""
        for sample in extractor_samples:
            first = list(extractor.extract(source_for(sample)))
            second = list(extractor.extract(source_for(sample)))
            assert checks.same_segments(first, second), f"{sample.name}: results differ"

    def test_is_thread_safe(self, extractor: Extractor, extractor_samples: list[Path]) -> None:
        """Files read in parallel threads (as the engine does) give the sequential result."""
        work = list(extractor_samples) * self.thread_rounds
        expected = {s: list(extractor.extract(source_for(s))) for s in extractor_samples}
        with ThreadPoolExecutor(self.thread_workers) as pool:
            results = list(pool.map(lambda s: list(extractor.extract(source_for(s))), work))
        for sample, segments in zip(work, results, strict=True):
            assert checks.same_segments(segments, expected[sample]), (
                f"{sample.name}: parallel extraction differs from sequential"
            )

    def test_registration_loads_no_weights(self, extractor: Extractor) -> None:
        """Importing and registering the plugin imports no model runtime and opens no weights."""
        self._check_registration(extractor, "extractors", extractor.name)

    def test_hostile_corpus_yields_reasons_not_crashes(
        self, extractor: Extractor, extractor_samples: list[Path], tmp_path: Path
    ) -> None:
        """Damaged, empty, misnamed and impostor files each get a reason; intact copies index."""
        run = run_hostile_corpus(
            tmp_path, extractors=[extractor], encoder=FakeEncoder(), samples=extractor_samples
        )
        _fail_if(run.problems(), "the hostile corpus broke the skip-with-a-reason rule")


def _identifier(media: MediaType, extension: str) -> Extractor:
    """An extractor that identifies files by ``extension`` as ``media`` and yields nothing."""

    class Identifier(Extractor):
        name: ClassVar[str] = f"kit-{media}-identifier"
        media_type: ClassVar[MediaType] = media
        extensions: ClassVar[frozenset[str]] = frozenset({extension})

        def extract(self, source: Source) -> list[Segment]:
            return []

    return Identifier()


class AnnotatorConformance(_RegistrationCheck):
    """The annotator contract. Define an ``annotator`` fixture in the subclass.

    Inputs come from ``annotator_inputs``: by default image and text segments
    made from the kit's samples, for the kinds the annotator declares.
    """

    @pytest.fixture
    def annotator(self) -> Annotator:
        """The annotator under test: override in the subclass."""
        pytest.fail("define an `annotator` fixture in your AnnotatorConformance subclass")

    @pytest.fixture
    def annotator_inputs(
        self, annotator: Annotator, tmp_path: Path
    ) -> list[tuple[Segment, Source]]:
        """(segment, source) pairs of the kinds the annotator reads."""
        files = write_sample_media(tmp_path / "kit-samples")
        pairs: list[tuple[Segment, Source]] = []
        for path in files:
            segment = _default_segment(path)
            if segment is not None and segment.kind in annotator.kinds:
                pairs.append((segment, source_for(path)))
        if not pairs:
            pytest.fail(
                f"the kit makes no {sorted(annotator.kinds)} segments: define an "
                "`annotator_inputs` fixture returning (segment, source) pairs"
            )
        return pairs

    def test_declares_its_capabilities(self, annotator: Annotator) -> None:
        """name and kinds have usable values."""
        _fail_if(checks.annotator_capability_problems(annotator), "bad capability attributes")

    def test_only_adds_text(
        self, annotator: Annotator, annotator_inputs: list[tuple[Segment, Source]]
    ) -> None:
        """The result is the same segment, with the same or more text."""
        for n, (segment, source) in enumerate(annotator_inputs):
            result = annotator.annotate(segment, source)
            assert isinstance(result, Segment), f"input {n}: returned {type(result).__name__}"
            for name in ("kind", "modality", "start", "end", "char_start", "char_end"):
                assert getattr(result, name) == getattr(segment, name), f"input {n}: {name} changed"
            assert result.content is segment.content, f"input {n}: content replaced"
            assert result.text is None or isinstance(result.text, str)
            if segment.text:
                assert segment.text in (result.text or ""), f"input {n}: original text lost"

    def test_is_deterministic(
        self, annotator: Annotator, annotator_inputs: list[tuple[Segment, Source]]
    ) -> None:
        """Annotating twice gives the same text."""
        for n, (segment, source) in enumerate(annotator_inputs):
            first = annotator.annotate(segment, source).text
            assert annotator.annotate(segment, source).text == first, f"input {n} differs"

    def test_is_thread_safe(
        self, annotator: Annotator, annotator_inputs: list[tuple[Segment, Source]]
    ) -> None:
        """Annotating in parallel threads gives the sequential result."""
        expected = [annotator.annotate(s, src).text for s, src in annotator_inputs]
        with ThreadPoolExecutor(4) as pool:
            got = list(pool.map(lambda pair: annotator.annotate(*pair).text, annotator_inputs))
        assert got == expected, "parallel annotation differs from sequential"

    def test_registration_loads_no_weights(self, annotator: Annotator) -> None:
        """Importing and registering the plugin imports no model runtime and opens no weights."""
        self._check_registration(annotator, "annotators", annotator.name)


def _default_segment(path: Path) -> Segment | None:
    if path.suffix == ".png":
        from PIL import Image

        with Image.open(path) as image:
            return Segment(kind="image", modality="image", content=image.convert("RGB"))
    if path.suffix in (".txt", ".md"):
        text = path.read_text("utf-8", errors="replace")
        return Segment(kind="text", modality="text", content=text, text=text)
    return None
