"""A quick, bounded answer to "could weights be downloaded from here right now?".

It only opens a TCP connection to the host (or to the HTTPS proxy, when one is
set); name resolution can hang for many seconds on a machine without a network,
so the probe runs in a daemon thread that is abandoned after the time limit.
"""

from __future__ import annotations

import socket
import threading
import urllib.parse
import urllib.request

PROBE_SECONDS = 1.5


def _target(url: str) -> tuple[str, int]:
    """The host and port a download of ``url`` would connect to first."""
    proxy = urllib.request.getproxies().get(urllib.parse.urlsplit(url).scheme)
    parts = urllib.parse.urlsplit(proxy or url)
    default = 443 if parts.scheme == "https" else 80
    return parts.hostname or "", parts.port or default


def _wait(worker: threading.Thread, seconds: float) -> None:
    """Wait for the probe at most ``seconds``; tests replace it to run out the clock at once."""
    worker.join(seconds)


def unreachable_reason(url: str, timeout: float = PROBE_SECONDS) -> str | None:
    """None when a connection to the server of ``url`` opens within ``timeout``; else why not."""
    host, port = _target(url)
    outcome: list[str | None] = []

    def probe() -> None:
        try:
            socket.create_connection((host, port), timeout=timeout).close()
            outcome.append(None)
        except OSError as exc:
            outcome.append(f"{host}:{port} cannot be reached ({exc})")

    worker = threading.Thread(target=probe, name="mmsearch-net-probe", daemon=True)
    worker.start()
    _wait(worker, timeout)
    if not outcome:
        return f"{host}:{port} did not answer within {timeout:g} s"
    return outcome[0]
