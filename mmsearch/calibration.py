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
from collections.abc import Callable
from dataclasses import asdict, dataclass
from statistics import NormalDist

import numpy as np
import numpy.typing as npt

from mmsearch.vectorstore import FaissStore

FloatArray = npt.NDArray[np.float32]

VERSION = 1
REFRESH_RATIO = 0.2
"""Re-measure when the vector count moved by more than this fraction."""
SAMPLE_VECTORS = 4096
THRESHOLD_QUANTILE = 0.9
MIN_THRESHOLD = 2.0
"""Never call a hit confident below this many standard deviations, however odd the library."""

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
"""Probe texts: varied, specific, mutually unrelated; the last few are word salad."""


@dataclass(frozen=True, slots=True)
class Calibration:
    """One space's null distribution, as measured."""

    mean: float
    std: float
    probe_best: tuple[float, ...]
    """Calibrated score of each probe's best hit, sorted."""
    vectors: int
    """How many vectors the space had when measured."""
    version: int = VERSION

    def calibrate(self, similarity: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Raw similarities on the calibrated scale (standard deviations above the null)."""
        return (np.asarray(similarity, dtype=np.float64) - self.mean) / self.std

    def calibrate_one(self, similarity: float) -> float:
        """One raw similarity on the calibrated scale."""
        return (similarity - self.mean) / self.std

    def threshold(self, quantile: float = THRESHOLD_QUANTILE) -> float:
        """The default confidence threshold: a high quantile of unrelated queries' best hits."""
        if not self.probe_best:
            return MIN_THRESHOLD
        return max(MIN_THRESHOLD, float(np.quantile(self.probe_best, quantile)))

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
            calibration = cls(
                mean=float(data["mean"]),
                std=float(data["std"]),
                probe_best=tuple(float(v) for v in data["probe_best"]),
                vectors=int(data["vectors"]),
                version=int(data["version"]),
            )
        except (ValueError, KeyError, TypeError):
            return None
        return calibration if calibration.version == VERSION else None


def measure(store: FaissStore, probes: FloatArray) -> Calibration:
    """Measure a space's null distribution against ``probes`` (unit rows)."""
    sample = store.sample(SAMPLE_VECTORS)
    if len(sample) == 0 or len(probes) == 0:
        return Calibration(mean=0.0, std=1.0, probe_best=(), vectors=store.ntotal)
    similarities = (sample @ probes.T).astype(np.float64).ravel()
    mean = float(similarities.mean())
    # A library of near-identical files has almost no spread; a floor keeps scores finite.
    std = max(float(similarities.std()), 1e-3)
    _ids, best = store.search_many(probes, 1)
    probe_best = sorted(((float(s) - mean) / std) for s in best[:, 0])
    return Calibration(mean=mean, std=std, probe_best=tuple(probe_best), vectors=store.ntotal)


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


ProbeEmbedder = Callable[[list[str]], FloatArray]
