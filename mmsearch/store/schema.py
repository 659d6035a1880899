"""SQLAlchemy models of the catalog, the single source of truth.

Schema changes go through alembic migrations (``migrations/``); these models
must always describe the head revision.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class Base(DeclarativeBase):
    """Declarative base of the catalog models."""


class Root(Base):
    """A folder the user asked to index. Item paths are stored relative to it."""

    __tablename__ = "roots"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    path: Mapped[bytes] = mapped_column(LargeBinary, unique=True)
    display: Mapped[str] = mapped_column(Text)
    added_at: Mapped[float] = mapped_column(Float)
    identity: Mapped[str | None] = mapped_column(Text)
    """``"device:inode"`` of the folder as last indexed: a changed one is not the same root."""


class Item(Base):
    """One file, keyed by its root and relative path bytes."""

    __tablename__ = "items"
    __table_args__ = (
        UniqueConstraint("root_id", "relpath"),
        Index("ix_items_hash", "content_hash"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    root_id: Mapped[int] = mapped_column(ForeignKey("roots.id", ondelete="CASCADE"))
    relpath: Mapped[bytes] = mapped_column(LargeBinary)
    display: Mapped[str] = mapped_column(Text)
    size: Mapped[int] = mapped_column(BigInteger)
    mtime_ns: Mapped[int] = mapped_column(BigInteger)
    content_hash: Mapped[str | None] = mapped_column(String(64))
    media_type: Mapped[str | None] = mapped_column(String(16))
    extractor: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))  # done | skipped | failed
    reason: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[str | None] = mapped_column(Text)
    indexed_at: Mapped[float] = mapped_column(Float)
    skip_key: Mapped[str | None] = mapped_column(String(64))
    """For a skipped item, a fingerprint of the settings and extractors it was skipped under."""

    segments: Mapped[list[Segment]] = relationship(
        back_populates="item", cascade="all, delete-orphan", passive_deletes=True
    )


class Segment(Base):
    """The unit that is embedded and returned: an image, a text chunk, a speech span."""

    __tablename__ = "segments"
    __table_args__ = (Index("ix_segments_item", "item_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"))
    ordinal: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    modality: Mapped[str] = mapped_column(String(16))
    start: Mapped[float | None] = mapped_column(Float)
    end: Mapped[float | None] = mapped_column(Float)
    char_start: Mapped[int | None] = mapped_column(Integer)
    char_end: Mapped[int | None] = mapped_column(Integer)
    text: Mapped[str | None] = mapped_column(Text)
    extractor: Mapped[str | None] = mapped_column(String(64))
    """The extractor that made it: a file's extractors each replace only their own."""

    item: Mapped[Item] = relationship(back_populates="segments")


class ItemExtractor(Base):
    """How one extractor did on one item: a file is done when all its extractors ran."""

    __tablename__ = "item_extractors"

    item_id: Mapped[int] = mapped_column(
        ForeignKey("items.id", ondelete="CASCADE"), primary_key=True
    )
    extractor: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))  # done | skipped | failed
    reason: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[str | None] = mapped_column(Text)


class Space(Base):
    """One embedding space: vectors of different spaces never mix."""

    __tablename__ = "spaces"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(Text, unique=True)
    encoder_id: Mapped[str] = mapped_column(String(128))
    checkpoint: Mapped[str] = mapped_column(Text)
    dim: Mapped[int] = mapped_column(Integer)
    preprocessing_version: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[float] = mapped_column(Float)
    generation: Mapped[int] = mapped_column(Integer, default=0)
    """Bumped in the same transaction as every change to this space's vectors."""


class Vector(Base):
    """A float32 embedding of one segment in one space."""

    __tablename__ = "vectors"
    __table_args__ = (Index("ix_vectors_space", "space_id"),)

    segment_id: Mapped[int] = mapped_column(
        ForeignKey("segments.id", ondelete="CASCADE"), primary_key=True
    )
    space_id: Mapped[int] = mapped_column(
        ForeignKey("spaces.id", ondelete="CASCADE"), primary_key=True
    )
    data: Mapped[bytes] = mapped_column(LargeBinary)


class Setting(Base):
    """Catalog-wide settings, such as the active space."""

    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class SpaceDigest(Base):
    """A space's vector digest and the generation it is true at (mmsearch/store/digest.py)."""

    __tablename__ = "space_digests"

    space_id: Mapped[int] = mapped_column(
        ForeignKey("spaces.id", ondelete="CASCADE"), primary_key=True
    )
    generation: Mapped[int] = mapped_column(Integer)
    digest: Mapped[str] = mapped_column(String(16))


class Feedback(Base):
    """A user's judgement of one file for one query (``mmsearch feedback``): tune's labels."""

    __tablename__ = "feedback"
    __table_args__ = (Index("ix_feedback_item", "item_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    query: Mapped[str] = mapped_column(Text)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"))
    good: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[float] = mapped_column(Float)


class Adapter(Base):
    """A query-side adapter fitted by ``mmsearch tune``, tied to (and dropped with) its space."""

    __tablename__ = "adapters"
    __table_args__ = (UniqueConstraint("space_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    space_id: Mapped[int] = mapped_column(ForeignKey("spaces.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(Boolean, default=False)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    """The adapter's matrices (mmsearch/tune/adapter.py, ``to_bytes``)."""
    report: Mapped[str] = mapped_column(Text)
    """The cross-validated before/after figures, as JSON."""
    created_at: Mapped[float] = mapped_column(Float)
