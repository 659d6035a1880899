"""Alembic environment: runs against the connection mmsearch hands over."""

from __future__ import annotations

from alembic import context

from mmsearch.faults import fault_point
from mmsearch.store.schema import Base

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=True,  # SQLite alters tables by copying them
)
with context.begin_transaction():
    context.run_migrations()
    fault_point("mid-migration")
