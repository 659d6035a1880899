"""CLI ``mmsearch query`` latency, process start to results printed: with a server, and cold.

Usage: .venv/bin/python bench/serve_cli.py [--runs 20] [--encoder hash]

Indexes examples/media into a temporary catalog, starts ``mmsearch serve`` for it, then times,
interleaved (so load on a shared machine falls on all alike):

- ``mmsearch query "red car"``: the entry point's fast path asks the server;
- ``mmsearch -v query "red car"``: ``-v`` is not the fast path's, so click and the full CLI
  load and then ask the server (what every warm query cost before the fast path);
- ``mmsearch query "red car" --no-server``: in-process, cold (one in four runs).

It checks the fast path's stdout is byte for byte the in-process one, and prints p50/p95 of
each. Figures, not a test.
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


def timed(args: list[str], env: dict[str, str]) -> tuple[float, bytes]:
    started = time.perf_counter()
    done = subprocess.run(args, env=env, check=True, capture_output=True)
    return (time.perf_counter() - started) * 1000, done.stdout


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
            warm: list[float] = []
            full: list[float] = []
            cold: list[float] = []
            outputs: set[bytes] = set()
            for run in range(opts.runs):
                took, out = timed(query, env)
                warm.append(took)
                outputs.add(out)
                full.append(timed([MMSEARCH, "-v", *query[1:]], env)[0])
                if run % 4 == 0:
                    took, out = timed([*query, "--no-server"], env)
                    cold.append(took)
                    outputs.add(out)
        finally:
            server.terminate()
            server.wait()
    same = "identical" if len(outputs) == 1 else "DIFFERENT"
    print(f"stdout of the fast path and in-process: {same}")
    rows = (("fast path + server", warm), ("full CLI + server", full), ("in-process (cold)", cold))
    for name, values in rows:
        values.sort()
        p95 = values[min(len(values) - 1, int(len(values) * 0.95))]
        print(f"{name:19} p50 {statistics.median(values):7.0f} ms  p95 {p95:7.0f} ms  "
              f"({len(values)} runs, encoder {opts.encoder})")  # fmt: skip


if __name__ == "__main__":
    main()
