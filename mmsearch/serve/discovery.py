"""The discovery file: how a CLI finds the server that holds its catalog.

``serve`` writes ``CATALOG.server.json`` beside the catalog (readable by its owner only: it
holds the token) once it listens, and removes it on exit. A file whose process is gone, or
that names another catalog, is stale and ignored. Standard library only: the thin client
reads this before anything heavy is imported.
"""

from __future__ import annotations

import json
import os
import socket
from dataclasses import asdict, dataclass
from pathlib import Path

SUFFIX = ".server.json"


@dataclass(frozen=True, slots=True)
class ServerInfo:
    """What a client needs to reach a running server."""

    host: str
    port: int
    pid: int
    token: str
    catalog: str

    @property
    def base_url(self) -> str:
        """``http://host:port``, with an IPv6 host in brackets."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"


def discovery_path(db_path: Path) -> Path:
    """The discovery file of the catalog at ``db_path``."""
    return db_path.with_name(db_path.name + SUFFIX)


def new_token() -> str:
    """A random token for a server's discovery file."""
    import secrets  # the server's need only: the client path keeps its imports few

    return secrets.token_urlsafe(24)


def write_discovery(info: ServerInfo) -> Path:
    """Write the discovery file atomically, readable by its owner only."""
    path = discovery_path(Path(info.catalog))
    temp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(asdict(info), out)
    os.replace(temp, path)
    return path


def remove_discovery(info: ServerInfo) -> None:
    """Remove the discovery file if it is still this server's (a newer one is left)."""
    path = discovery_path(Path(info.catalog))
    if read_discovery(path) == info:
        path.unlink(missing_ok=True)


def read_discovery(path: Path) -> ServerInfo | None:
    """The server a discovery file names, or None when it is missing or not one."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return ServerInfo(
            host=str(data["host"]),
            port=int(data["port"]),
            pid=int(data["pid"]),
            token=str(data["token"]),
            catalog=str(data["catalog"]),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def running_server(db_path: Path) -> ServerInfo | None:
    """The live server for the catalog at ``db_path``, or None (no file, or a stale one).

    Live means: the file names this catalog, its process exists, and its port accepts a
    connection. ``mmsearch doctor`` and the CLI's client both ask this.
    """
    catalog = os.path.abspath(db_path)
    info = read_discovery(discovery_path(Path(catalog)))
    if info is None or os.path.abspath(info.catalog) != catalog or not _alive(info.pid):
        return None
    try:
        with socket.create_connection((info.host, info.port), timeout=0.5):
            return info
    except OSError:
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process: it exists
    return True
