"""Exceptions the public API raises. Each message says what happened and what to do."""

from __future__ import annotations


class MmsearchError(Exception):
    """Base class for errors a user can act on."""


class UsageError(MmsearchError):
    """The request itself is wrong (a missing folder, an unknown encoder); exit code 2."""


class CatalogError(MmsearchError):
    """The catalog cannot be opened or written; exit code 1."""


class SchemaTooNewError(CatalogError):
    """The catalog was written by a newer mmsearch than this one."""


class CatalogMissingError(CatalogError):
    """A command that only reads was pointed at a path where no catalog exists."""


class CatalogDamagedError(CatalogError):
    """SQLite finds the catalog file damaged (malformed pages)."""


class LockedError(MmsearchError):
    """Another process is writing to the catalog."""


class EncoderUnavailableError(MmsearchError):
    """No installed plugin provides the encoder a library needs."""
