"""The situations a crash-matrix run is killed in, and the clean catalog it must end up as.

A scenario is a folder of files, an optional catalog already made from an
earlier state of it (copied afresh for every trial), the command line of the
run that is killed, and the reference: a clean index of the same files with
the same command, dumped (see :mod:`relkit.dump`). For ``upgrade`` the
reference is instead the same upgrade run without a kill, because a catalog
migrated from an older revision keeps what that revision did not record.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

from mmsearch.store.database import create_catalog_engine
from relkit.alt_encoder import ENCODER_ID as ALT_ENCODER
from relkit.dump import Dump, dump_catalog
from relkit.media import Media
from relkit.runs import ALT_PLUGIN, APPROXIMATE, index_args, run_cli


@dataclass(frozen=True, slots=True)
class Kind:
    """How a scenario's folder and catalog are made."""

    notes: int
    pre_index: bool = False
    """Index the folder once before the changes; trials start from a copy of that catalog."""
    changes: tuple[int, int, int, int] = (0, 0, 0, 0)
    """Notes added, rewritten, renamed and deleted after the first index."""
    new_space: bool = False
    """The killed run fills a second space (``--encoder hash-alt``) and activates it."""
    approximate: bool = False
    upgrade: bool = False
    """The first catalog is taken back one schema revision, so the run migrates it."""
    batch: int = 4


KINDS = {
    "fresh": Kind(notes=14),
    "changes": Kind(notes=14, pre_index=True, changes=(6, 3, 4, 3)),
    "new-space": Kind(notes=10, pre_index=True, new_space=True),
    "approximate": Kind(notes=300, approximate=True, batch=32),
    "approximate-rebuild": Kind(
        notes=300, pre_index=True, changes=(80, 4, 3, 5), approximate=True, batch=32
    ),
    "upgrade": Kind(notes=10, pre_index=True, changes=(3, 2, 2, 2), upgrade=True),
}


@dataclass(slots=True)
class Scenario:
    """A prepared scenario: the files, the starting catalog, the command, the reference."""

    name: str
    kind: Kind
    media: Path
    start: Path | None
    """The catalog folder every trial copies (None: trials start without a catalog)."""
    extra: list[str]
    env: dict[str, str]
    reference: Dump = field(default_factory=dict)
    reference_db: Path | None = None

    def args(self, db: Path) -> list[str]:
        """The killed run's command line (and its rerun's) for a trial's catalog."""
        return index_args(db, self.media, self.extra)

    def start_catalog(self, db: Path) -> None:
        """Put the scenario's starting catalog at ``db`` (nothing when it starts fresh)."""
        if self.start is not None:
            shutil.copytree(self.start, db.parent)


def prepare(name: str, seed: int, folder: Path) -> Scenario:
    """Make the scenario ``name`` under ``folder``: files, starting catalog, reference."""
    kind = KINDS[name]
    env = {**(APPROXIMATE if kind.approximate else {}), **(ALT_PLUGIN if kind.new_space else {})}
    media = Media.create(folder / "media", seed)
    media.populate(kind.notes)
    batch = ["--batch-size", str(kind.batch)]
    start = None
    if kind.pre_index:
        start = folder / "start"
        run_cli(index_args(start / "catalog.db", media.root, batch), env)
    media.change(*kind.changes)
    if kind.upgrade and start is not None and not _downgrade(start / "catalog.db"):
        kind = KINDS["changes"]  # a single revision: there is no older schema to upgrade
    extra = [*batch, "--encoder", ALT_ENCODER] if kind.new_space else batch
    scenario = Scenario(name, kind, media.root, start, extra, env)
    scenario.reference_db = _reference(scenario, folder / "reference" / "catalog.db", batch)
    scenario.reference = dump_catalog(scenario.reference_db)
    return scenario


def _reference(scenario: Scenario, db: Path, batch: list[str]) -> Path:
    """The clean catalog of the scenario's files (for ``upgrade``: the run without a kill)."""
    if scenario.kind.upgrade:
        scenario.start_catalog(db)
    elif scenario.kind.new_space:
        run_cli(index_args(db, scenario.media, batch), scenario.env)
    run_cli(scenario.args(db), scenario.env)
    return db


def _alembic(connection: object) -> Config:
    config = Config()
    config.set_main_option("script_location", str(resources.files("mmsearch.migrations")))
    config.attributes["connection"] = connection
    return config


def _downgrade(db: Path) -> bool:
    """Take the catalog back one revision; False when the head has no earlier revision."""
    engine = create_catalog_engine(db)
    try:
        with engine.begin() as connection:
            config = _alembic(connection)
            head = ScriptDirectory.from_config(config).get_current_head()
            revision = ScriptDirectory.from_config(config).get_revision(head)
            if revision is None or not revision.down_revision:
                return False
            command.downgrade(config, "-1")
            return True
    finally:
        engine.dispose()
