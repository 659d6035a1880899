"""The contracts a plugin implements: extractors turn files into segments,
encoders turn segments into vectors, rerankers reorder results, vector stores
keep and search a space's vectors.

Each contract is an ABC with capability attributes and one abstract method, so
a plugin author fills in a few class attributes and writes one function.
Weights and other heavy state must load lazily, on the first call of the
abstract method, never in ``__init__``: registering a plugin has to stay cheap.
"""

from __future__ import annotations

import dataclasses
import os
import stat
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, ClassVar, Literal, get_args

import numpy as np
import numpy.typing as npt

from mmsearch.modelspec import ModelFile, ModelSpec, model_folder, models_home

if TYPE_CHECKING:
    from mmsearch.query.ranking import Candidate, RerankContext

Modality = Literal["image", "text", "audio"]
"""What an encoder receives: a PIL image, a string, or a mono float32 waveform."""

MediaType = Literal["image", "audio", "text", "video"]
"""The kind of file an item is."""

MEDIA_TYPES: tuple[MediaType, ...] = get_args(MediaType)
"""Every media type, in the order messages and reports list them."""


class SkipFile(Exception):
    """Raised by an extractor when a file cannot be indexed for a known reason.

    ``reason`` is a short, stable label used to count skips in the run summary
    ("corrupt image", "too large"); ``detail`` tells the user what happened to
    this file and what to do about it. With ``once=True`` (a missing decoder,
    say) the detail is printed for the first file only; the rest are counted.
    """

    def __init__(self, reason: str, detail: str, *, once: bool = False) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
        self.once = once


@dataclass(frozen=True, slots=True)
class Segment:
    """One searchable unit of a file: a whole image, a text chunk, a speech span.

    ``content`` is what the encoder embeds, in the form its ``modality`` names.
    ``text`` is what keyword search sees (chunk text, transcript, OCR words).
    Time-based segments set ``start``/``end`` in seconds; text chunks set
    ``char_start``/``char_end`` as offsets into the decoded text.
    """

    kind: str
    modality: Modality
    content: Any
    text: str | None = None
    start: float | None = None
    end: float | None = None
    char_start: int | None = None
    char_end: int | None = None


@dataclass(frozen=True, slots=True)
class ExtractSettings:
    """Limits and options the user sets for a run, passed to every extractor."""

    max_image_megapixels: float = 100.0
    max_text_bytes: int = 50 * 1024 * 1024
    text_chunk_chars: int = 1000
    options: dict[str, Any] = field(default_factory=dict)
    """Plugin options by key (``mmsearch index --set KEY=VALUE``), and engine hints such as
    ``image_min_side``. Plugins document the keys they read."""

    def for_encoder(self, encoder: Encoder) -> ExtractSettings:
        """These settings with the hints this encoder gives extractors."""
        if encoder.image_min_side is None:
            return self
        options = {**self.options, "image_min_side": encoder.image_min_side}
        return dataclasses.replace(self, options=options)

    def __post_init__(self) -> None:
        # Checked here so a bad value is one usage error, not a failure per file.
        from mmsearch.errors import UsageError

        if not self.max_image_megapixels > 0:
            raise UsageError(
                f"max_image_megapixels must be positive (got {self.max_image_megapixels})."
            )
        if self.max_text_bytes < 1:
            raise UsageError(f"max_text_bytes must be at least 1 (got {self.max_text_bytes}).")
        if self.text_chunk_chars < 50:
            raise UsageError(f"text_chunk_chars must be at least 50 (got {self.text_chunk_chars}).")


