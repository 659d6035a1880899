"""A real Milvus server for tests: ``milvus-lite server`` on a free loopback port."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

START_SECONDS = 60.0


def free_port() -> int:
    """A TCP port nothing listens on right now, on 127.0.0.1."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class MilvusServer:
    """One ``milvus-lite server`` process, bound to 127.0.0.1, with its data in ``folder``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def uri(self) -> str:
        """The address a client connects to."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> MilvusServer:
        """Start it and wait until it accepts connections."""
        cli = Path(sys.executable).with_name("milvus-lite")
        log = (self.folder.parent / f"milvus-server-{self.port}.log").open("ab")
        self.process = subprocess.Popen(
            [str(cli), "server", "--data-dir", str(self.folder), "--host", "127.0.0.1",
             "--port", str(self.port)],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"milvus-lite server exited with {self.process.returncode}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return self
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"milvus-lite server did not listen on {self.port} in time")

    def stop(self) -> None:
        """Stop it as a crash would (SIGKILL to its process group), and wait."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)
        self.process = None
