"""Indexing: scan a folder, extract segments, encode them, commit them in batches."""
