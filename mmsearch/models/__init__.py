"""Model weights a user can see, fetch, carry to an offline machine and check.

The models are the ones installed plugins declare (``models()`` on their encoders,
extractors and annotators, :class:`mmsearch.contracts.ModelSpec`); this package lists
them (:mod:`.listing`), downloads them with checksums (:mod:`.pull`), exports and imports
them as folders with a manifest of sha256 sums (:mod:`.transfer`), and hashes them again
(:mod:`.verify`). ``mmsearch models`` is its command line.
"""

from mmsearch.models.listing import ModelStatus, find_model, known_models, model_status
from mmsearch.models.manifest import MANIFEST, Manifest, ModelError
from mmsearch.models.pull import pull
from mmsearch.models.transfer import export_model, import_model
from mmsearch.models.verify import verify_model

__all__ = [
    "MANIFEST",
    "Manifest",
    "ModelError",
    "ModelStatus",
    "export_model",
    "find_model",
    "import_model",
    "known_models",
    "model_status",
    "pull",
    "verify_model",
]
