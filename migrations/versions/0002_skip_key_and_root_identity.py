"""Skipped items remember what they were skipped under; roots remember their filesystem.

``items.skip_key`` is a fingerprint of the settings and extractors a file was
skipped under, so raising a cap or installing a plugin re-reads it.
``roots.identity`` is ``"device:inode"`` of the root folder as last indexed, so
an unmounted or replaced root is refused instead of wiping its entries.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN, not a batch copy: copying ``items`` would drop its FTS trigger.
    op.add_column("items", sa.Column("skip_key", sa.String(64)))
    op.add_column("roots", sa.Column("identity", sa.Text))


def downgrade() -> None:
    op.drop_column("roots", "identity")  # SQLite 3.35+ drops columns in place
    op.drop_column("items", "skip_key")
