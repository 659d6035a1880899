"""Feedback and tuned adapters: what ``mmsearch feedback`` and ``mmsearch tune`` keep.

``feedback`` holds a user's good/bad judgement of one file for one query text
(dropped with the file); ``adapters`` holds the query-side adapters fitted by
``mmsearch tune``, by name, per space (dropped with the space), at most one of a
space active. Older catalogs simply have none of either.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "feedback",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("query", sa.Text, nullable=False),
        sa.Column(
            "item_id", sa.Integer, sa.ForeignKey("items.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("good", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_index("ix_feedback_item", "feedback", ["item_id"])
    op.create_table(
        "adapters",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "space_id", sa.Integer, sa.ForeignKey("spaces.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
        sa.Column("report", sa.Text, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.UniqueConstraint("space_id", "name"),
    )


def downgrade() -> None:
    op.drop_table("adapters")
    op.drop_index("ix_feedback_item", "feedback")
    op.drop_table("feedback")
