"""Initial catalog: roots, items, segments, spaces, vectors, settings, FTS5 text.

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "roots",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("path", sa.LargeBinary, nullable=False, unique=True),
        sa.Column("display", sa.Text, nullable=False),
        sa.Column("added_at", sa.Float, nullable=False),
    )
    op.create_table(
        "items",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "root_id", sa.Integer, sa.ForeignKey("roots.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("relpath", sa.LargeBinary, nullable=False),
        sa.Column("display", sa.Text, nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("mtime_ns", sa.BigInteger, nullable=False),
        sa.Column("content_hash", sa.String(64)),
        sa.Column("media_type", sa.String(16)),
        sa.Column("extractor", sa.String(64)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("detail", sa.Text),
        sa.Column("indexed_at", sa.Float, nullable=False),
        sa.UniqueConstraint("root_id", "relpath"),
    )
    op.create_index("ix_items_hash", "items", ["content_hash"])
    op.create_table(
        "segments",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "item_id", sa.Integer, sa.ForeignKey("items.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("ordinal", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("modality", sa.String(16), nullable=False),
        sa.Column("start", sa.Float),
        sa.Column("end", sa.Float),
        sa.Column("char_start", sa.Integer),
        sa.Column("char_end", sa.Integer),
        sa.Column("text", sa.Text),
    )
    op.create_index("ix_segments_item", "segments", ["item_id"])
    op.create_table(
        "spaces",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("key", sa.Text, nullable=False, unique=True),
        sa.Column("encoder_id", sa.String(128), nullable=False),
        sa.Column("checkpoint", sa.Text, nullable=False),
        sa.Column("dim", sa.Integer, nullable=False),
        sa.Column("preprocessing_version", sa.String(32), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("generation", sa.Integer, nullable=False),
    )
    op.create_table(
        "vectors",
        sa.Column(
            "segment_id",
            sa.Integer,
            sa.ForeignKey("segments.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column(
            "space_id", sa.Integer, sa.ForeignKey("spaces.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("data", sa.LargeBinary, nullable=False),
    )
    op.create_index("ix_vectors_space", "vectors", ["space_id"])
    op.create_table(
        "settings",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    # Every change to a space's vectors bumps its generation in the same
    # transaction, so a FAISS file saved at another generation is known stale.
    op.execute(
        "CREATE TRIGGER vectors_insert_generation AFTER INSERT ON vectors BEGIN "
        "UPDATE spaces SET generation = generation + 1 WHERE id = new.space_id; END"
    )
    op.execute(
        "CREATE TRIGGER vectors_delete_generation AFTER DELETE ON vectors BEGIN "
        "UPDATE spaces SET generation = generation + 1 WHERE id = old.space_id; END"
    )
    # Keyword text of every segment plus its file's name; rowid = segments.id.
    op.execute("CREATE VIRTUAL TABLE segments_fts USING fts5(text, name, tokenize='unicode61')")
    op.execute(
        "CREATE TRIGGER segments_fts_insert AFTER INSERT ON segments BEGIN "
        "INSERT INTO segments_fts(rowid, text, name) "
        "SELECT new.id, coalesce(new.text, ''), items.display FROM items "
        "WHERE items.id = new.item_id; END"
    )
    op.execute(
        "CREATE TRIGGER segments_fts_delete AFTER DELETE ON segments BEGIN "
        "DELETE FROM segments_fts WHERE rowid = old.id; END"
    )
    op.execute(
        "CREATE TRIGGER segments_fts_rename AFTER UPDATE OF display ON items BEGIN "
        "UPDATE segments_fts SET name = new.display "
        "WHERE rowid IN (SELECT id FROM segments WHERE item_id = new.id); END"
    )


def downgrade() -> None:
    for trigger in (
        "segments_fts_rename",
        "segments_fts_delete",
        "segments_fts_insert",
        "vectors_delete_generation",
        "vectors_insert_generation",
    ):
        op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    op.execute("DROP TABLE IF EXISTS segments_fts")
    for table in ("settings", "vectors", "spaces", "segments", "items", "roots"):
        op.drop_table(table)
