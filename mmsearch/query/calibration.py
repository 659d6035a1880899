"""Putting each space's similarities on one scale, so "no confident match" can be said.

A cosine similarity of 0.3 is a strong match in one model and noise in
another, and what counts as noise also depends on the library. So each space
measures its own null distribution: the similarities between a sample of the
library's vectors and a fixed set of probe texts that are unrelated to one
another (and, almost always, to the library). A raw similarity ``s`` becomes
``(s - mean) / std`` of that distribution: standard deviations above what an
unrelated query gets from an ordinary file.

The best hit of any query is an extreme value, so it sits several standard
deviations up even for nonsense. The calibration therefore also keeps the
calibrated score of each probe's *best* hit; the default confidence threshold
is a high quantile of those: a hit must beat what most unrelated queries get as
their best match.

The measurement is stored per space in the catalog's settings and refreshed
when the space has grown or shrunk by more than :data:`REFRESH_RATIO`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from statistics import NormalDist

import numpy as np
import numpy.typing as npt

from mmsearch.contracts import VectorIndex

FloatArray = npt.NDArray[np.float32]

VERSION = 4
REFRESH_RATIO = 0.2
"""Re-measure when the vector count moved by more than this fraction."""
SAMPLE_VECTORS = 4096
THRESHOLD_QUANTILE = 0.9
MIN_THRESHOLD = 2.0
"""Never call a hit confident below this many standard deviations, however odd the library."""
PROBABLE_QUANTILE = 0.5
PROBABLE_FLOOR = 1.0
"""Never call a hit probable below this many standard deviations."""
GAP_QUANTILE = 0.5
"""A best file that leads the next one by more than this share of unrelated probes' leads
stands clear (the gap rule of :mod:`mmsearch.query.gate`)."""
GAP_DEPTH = 32
"""Segments looked at per probe to find the best file's nearest rival (another file)."""

PROBES: tuple[str, ...] = (
    "quarterly tax filing instructions for a small bakery",
    "a diagram of a jet engine turbine blade",
    "the rules of competitive underwater hockey",
    "knitting pattern for a striped wool scarf",
    "volcanic rock samples under a microscope",
    "minutes of a parish council meeting about parking",
    "a recipe for fermented cabbage soup",
    "the migration route of arctic terns",
    "a broken umbrella on a windy pier",
    "instructions for replacing a bicycle chain",
    "a chess endgame with two knights",
    "a lecture on medieval tax law",
    "a crowded subway platform at rush hour",
    "the wiring of a vintage radio",
    "an invoice for industrial floor polish",
    "a lighthouse keeper's logbook entry",
    "the chemistry of baking soda and vinegar",
    "a marching band rehearsing in the rain",
    "a spreadsheet of warehouse inventory",
    "a field of sunflowers at dawn",
    "glacier retreat measurements from satellite data",
    "a customer complaint about a late parcel",
    "a jazz saxophone solo",
    "the anatomy of a honeybee",
    "a tram timetable for public holidays",
    "a children's drawing of a dragon",
    "a podcast about retirement savings",
    "a rusty anchor on a pebble beach",
    "a tutorial on soldering circuit boards",
    "a weather warning for coastal fog",
    "an orchestra tuning before a concert",
    "a museum label for a bronze age sword",
    "zorbleth quantix marvune",
    "plimsoll fenwick quadrangle oboe",
    "xylograph tundra velcro sonnet",
    "grummet ilex paradiddle ventifact",
)
"""Hand-written probe texts: varied, specific, mutually unrelated; the last few are word salad."""

_SUBJECTS: tuple[str, ...] = (
    "a brass telescope",
    "a flock of starlings",
    "a dentist's waiting room",
    "a clay teapot",
    "a ferris wheel",
    "a beekeeper's veil",
    "a snow plough",
    "an abandoned greenhouse",
    "a violin bow",
    "a roll of copper wire",
    "a hot air balloon",
    "a shelf of pickled onions",
    "a hockey rink",
    "a stack of vinyl records",
    "a wind turbine",
    "a pair of wellington boots",
    "a chandelier",
    "a goldfish bowl",
    "a cement mixer",
    "a deck of tarot cards",
    "a canal lock",
    "a sewing machine",
    "a cactus in a pot",
    "a fire escape",
    "a pile of autumn leaves",
    "a typewriter ribbon",
    "a lifeboat station",
    "a bowling alley",
    "a pottery kiln",
    "a barn owl",
    "a parking meter",
    "a stained glass window",
    "a ski lift",
    "a wooden rowing boat",
    "a bag of flour",
    "a traffic cone",
    "a birthday candle",
    "a quarry",
    "a hedge maze",
    "a compass",
)
_PHRASES: tuple[str, ...] = (
    "a photo of {} at night",
    "a close-up of {}",
    "{} in the rain",
    "notes about {}",
    "an email asking about {}",
    "a voice memo about {}",
    "a receipt for {}",
    "a story told about {}",
)


