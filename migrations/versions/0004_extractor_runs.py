"""Several extractors per file: each segment records its extractor, each item its runs.

``segments.extractor`` names the extractor that made a segment (a plain ADD
COLUMN, so the FTS triggers on segments survive), and ``item_extractors`` keeps
how each extractor did on each item (done, skipped or failed, with its version),
so a re-index reruns only the extractors that are new, changed or failed, and
one failing extractor keeps the others' segments.

Existing catalogs had one extractor per item: its segments and a done run (at
version "1", every extractor's first) are filled in from ``items.extractor``.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("segments", sa.Column("extractor", sa.String(64), nullable=True))
    op.create_table(
        "item_extractors",
        sa.Column(
            "item_id",
            sa.Integer,
            sa.ForeignKey("items.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("extractor", sa.String(64), primary_key=True),
        sa.Column("version", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("detail", sa.Text, nullable=True),
    )
    op.execute(
        "UPDATE segments SET extractor = "
        "(SELECT items.extractor FROM items WHERE items.id = segments.item_id)"
    )
    op.execute(
        "INSERT INTO item_extractors (item_id, extractor, version, status) "
        "SELECT id, extractor, '1', 'done' FROM items "
        "WHERE status = 'done' AND extractor IS NOT NULL"
    )


def downgrade() -> None:
    op.drop_table("item_extractors")
    op.drop_column("segments", "extractor")  # SQLite 3.35+ drops columns in place