@dataclass(frozen=True, slots=True)
class Source:
    """A file handed to an extractor."""

    path: bytes
    """Absolute path as bytes (file names need not be valid UTF-8)."""
    display: str
    """Printable form of the path, for messages."""
    size: int
    settings: ExtractSettings

    @property
    def fspath(self) -> str:
        """The path as ``str`` for libraries that will not take bytes."""
        return os.fsdecode(self.path)

    def open(self) -> BinaryIO:
        """The file, open for reading; raises SkipFile if it is no longer a regular file.

        The engine listed a regular file, but it may have been swapped since for a
        FIFO, whose plain ``open`` waits for a writer forever: this open never
        blocks, and checks what it opened. Use it instead of ``open(source.path, "rb")``.
        """
        fd = os.open(self.path, _OPEN_FLAGS)
        try:
            mode = os.fstat(fd).st_mode
            if not stat.S_ISREG(mode):
                raise SkipFile(
                    "not a regular file",
                    f"it is a {_file_kind(mode)} now, not the file that was listed; not read. "
                    "Check what replaced it",
                )
            return os.fdopen(fd, "rb")
        except BaseException:
            os.close(fd)
            raise


_OPEN_FLAGS = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
"""O_NONBLOCK: opening a FIFO returns at once (it has no effect on a regular file's reads)."""

_FILE_KINDS = (
    (stat.S_ISFIFO, "named pipe (FIFO)"),
    (stat.S_ISSOCK, "socket"),
    (stat.S_ISCHR, "character device"),
    (stat.S_ISBLK, "block device"),
    (stat.S_ISDIR, "folder"),
)


def _file_kind(mode: int) -> str:
    """What a file that is not a regular one is, in words (the scanner says it the same way)."""
    return next((kind for test, kind in _FILE_KINDS if test(mode)), "special file")


class Extractor(ABC):
    """Turns one file into segments.

    The engine picks an extractor by content first (``signatures``, or an
    overridden ``sniff``) and by extension second, so a PNG named ``.txt`` is
    still read as an image, and a ``.jpg`` that holds no image is skipped with
    a clear reason instead of crashing a decoder. That extractor sets the item's
    media type; every other extractor whose ``contributes_to`` holds it runs on
    the file too, and the catalog records which extractor made each segment.
    A file is done when all of them have run; one that skips or fails costs only
    its own segments.
    """

    name: ClassVar[str]
    """Unique, stable identifier, e.g. ``"pillow-image"``."""
    media_type: ClassVar[MediaType]
    extensions: ClassVar[frozenset[str]]
    """Lower-case extensions without the dot."""
    signatures: ClassVar[tuple[bytes, ...]] = ()
    """Magic byte prefixes; empty when the format has none (plain text)."""
    contributes_to: ClassVar[frozenset[MediaType]] = frozenset()
    """Media types of files that *another* extractor identified, to which this one adds its
    own segments: a speech extractor with ``{"video"}`` transcribes a video's audio track
    while the video extractor reads its frames. Empty: it reads only the files it identifies."""
    version: ClassVar[str] = "1"
    """Bump when what it extracts changes: files it read are read again by it alone,
    keeping the other extractors' segments."""
    produces: ClassVar[frozenset[Modality] | None] = None
    """The modalities of the segments it yields, when it can say. The engine leaves it out
    of a run in which no space of the library embeds any of them (a sound extractor in a
    library without a sound space), and runs it on the files it missed once one does.
    None: it always runs."""

    def sniff(self, head: bytes) -> bool:
        """Whether the first bytes of a file look like this extractor's format."""
        return any(head.startswith(sig) for sig in self.signatures)

    @property
    def identifies_by_content(self) -> bool:
        """True when ``sniff`` can recognise the format, so a mismatch means a wrong extension."""
        return bool(self.signatures) or type(self).sniff is not Extractor.sniff

    @abstractmethod
    def extract(self, source: Source) -> Iterable[Segment]:
        """Yield the file's segments; raise :class:`SkipFile` for known-bad input."""

    def models(self) -> Sequence[ModelSpec]:
        """The models it uses, for ``mmsearch models``; quick, loads nothing. Default: none."""
        return ()


class Annotator(ABC):
    """Adds to the segments an extractor made: OCR words to an image, say.

    Runs in the extraction threads after the extractor, for segments of the
    listed kinds. Return the segment unchanged when there is nothing to add;
    an exception costs only the annotation, never the segment.
    """

    name: ClassVar[str]
    kinds: ClassVar[frozenset[str]]
    """Segment kinds it looks at, e.g. ``{"image"}``."""

    @abstractmethod
    def annotate(self, segment: Segment, source: Source) -> Segment:
        """Return ``segment``, or a copy with more ``text`` (``dataclasses.replace``)."""

    def models(self) -> Sequence[ModelSpec]:
        """The models it uses, for ``mmsearch models``; quick, loads nothing. Default: none."""
        return ()