def _generated_probes() -> tuple[str, ...]:
    """Each subject in one phrasing, by a fixed rotation: pictures, documents and speech.

    A real query that has no answer in the library is phrased like a photo, note or
    memo search; probes phrased the same way give the null of those, and many of them
    (36 hand-written ones were too few for a stable 90th percentile per modality).
    """
    step = 3  # coprime with len(_PHRASES): every phrasing is used equally often
    return tuple(
        _PHRASES[(i * step) % len(_PHRASES)].format(subject) for i, subject in enumerate(_SUBJECTS)
    ) + tuple(
        _PHRASES[(i * step + 1) % len(_PHRASES)].format(subject)
        for i, subject in enumerate(_SUBJECTS)
    )


NULL_PROBES = len(PROBES)
"""The first probes, the hand-written ones, set each null's mean and spread; all set the bars.

Kept apart because the mean and spread put modalities on one scale for fusion: generated
probes phrased like photo searches moved the photo null and with it the ranking (photo
recall@1 on the mixed corpus fell from 0.593 to 0.481), while the bars only gain from more
probes."""
PROBES = PROBES + _generated_probes()
"""All probe texts: the hand-written ones and 80 generated from subjects and phrasings."""


@dataclass(frozen=True, slots=True)
class Null:
    """The null distribution of one modality's segments in one space."""

    mean: float
    std: float
    probe_best: tuple[float, ...]
    """Calibrated score of each probe's best hit among these segments, sorted."""
    probe_gap: tuple[float, ...] = ()
    """How far each probe's best file leads the next file among these segments (calibrated
    units), sorted; empty when the files of segments were not known."""


@dataclass(frozen=True, slots=True)
class Calibration:
    """One space's null distributions, per segment modality, as measured.

    Per modality because one model scores a text query against texts and
    against images on different scales (CLIP-like and ConSE spaces both do):
    a picture's best match would otherwise always look weak next to a text's.
    """

    nulls: dict[str, Null]
    vectors: int
    """How many vectors the space had when measured."""
    version: int = VERSION

    def null(self, modality: str) -> Null:
        """The null of a modality (an unmeasured one gets the broadest measured null)."""
        found = self.nulls.get(modality)
        if found is not None:
            return found
        if not self.nulls:
            return Null(0.0, 1.0, ())
        return max(self.nulls.values(), key=lambda n: n.std)

    def calibrate(
        self, similarity: npt.ArrayLike, modalities: Sequence[str]
    ) -> npt.NDArray[np.float64]:
        """Raw similarities of segments of the given modalities on the calibrated scale."""
        nulls = [self.null(m) for m in modalities]
        means = np.array([n.mean for n in nulls], dtype=np.float64)
        stds = np.array([n.std for n in nulls], dtype=np.float64)
        return (np.asarray(similarity, dtype=np.float64) - means) / stds

    def calibrate_one(self, similarity: float, modality: str) -> float:
        """One raw similarity on the calibrated scale."""
        null = self.null(modality)
        return (similarity - null.mean) / null.std

    def threshold(self, quantile: float = THRESHOLD_QUANTILE, modality: str | None = None) -> float:
        """The confidence threshold: a high quantile of unrelated queries' best hits.

        With ``modality``, of their best hits among that modality's segments (the
        per-modality bar of :mod:`mmsearch.query.gate`); without, pooled over all.
        """
        nulls = self.nulls.values() if modality is None else [self.null(modality)]
        best = [v for null in nulls for v in null.probe_best]
        if not best:
            return MIN_THRESHOLD
        return max(MIN_THRESHOLD, float(np.quantile(best, quantile)))

    def modality_bars(self) -> dict[str, tuple[float, float]]:
        """Per measured modality: (confident threshold, probable bar)."""
        return {m: (self.threshold(modality=m), self.probable(m)) for m in sorted(self.nulls)}

    def gap_bar(self, modality: str) -> float | None:
        """The lead over the next file that stands clear: the median of unrelated probes'."""
        gaps = self.null(modality).probe_gap
        return float(np.quantile(gaps, GAP_QUANTILE)) if gaps else None

    def probable(self, modality: str) -> float:
        """The "probable" bar: the median of unrelated queries' best hits in ``modality``."""
        best = self.null(modality).probe_best
        floor = PROBABLE_FLOOR
        return max(floor, float(np.quantile(best, PROBABLE_QUANTILE))) if best else floor

    def stale(self, vectors: int) -> bool:
        """Whether the space changed enough since the measurement to measure again."""
        if self.version != VERSION:
            return True
        if self.vectors == 0:
            return vectors > 0
        return abs(vectors - self.vectors) > REFRESH_RATIO * self.vectors

    def to_json(self) -> str:
        """The form stored in the catalog's settings."""
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, raw: str) -> Calibration | None:
        """The stored form read back; None when it is unreadable or from another version."""
        try:
            data = json.loads(raw)
            if int(data["version"]) != VERSION:
                return None
            nulls = {
                str(m): Null(float(n["mean"]), float(n["std"]),
                             tuple(float(v) for v in n["probe_best"]),
                             tuple(float(v) for v in n.get("probe_gap", ())))
                for m, n in data["nulls"].items()
            }  # fmt: skip
            return cls(nulls=nulls, vectors=int(data["vectors"]))
        except (ValueError, KeyError, TypeError, AttributeError):
            return None


