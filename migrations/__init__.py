"""Alembic migrations of the mmsearch catalog, shipped as ``mmsearch.migrations``."""