class Encoder(ABC):
    """Embeds segment contents into one vector space.

    ``encode_batch`` returns an ``(n, dim)`` float32 array of L2-normalised
    rows. The engine checks every row: a batch that raises, or a row that is
    not finite or has the wrong shape, fails only its own item.
    """

    encoder_id: ClassVar[str]
    """Unique, stable identifier, e.g. ``"open-clip"``."""
    modalities: ClassVar[frozenset[Modality]]
    indexes: ClassVar[frozenset[Modality] | None] = None
    """The segment modalities it embeds in an index run, when fewer than ``modalities``:
    a sound encoder (CLAP) embeds ``{"audio"}`` segments and takes text for queries only,
    so a library's transcripts and documents stay in its text space. None: all of them."""
    dim: int
    """Vector length; an instance may set it when it depends on the chosen model."""
    batch_size: int = 32
    checkpoint: str = ""
    """Which weights (a model name, a local file); part of the space's identity."""
    preprocessing_version: ClassVar[str] = "1"
    """Bump when preprocessing changes, so old vectors are not mixed with new."""
    priority: ClassVar[int] = 0
    """Higher wins when a new library picks its default encoder."""
    description: ClassVar[str] = ""
    """One line for ``mmsearch plugins`` and ``mmsearch status``."""
    image_min_side: int | None = None
    """The shorter side, in pixels, its image preprocessing scales to; extractors may
    decode large images at a reduced size down to it (``options["image_min_side"]``)."""
    text_fusion_weight: ClassVar[float] = 0.0
    """For an image segment that carries text (OCR words), the weight of that text's
    embedding in the segment's vector; 0 keeps the pure image embedding."""
    near_duplicate_similarity: ClassVar[float | None] = None
    """Cosine similarity from which two images' vectors mean "the same picture" (resized,
    recompressed), so results show them once; None when its vectors cannot tell (an
    encoder that describes images by class labels gives two different cats one vector)."""

    @abstractmethod
    def encode_batch(self, modality: Modality, contents: Sequence[Any]) -> npt.NDArray[np.float32]:
        """Embed ``contents`` (all of one modality) into an ``(n, dim)`` float32 array."""

    def configure(self, checkpoint: str) -> Encoder:
        """An encoder of the same kind using ``checkpoint`` (``--model``); must not load weights.

        The default accepts only its own checkpoint. Raise :class:`ValueError`
        with a message that says which values are valid.
        """
        if checkpoint in ("", self.checkpoint):
            return self
        raise ValueError(f"encoder {self.encoder_id} has no model choice (got {checkpoint!r})")

    def models(self) -> Sequence[ModelSpec]:
        """The models it can use, for ``mmsearch models``; quick, loads nothing. Default: none.

        Weights fetched by ``mmsearch models pull`` or ``import`` land in ``spec.folder``;
        put it under :func:`models_home` and look there when loading.
        """
        return ()

    def unavailable_reason(self) -> str | None:
        """Why this encoder cannot run here (weights missing, no network), or None.

        Called when a new library picks its default encoder, so it must be
        quick and must not load weights; say what the user can do about it.
        """
        return None

    @property
    def takes(self) -> frozenset[Modality]:
        """The segment modalities an index run hands it (``indexes``, else ``modalities``)."""
        return self.modalities if self.indexes is None else self.indexes & self.modalities

    @property
    def space_key(self) -> str:
        """The identity of the space this encoder writes into."""
        return f"{self.encoder_id}|{self.checkpoint}|{self.dim}|{self.preprocessing_version}"