def measure(
    store: VectorIndex,
    probes: FloatArray,
    ids_by_modality: Mapping[str, npt.NDArray[np.int64]],
    vectors_of: Callable[[npt.NDArray[np.int64]], FloatArray],
    items_of: Callable[[Sequence[int]], Mapping[int, int]] | None = None,
) -> Calibration:
    """Measure a space's null distributions against ``probes`` (unit rows), per modality.

    With ``items_of`` (segment id -> file id), also how far each probe's best file leads
    the next file: a file is found by its best segment, so the rival is the best segment
    of another file, not another moment of the same recording.
    """
    nulls: dict[str, Null] = {}
    rng = np.random.default_rng(0)
    for modality, ids in sorted(ids_by_modality.items()):
        if len(ids) == 0 or len(probes) == 0:
            continue
        picked = ids if len(ids) <= SAMPLE_VECTORS else rng.choice(ids, SAMPLE_VECTORS, False)
        sample = vectors_of(np.sort(picked))
        if len(sample) == 0:
            continue
        similarities = (sample @ probes[:NULL_PROBES].T).astype(np.float64).ravel()
        mean = float(similarities.mean())
        # A library of near-identical files has almost no spread; a floor keeps scores finite.
        std = max(float(similarities.std()), 1e-3)
        allowed = None if len(ids_by_modality) == 1 else ids
        depth = 1 if items_of is None else GAP_DEPTH
        found = [store.search(probe, depth, allowed) for probe in probes]
        probe_best = sorted((float(b[0]) - mean) / std for _, b in found if len(b))
        gaps = _leads(found, items_of) if items_of is not None else []
        nulls[modality] = Null(mean, std, tuple(probe_best), tuple(sorted(g / std for g in gaps)))
    return Calibration(nulls=nulls, vectors=store.ntotal)


def _leads(
    found: Sequence[tuple[npt.NDArray[np.int64], FloatArray]],
    items_of: Callable[[Sequence[int]], Mapping[int, int]],
) -> list[float]:
    """Raw lead of each probe's best file over the best segment of another file."""
    ids = sorted({int(i) for segment_ids, _ in found for i in segment_ids})
    item = items_of(ids)
    leads = []
    for segment_ids, scores in found:
        if not len(scores):
            continue
        first = item.get(int(segment_ids[0]))
        rival = next((float(s) for i, s in zip(segment_ids, scores, strict=True)
                      if item.get(int(i)) != first), None)  # fmt: skip
        if rival is not None:
            leads.append(float(scores[0]) - rival)
    return leads


def random_probes(dim: int, count: int = len(PROBES), seed: int = 7) -> FloatArray:
    """Unit random vectors: the null for a space whose encoder cannot embed text."""
    rows = np.random.default_rng(seed).standard_normal((count, dim))
    unit: FloatArray = (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)
    return unit


def keyword_calibrated(match_probability: float) -> float:
    """A keyword match on the calibrated scale.

    ``match_probability`` is the chance that a random segment contains the
    matched words (the product of their document frequencies). Its normal
    quantile puts a rare-word match on the same "standard deviations above
    chance" scale as a vector score; a common word scores about zero.
    """
    p = min(max(match_probability, 1e-12), 1.0)
    if p >= 0.5:
        return 0.0
    return NormalDist().inv_cdf(1.0 - p)
