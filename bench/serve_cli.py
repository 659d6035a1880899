"""CLI ``mmsearch query`` latency, process start to results printed: with a server, and cold.

Usage: .venv/bin/python bench/serve_cli.py [--runs 20] [--encoder hash]

Indexes examples/media into a temporary catalog, starts ``mmsearch serve`` for it, then times
``mmsearch query "red car"`` (asked of the server) and ``--no-server`` (in-process, cold)
and prints p50/p95 of each. Figures, not a test.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MMSEARCH = str(Path(sys.executable).with_name("mmsearch"))


def timed(args: list[str], env: dict[str, str], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(args, env=env, check=True, capture_output=True)
        times.append((time.perf_counter() - started) * 1000)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--encoder", default="hash")
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "catalog.db"
        env = {**os.environ, "MMSEARCH_ENCODER": opts.encoder, "MMSEARCH_DB": str(db)}
        subprocess.run([MMSEARCH, "index", str(ROOT / "examples" / "media")], env=env, check=True)
        server = subprocess.Popen([MMSEARCH, "serve", "--port", "0"], env=env,
                                  stderr=subprocess.DEVNULL)  # fmt: skip
        try:
            sys.path.insert(0, str(ROOT))
            from mmsearch.serve.discovery import running_server

            while running_server(db) is None:
                time.sleep(0.2)
            time.sleep(3)  # the library loads after the port opens
            query = [MMSEARCH, "query", "red car"]
            warm = timed(query, env, opts.runs)
            cold = timed([*query, "--no-server"], env, max(3, opts.runs // 4))
        finally:
            server.terminate()
            server.wait()
    for name, values in (("with a server", warm), ("in-process (cold)", cold)):
        values.sort()
        p95 = values[min(len(values) - 1, int(len(values) * 0.95))]
        print(f"{name:18} p50 {statistics.median(values):7.0f} ms  p95 {p95:7.0f} ms  "
              f"({len(values)} runs, encoder {opts.encoder})")  # fmt: skip


if __name__ == "__main__":
    main()
