"""The CLI's thin client: ask the running server for this catalog instead of loading models.

``mmsearch query`` and ``status`` call here first (unless ``--no-server``). When a live
server holds the same catalog (:func:`~mmsearch.serve.discovery.running_server`), the
request goes to it and its answer, the same JSON shape the command would build, is
printed by the same renderer. Anything else (no server, one still loading, one that fails)
returns None and the command runs in-process as before. Standard library only: nothing
here imports torch, numpy-heavy modules or plugins.
"""

from __future__ import annotations

import json
import os
import socket
import urllib.parse
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from mmsearch.serve.discovery import ServerInfo, running_server

TIMEOUT = 300.0


class ServerRefusedError(Exception):
    """The server refused the request as wrong (400): the message is the CLI's usage error."""


def catalog_path(db: str | os.PathLike[str] | None) -> Path:
    """The catalog a command would open: ``--db``, else the default location (as absolute)."""
    from mmsearch.store.locations import default_catalog_path

    return Path(db if db is not None else default_catalog_path()).expanduser().absolute()


def find(db: str | os.PathLike[str] | None) -> ServerInfo | None:
    """The live server for the command's catalog, if one runs."""
    return running_server(catalog_path(db))


def search(
    info: ServerInfo,
    text: str | None,
    examples: Sequence[tuple[str, str]],
    params: Mapping[str, Any],
    *,
    plan: bool = False,
) -> dict[str, Any] | None:
    """The server's answer to a query (or its plan); None to run in-process instead.

    ``examples`` are (``image``/``audio``, the CLI's ``[WEIGHT:]PATH``); they are uploaded.
    """
    query = [(k, str(v)) for k, v in _flatten(params)]
    if text is not None:
        query.append(("q", text))
    if plan:
        return _call(info, "GET", "/api/v1/plan?" + urllib.parse.urlencode(query))
    if not examples:
        return _call(info, "GET", "/api/v1/search?" + urllib.parse.urlencode(query))
    fields: list[tuple[str, str, bytes]] = []
    for kind, spec in examples:
        weight, path = _split_spec(spec)
        try:
            data = Path(path).read_bytes()
        except OSError:
            return None  # the in-process run says what is wrong with the file, as ever
        fields.append((kind, os.path.basename(path), data))
        fields.append(("spec", "", (weight + os.path.abspath(path)).encode()))
    body, kind = _multipart(fields)
    url = "/api/v1/search?" + urllib.parse.urlencode(query)
    return _call(info, "POST", url, body, {"Content-Type": kind})


def status(info: ServerInfo) -> dict[str, Any] | None:
    """The server's ``status`` answer; None to run in-process instead."""
    return _call(info, "GET", "/api/v1/status")


def _flatten(params: Mapping[str, Any]) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for key, value in params.items():
        if value is None or value is False or value == ():
            continue
        values = value if isinstance(value, (list, tuple)) else [value]
        out.extend((key, "true" if v is True else v) for v in values)
    return out


def _split_spec(spec: str) -> tuple[str, str]:
    """``WEIGHT:PATH`` as (``WEIGHT:``, PATH), the way the engine reads an example."""
    head, sep, rest = spec.partition(":")
    if sep and not os.path.exists(spec):
        try:
            float(head)
        except ValueError:
            return "", spec
        return head + ":", rest
    return "", spec


def _multipart(fields: Sequence[tuple[str, str, bytes]]) -> tuple[bytes, str]:
    boundary = os.urandom(16).hex()
    parts: list[bytes] = []
    for name, filename, value in fields:
        head = f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"'
        if filename:
            quoted = urllib.parse.quote(filename)
            head += f'; filename="{quoted}"\r\nContent-Type: application/octet-stream'
        parts.append(head.encode() + b"\r\n\r\n" + value + b"\r\n")
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), (
        f"multipart/form-data; boundary={boundary}"
    )


def _call(
    info: ServerInfo,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
) -> dict[str, Any] | None:
    try:
        code, answer = exchange(info, method, path, body, headers)
        shaped = json.loads(answer)
    except (OSError, ValueError):
        return None  # down, or not answering HTTP: the command runs in-process
    if code == 200 and isinstance(shaped, dict):
        return shaped
    if code == 400:
        try:
            message = shaped["error"]["message"]
        except (KeyError, TypeError):
            return None
        raise ServerRefusedError(str(message))
    return None  # loading (503), or failing: the command runs in-process


def exchange(
    info: ServerInfo,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
) -> tuple[int, bytes]:
    """One HTTP/1.1 request to the server, over a fresh loopback connection: (status, body).

    A plain socket rather than ``urllib.request``, whose imports (``http.client``, ``email``,
    ``ssl``) take about 60 ms: a third of the warm query's budget. The server is ours
    (uvicorn), so the answer is read to the end of the connection; a chunked body is
    decoded. Raises OSError when the server cannot be reached, ValueError on a reply that
    is not HTTP.
    """
    data = body or b""
    host = f"[{info.host}]" if ":" in info.host else info.host
    lines = [
        f"{method} {path} HTTP/1.1",
        f"Host: {host}:{info.port}",
        f"Authorization: Bearer {info.token}",
        "Connection: close",
        "Accept: application/json",
        f"Content-Length: {len(data)}",
        *(f"{name}: {value}" for name, value in (headers or {}).items()),
    ]
    with socket.create_connection((info.host, info.port), timeout=TIMEOUT) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + data)
        received = []
        while chunk := sock.recv(1 << 16):
            received.append(chunk)
    head, sep, rest = b"".join(received).partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    parts = status_line.split(" ", 2)
    if not sep or len(parts) < 2 or not parts[0].startswith("HTTP/"):
        raise ValueError(f"not an HTTP reply: {status_line[:80]!r}")
    fields = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        fields[name.strip().lower()] = value.strip()
    if "chunked" in fields.get("transfer-encoding", "").lower():
        rest = _unchunk(rest)
    elif "content-length" in fields:
        rest = rest[: int(fields["content-length"])]
    return int(parts[1]), rest


def _unchunk(data: bytes) -> bytes:
    out: list[bytes] = []
    while True:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            return b"".join(out)
        if len(data) < size:
            raise ValueError("a chunked reply ended early")
        out.append(data[:size])
        data = data[size + 2 :]
