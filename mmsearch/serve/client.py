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
import urllib.error
import urllib.parse
import urllib.request
import uuid
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
    boundary = uuid.uuid4().hex
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
    request = urllib.request.Request(
        info.base_url + path,
        data=body,
        method=method,
        headers={"Authorization": f"Bearer {info.token}", **(headers or {})},
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            answer: dict[str, Any] = json.loads(response.read())
            return answer
    except urllib.error.HTTPError as exc:
        if exc.code == 400:
            try:
                message = json.loads(exc.read())["error"]["message"]
            except (ValueError, KeyError, TypeError):
                return None
            raise ServerRefusedError(message) from None
        return None  # loading (503), or failing: the command runs in-process
    except (OSError, ValueError):
        return None
