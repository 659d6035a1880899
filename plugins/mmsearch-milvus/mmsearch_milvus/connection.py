"""The pymilvus client, opened lazily, with every failure turned into one actionable error."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from mmsearch import MmsearchError
from mmsearch_milvus.settings import MilvusSettings

T = TypeVar("T")
log = logging.getLogger("mmsearch")


class MilvusUnavailableError(MmsearchError):
    """Milvus could not be reached or refused a call; the catalog keeps every vector."""


def describe(settings: MilvusSettings) -> str:
    """The store's address for messages: the Lite file or the server URI."""
    return (
        f"the Milvus Lite file {settings.uri}" if settings.is_lite else f"Milvus at {settings.uri}"
    )


def failure(settings: MilvusSettings, doing: str, exc: BaseException) -> MilvusUnavailableError:
    """What to tell the user when a call to Milvus fails."""
    fix = (
        "check that the file's folder is writable and that no other process holds it "
        "(Milvus Lite serves one process at a time; use a Milvus server for several)"
        if settings.is_lite
        else "start it, or give the right address with --milvus-uri (token: MMSEARCH_MILVUS_TOKEN)"
    )
    return MilvusUnavailableError(
        f"Could not {doing} in {describe(settings)}: {type(exc).__name__}: {exc}. {fix}. "
        "The catalog keeps every vector: the next run brings the collection back in step."
    )


class Connection:
    """One lazily opened ``MilvusClient``; :meth:`call` wraps each request's errors."""

    def __init__(self, settings: MilvusSettings) -> None:
        self.settings = settings
        self._client: Any = None

    @property
    def client(self) -> Any:
        """The ``MilvusClient``, connected on first use."""
        if self._client is None:
            self._client = self.call("connect", self._open)
        return self._client

    def _open(self) -> Any:
        from pymilvus import MilvusClient  # only once a Milvus index is really used

        if self.settings.is_lite:
            Path(self.settings.uri).parent.mkdir(parents=True, exist_ok=True)
        # pymilvus logs each failed call at ERROR with a traceback; the failure reaches the
        # user once, as MilvusUnavailableError, so the CLI's stderr stays ours.
        logging.getLogger("pymilvus").setLevel(logging.CRITICAL)
        if self.settings.is_lite:
            # Milvus Lite serves gRPC inside this process and logs every call it does not
            # implement (the iterator's timestamp probe, which falls back) as an error.
            logging.getLogger("grpc._server").setLevel(logging.CRITICAL)
        return MilvusClient(
            uri=os.fspath(self.settings.uri),
            token=self.settings.token,
            timeout=self.settings.timeout,
        )

    def call(self, doing: str, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``function(*args, **kwargs)``; any failure of Milvus becomes MilvusUnavailableError."""
        try:
            return function(*args, **kwargs)
        except MilvusUnavailableError:
            raise
        except Exception as exc:  # pymilvus raises MilvusException, grpc and OS errors alike
            raise failure(self.settings, doing, exc) from exc

    def close(self) -> None:
        """Close the client (a Lite file's server stops with the last client)."""
        if self._client is not None:
            client, self._client = self._client, None
            with _quietly():
                client.close()


@contextmanager
def _quietly() -> Iterator[None]:
    try:
        yield
    except Exception as exc:  # closing a connection to a dead server must not mask the cause
        log.debug("Closing the Milvus client failed: %s", exc)