class Reranker(ABC):
    """Reorders, rescores, merges or drops candidates.

    Subclasses set ``name`` and ``order`` and implement :meth:`rerank`.
    ``default`` says whether it runs unless the query turns it off; a reranker
    with ``default = False`` runs only when asked for (``--rerank NAME``).
    """

    name: ClassVar[str]
    order: ClassVar[int]
    default: ClassVar[bool] = True
    description: ClassVar[str] = ""

    @abstractmethod
    def rerank(self, candidates: list[Candidate], context: RerankContext) -> list[Candidate]:
        """Return the candidates in their new order (a new list or the same one)."""


FloatArray = npt.NDArray[np.float32]
IdArray = npt.NDArray[np.int64]
VectorBatches = Callable[[], Iterable[tuple[IdArray, FloatArray]]]
"""Reads every (segment ids, vectors) of a space from the catalog, batch by batch, id order."""


@dataclass(frozen=True, slots=True)
class IndexTarget:
    """The one space of one catalog a vector index serves, and where it may keep files."""

    catalog_id: str
    """The catalog's identity (a UUID kept in it): an index made for another catalog is
    never served, however alike the two look."""
    space_id: int
    space_key: str
    dim: int
    folder: Path
    """The catalog's index folder (beside the catalog file), for stores that keep files."""
    options: Mapping[str, str] = field(default_factory=dict)
    """Settings for the store: the library's recorded ones (``mmsearch index --milvus-uri``
    records ``uri``) or an application's; stores read their own ``MMSEARCH_<STORE>_*``
    variables too, as FAISS does."""
    fields: SegmentFieldLookup | None = field(default=None, compare=False)
    """Looks up the scalar fields of segment ids in the catalog, for stores that keep them
    to filter natively (:attr:`VectorIndex.filters_natively`); None where there is no catalog."""


@dataclass(frozen=True, slots=True)
class SegmentFields:
    """The scalar fields of some segments, as the catalog holds them, one entry per id."""

    item_ids: IdArray
    media_types: tuple[str, ...]
    mtime_ns: IdArray
    """The file's modification time (ns since the epoch) when it was indexed."""


SegmentFieldLookup = Callable[[IdArray], SegmentFields]
"""The fields of these segment ids, one entry each in their order (item id -1 for an id the
catalog lacks)."""


@dataclass(frozen=True, slots=True)
class SegmentFilter:
    """The part of a query's filters a store that keeps scalar fields evaluates itself.

    The engine hands it to :meth:`VectorIndex.search_where` only when the query filters on
    nothing else (a path glob, an extension, a phrase go through ``allowed`` instead), and
    checks the hits against the catalog, so a field the store holds stale costs speed only.
    """

    media_types: frozenset[str] = frozenset()
    """Allowed media types; empty: any."""
    mtime_min_ns: int | None = None
    """Files modified at or after this time (``after:``)."""
    mtime_max_ns: int | None = None
    """Files modified before this time (``before:``)."""


@dataclass(frozen=True, slots=True)
class CatalogVectors:
    """What the catalog holds for one space: an index must reflect exactly this."""

    generation: int
    """Bumped by the catalog on every change to the space's vectors."""
    count: int
    batches: VectorBatches
    digest: str | None = None
    """A digest of the space's (segment id, vector) pairs, kept by the catalog with every
    write (``mmsearch.store.digest``); None while unknown. What was persisted with another
    digest holds other vectors, whatever its generation and count: rebuild it."""


