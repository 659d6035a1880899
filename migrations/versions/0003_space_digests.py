"""Each space's vector digest, and a catalog id in every catalog.

``space_digests`` holds, per space, a digest of its (segment id, vector) pairs
and the space generation it is true at (see mmsearch/store/digest.py): a vector
index is checked against it on open without reading every vector. Spaces that
exist before this revision get theirs on the next index run.

Every catalog gets its ``catalog_id`` setting here (a new catalog too), so a
read-only open never has to make one.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "space_digests",
        sa.Column(
            "space_id",
            sa.Integer,
            sa.ForeignKey("spaces.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("generation", sa.Integer, nullable=False),
        sa.Column("digest", sa.String(16), nullable=False),
    )
    op.execute(
        "INSERT OR IGNORE INTO settings (key, value) "
        "VALUES ('catalog_id', lower(hex(randomblob(16))))"
    )


def downgrade() -> None:
    op.drop_table("space_digests")
