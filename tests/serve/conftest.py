"""A real ``mmsearch serve`` on a free loopback port, over a small generated library."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from support import save_image

from mmsearch.serve.discovery import discovery_path, read_discovery

SPEECH = Path(__file__).parents[1] / "media" / "speech"
MMSEARCH = [str(Path(sys.executable).with_name("mmsearch"))]


@dataclass
class Served:
    """A running server: its URL, catalog, token and process."""

    url: str
    db: Path
    media: Path
    token: str
    process: subprocess.Popen[bytes]

    def get(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, Any, Any]:
        """(status, headers, JSON or bytes) of a GET."""
        return request(self.url + path, headers=headers)


def request(
    url: str, data: bytes | None = None, headers: dict[str, str] | None = None, method: str = ""
) -> tuple[int, Any, Any]:
    req = urllib.request.Request(url, data=data, headers=headers or {}, method=method or None)
    try:
        with urllib.request.urlopen(req, timeout=60) as response:
            return response.status, response.headers, _body(response.headers, response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, _body(exc.headers, exc.read())


def _body(headers: Any, raw: bytes) -> Any:
    if "json" in headers.get("content-type", ""):
        return json.loads(raw)
    return raw


def cli_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MMSEARCH_")}
    env.update(MMSEARCH_ENCODER="hash", MMSEARCH_HOME=str(home))
    return env


def make_library(root: Path) -> tuple[Path, Path]:
    """Index images, texts and a recording (speech at 00:08) with the hash encoder."""
    media = root / "media"
    (media / "photos").mkdir(parents=True)
    save_image(media / "photos" / "red.png", (220, 20, 20))
    save_image(media / "photos" / "blue.jpg", (20, 20, 220))
    save_image(media / "photos" / "sunflower_field.png", (230, 200, 20))
    (media / "car.txt").write_text("A red car parked by the harbour at sunset.")
    (media / "budget.md").write_text("# Budget\n\nWe discussed the budget for next year.\n")
    shutil.copy(SPEECH / "meeting.ogg", media / "meeting.ogg")
    db = root / "catalog" / "catalog.db"
    subprocess.run(
        [*MMSEARCH, "--db", str(db), "index", str(media)],
        check=True, env=cli_env(root / "home"), capture_output=True,
    )  # fmt: skip
    return db, media


def start_server(db: Path, media: Path, *extra: str, home: Path) -> Served:
    """Start ``mmsearch serve --port 0`` and wait until its library is loaded."""
    discovery = discovery_path(db)
    discovery.unlink(missing_ok=True)
    log = open(db.with_name("serve.log"), "ab")  # noqa: SIM115 - kept for the process's life
    process = subprocess.Popen(
        [*MMSEARCH, "--db", str(db), "serve", "--port", "0", *extra],
        env=cli_env(home), stdout=log, stderr=log,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        info = read_discovery(discovery)
        if process.poll() is not None:
            raise AssertionError(f"serve exited: {db.with_name('serve.log').read_text()}")
        if info is not None:
            served = Served(info.base_url, db, media, info.token, process)
            headers = {"Authorization": f"Bearer {info.token}"}
            status, _, body = served.get("/api/v1/server", headers)
            if status == 200 and body["ready"]:
                return served
        time.sleep(0.2)
    process.kill()
    raise AssertionError("serve did not get ready in 120 s")


def stop_server(served: Served) -> int:
    served.process.send_signal(signal.SIGTERM)
    return served.process.wait(60)


@pytest.fixture(scope="session")
def library_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("served")


@pytest.fixture(scope="session")
def served(library_dir: Path) -> Iterator[Served]:
    """One server for the module's read-only checks (index jobs get their own)."""
    db, media = make_library(library_dir)
    server = start_server(db, media, home=library_dir / "home")
    yield server
    stop_server(server)
