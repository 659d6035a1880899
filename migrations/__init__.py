"""Alembic migrations of the mmsearch catalog, shipped inside the package as ``mmsearch.migrations``."""
