"""Where a catalog lives when the caller does not say."""

from __future__ import annotations

import os
from pathlib import Path

CATALOG_FILENAME = "catalog.db"


def default_catalog_path() -> Path:
    """``MMSEARCH_DB``, else ``$MMSEARCH_HOME/catalog.db``, else the user data folder."""
    explicit = os.environ.get("MMSEARCH_DB")
    if explicit:
        return Path(explicit).expanduser()
    home = os.environ.get("MMSEARCH_HOME")
    if home:
        return Path(home).expanduser() / CATALOG_FILENAME
    import platformdirs  # only here: the CLI's thin client resolves paths before anything else

    return Path(platformdirs.user_data_dir("mmsearch", appauthor=False)) / CATALOG_FILENAME


def index_folder(db_path: Path) -> Path:
    """The folder holding the FAISS caches of the catalog at ``db_path``."""
    return db_path.with_name(db_path.name + ".indexes")


def lock_path(db_path: Path) -> Path:
    """The writer lock file of the catalog at ``db_path``."""
    return db_path.with_name(db_path.name + ".lock")