@dataclass(slots=True)
class IndexHealth:
    """What ``mmsearch status`` says about one space's vector index."""

    state: Literal["ok", "stale", "missing", "damaged", "unreachable"]
    detail: str | None = None
    """What is wrong and what happens next, when the state is not ok."""
    kind: str = ""
    """How it searches, e.g. ``flat (exact)`` or ``ivf-pq, exact re-rank``."""
    location: str = ""
    vectors: int | None = None
    size_bytes: int | None = None
    build_seconds: float | None = None
    recall: float | None = None
    """recall@10 against exact search measured on a sample when it was built (None: exact)."""
    digest: str | None = None
    """The digest of what was persisted, for stores that keep one: the engine compares it
    with the catalog's (:attr:`CatalogVectors.digest`) and reports a mismatch."""

    def to_json(self) -> dict[str, Any]:
        """The stable JSON shape of an index's health."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}


class VectorIndex(ABC):
    """The vector index of one space: a rebuildable cache of the vectors the catalog holds.

    The catalog is the source of truth: ids are segment ids, every hit is
    resolved through it, and whatever an index keeps (a file, a collection on a
    server) can be rebuilt from :class:`CatalogVectors`. ``generation`` is the
    catalog generation the contents reflect (-1: none yet); the engine reuses an
    open index only while it equals the catalog's.
    """

    recall: ClassVar[float] = 1.0
    """The recall@10 against exact search it promises (1.0: exact); the kit holds it to that."""
    filters_natively: ClassVar[bool] = False
    """True when it keeps the segments' scalar fields (:attr:`IndexTarget.fields`) and
    implements :meth:`search_where`, so type and date filters need no allow-list."""
    generation: int = -1

    @property
    @abstractmethod
    def ntotal(self) -> int:
        """How many vectors it holds."""

    @abstractmethod
    def add(self, ids: IdArray, vectors: FloatArray) -> None:
        """Add unit vectors keyed by segment id."""

    @abstractmethod
    def remove(self, ids: IdArray) -> None:
        """Remove vectors by segment id; unknown ids are ignored."""

    @abstractmethod
    def search(
        self, query: FloatArray, k: int, allowed: IdArray | None = None
    ) -> tuple[IdArray, FloatArray]:
        """The ``k`` nearest ids by inner product, best first, with their similarities.

        With ``allowed``, only those ids may be returned, with exact scores: a
        small allow-list gives exactly what exact search among them gives, a
        large one no less recall than an unfiltered search (no post-filtering).
        """

    def search_where(
        self, query: FloatArray, k: int, where: SegmentFilter
    ) -> tuple[IdArray, FloatArray]:
        """Like :meth:`search`, among the segments whose stored fields pass ``where``.

        Only called when :attr:`filters_natively` is True.
        """
        raise NotImplementedError(f"{type(self).__name__} does not filter natively")

    @abstractmethod
    def ids(self) -> set[int]:
        """Every segment id it holds (for checks against the catalog)."""

    @abstractmethod
    def sync(self, vectors: CatalogVectors) -> bool:
        """Reflect the catalog: load what was persisted if it matches, else rebuild.

        A rebuild for any reason but a first build logs one warning naming why.
        Returns True when it rebuilt.
        """

    @abstractmethod
    def rebuild(self, vectors: CatalogVectors) -> None:
        """Replace the contents with the catalog's vectors."""

    @abstractmethod
    def persist(self, generation: int) -> None:
        """Make the contents durable as reflecting ``generation`` (atomically)."""

    @abstractmethod
    def health(self, generation: int, count: int) -> IndexHealth:
        """The state of what was persisted against the catalog's, read without loading it."""

    def optimize(self, vectors: CatalogVectors) -> None:  # noqa: B027  (optional hook)
        """After an index run: build a faster structure if the size calls for it."""

    def close(self) -> None:  # noqa: B027  (optional hook)
        """Release connections or memory; the default holds none."""


class VectorStore(ABC):
    """A kind of vector index (FAISS, Milvus, ...), registered by ``register_vector_stores``."""

    name: ClassVar[str]
    """What ``--store NAME`` and the catalog call it, e.g. ``"faiss"``."""
    description: ClassVar[str] = ""

    @abstractmethod
    def open_index(self, target: IndexTarget) -> VectorIndex:
        """The index of ``target``'s space; cheap: nothing is loaded until ``sync``."""


__all__ = [
    "MEDIA_TYPES",
    "Annotator",
    "CatalogVectors",
    "Encoder",
    "ExtractSettings",
    "Extractor",
    "FloatArray",
    "IdArray",
    "IndexHealth",
    "IndexTarget",
    "MediaType",
    "Modality",
    "ModelFile",
    "ModelSpec",
    "Reranker",
    "Segment",
    "SegmentFieldLookup",
    "SegmentFields",
    "SegmentFilter",
    "SkipFile",
    "Source",
    "VectorBatches",
    "VectorIndex",
    "VectorStore",
    "model_folder",
    "models_home",
]
