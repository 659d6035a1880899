"""Benchmark: ``mmsearch serve`` under load on loopback, with an index job running.

Seeds a catalog of ``--segments`` segments in a real space (``--encoder``, default the
offline plugin when it can run, else ``hash``) through the catalog code, as
bench/query_latency.py does (random unit vectors, texts from a vocabulary), starts
``mmsearch serve`` on it (a subprocess, a free port), then:

1. one client: ``--single`` distinct text queries one after another (p50/p95/p99);
2. ``--clients`` concurrent clients for ``--seconds``, a mix of text queries (GET) and,
   one in ``--example-every``, a query by an example image (multipart POST), while an index
   job (POST /api/v1/index) reads ``--index-files`` new text files; it prints requests/s,
   p50/p95/p99, errors by kind, whether the job finished, and the server's resident memory
   (start, peak sampled every 0.5 s, end).

Targets (issue 12): at 100k segments, 1 client p50 <= 30 ms, p95 <= 60 ms; 8 clients with
an index job running p95 <= 250 ms and 0 errors. Figures, not a test.

    .venv/bin/python bench/serve_load.py                                  # 100,000 segments
    .venv/bin/python bench/serve_load.py --readers 1,2,4                  # pool sizes in turn
    .venv/bin/python bench/serve_load.py --segments 5000 --seconds 10     # smoke run
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent))
from query_latency import COMMON, TEMPLATES, seed_catalog

from mmsearch import Library
from mmsearch.plugins import load_plugins
from mmsearch.serve.discovery import running_server

MMSEARCH = str(Path(sys.executable).with_name("mmsearch"))


def pct(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def figures(name: str, samples: Sequence[float]) -> str:
    return (f"{name}: n={len(samples)} p50 {statistics.median(samples):.1f} ms, "
            f"p95 {pct(samples, 0.95):.1f} ms, p99 {pct(samples, 0.99):.1f} ms")  # fmt: skip


def distinct_queries(count: int) -> list[str]:
    """Distinct natural-language queries over the common words, in a fixed order."""
    out: list[str] = []
    for words in itertools.permutations(COMMON, 3):
        out.append(TEMPLATES[len(out) % len(TEMPLATES)].format(*words))
        if len(out) == count:
            break
    return out


def rss(pid: int) -> int:
    with open(f"/proc/{pid}/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def choose_encoder(name: str | None) -> str:
    registry = load_plugins()
    if name:
        return name
    offline = registry.encoder("offline")
    return "offline" if offline is not None and offline.unavailable_reason() is None else "hash"


def seed(db: Path, encoder_id: str, segments: int) -> None:
    with Library.open(db) as lib:
        encoder = lib.choose_encoder(encoder_id)
        seed_catalog(lib, encoder, segments, seed=7)


def example_image(folder: Path) -> bytes:
    from PIL import Image

    path = folder / "example.png"
    Image.new("RGB", (224, 224), (200, 40, 40)).save(path)
    return path.read_bytes()


class Client:
    """One keep-alive connection, timing each request."""

    def __init__(self, host: str, port: int, token: str) -> None:
        self.conn = http.client.HTTPConnection(host, port, timeout=120)
        self.headers = {"Authorization": f"Bearer {token}"}

    def get(self, path: str) -> tuple[int, float]:
        return self._send("GET", path, None, self.headers)

    def post(self, path: str, body: bytes, kind: str) -> tuple[int, float]:
        return self._send("POST", path, body, {**self.headers, "Content-Type": kind})

    def _send(self, method: str, path: str, body: bytes | None, headers: dict[str, str]
              ) -> tuple[int, float]:  # fmt: skip
        started = time.perf_counter()
        self.conn.request(method, path, body=body, headers=headers)
        response = self.conn.getresponse()
        data = response.read()
        elapsed = (time.perf_counter() - started) * 1000
        if response.status not in (200, 202):
            print(f"  {response.status}: {data[:200]!r}", file=sys.stderr)
        return response.status, elapsed


def multipart(image: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    body = (f'--{boundary}\r\nContent-Disposition: form-data; name="image"; '
            f'filename="example.png"\r\nContent-Type: image/png\r\n\r\n').encode()  # fmt: skip
    body += image + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--segments", type=int, default=100_000)
    parser.add_argument("--encoder", default=None, help="default: offline if it runs, else hash")
    parser.add_argument("--single", type=int, default=200, help="queries with one client")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--example-every", type=int, default=5)
    parser.add_argument("--index-files", type=int, default=2000)
    parser.add_argument("--readers", default="1,2",
                        help="serve --readers values to run in turn on the same catalog "
                             "(each with its own folder of new files to index)")  # fmt: skip
    opts = parser.parse_args()
    encoder = choose_encoder(opts.encoder)
    print(f"load average {os.getloadavg()[0]:.2f}; encoder {encoder}; {opts.segments:,} segments")
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "catalog.db"
        started = time.perf_counter()
        seed(db, encoder, opts.segments)
        print(f"seeded in {time.perf_counter() - started:.1f} s")
        env = {**os.environ, "MMSEARCH_ENCODER": encoder}
        for readers in (int(r) for r in opts.readers.split(",")):
            print(f"\n--- serve --readers {readers}")
            new = Path(tmp) / f"new-{readers}"
            new.mkdir()
            for i in range(opts.index_files):
                (new / f"note{i:05d}.txt").write_text(f"Note {i} about the harbour and budget.")
            log_path = Path(tmp) / f"serve-{readers}.log"
            log = open(log_path, "w")  # noqa: SIM115
            server = subprocess.Popen(
                [MMSEARCH, "--db", str(db), "serve", "--port", "0", "--readers", str(readers)],
                env=env, stderr=log,
            )  # fmt: skip
            try:
                run(server, db, new, opts, example_image(Path(tmp)))
            finally:
                server.terminate()
                server.wait(60)
                log.close()
                errors = [ln for ln in log_path.read_text().splitlines()
                          if "database is locked" in ln]  # fmt: skip
                print(f"'database is locked' in the server log: {len(errors)} lines")


def run(server: subprocess.Popen[bytes], db: Path, new: Path, opts: argparse.Namespace,
        image: bytes) -> None:  # fmt: skip
    deadline = time.monotonic() + 600
    info = None
    while info is None or not ready(info):
        if time.monotonic() > deadline or server.poll() is not None:
            raise SystemExit("the server did not start")
        time.sleep(0.3)
        info = running_server(db)
    print(f"server ready; RSS {rss(server.pid) / 1e6:.0f} MB")
    texts = distinct_queries(opts.single + 300)
    one = Client(info.host, info.port, info.token)
    single = [one.get("/api/v1/search?" + urlencode({"q": q}))[1] for q in texts[: opts.single]]
    print(figures("1 client, text queries", single))

    status, _ = one.post("/api/v1/index", json.dumps({"paths": [str(new)]}).encode(),
                         "application/json")  # fmt: skip
    print(f"index job started ({status}) over {opts.index_files} new files")
    body, kind = multipart(image)
    samples: dict[str, list[float]] = {"text": [], "example": []}
    failures: Counter[str] = Counter()
    lock = threading.Lock()
    stop = time.monotonic() + opts.seconds
    pool = itertools.cycle(texts[opts.single :])  # repeats hit the query cache, as in use
    peak = [rss(server.pid)]

    def client(number: int) -> None:
        c = Client(info.host, info.port, info.token)
        n = 0
        while time.monotonic() < stop:
            n += 1
            try:
                if n % opts.example_every == 0:
                    status, ms = c.post("/api/v1/search?k=10", body, kind)
                    key = "example"
                else:
                    with lock:
                        q = next(pool)
                    status, ms = c.get("/api/v1/search?" + urlencode({"q": q}))
                    key = "text"
            except (OSError, http.client.HTTPException) as exc:
                with lock:
                    failures[type(exc).__name__] += 1
                c = Client(info.host, info.port, info.token)
                continue
            with lock:
                if status == 200:
                    samples[key].append(ms)
                else:
                    failures[f"HTTP {status}"] += 1

    threads = [threading.Thread(target=client, args=(i,)) for i in range(opts.clients)]
    began = time.monotonic()
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        peak.append(rss(server.pid))
        time.sleep(0.5)
    elapsed = time.monotonic() - began
    total = sum(len(v) for v in samples.values())
    print(f"{opts.clients} clients for {elapsed:.1f} s with the index job running: "
          f"{total / elapsed:.1f} requests/s, errors {dict(failures) or 0}")  # fmt: skip
    everything = samples["text"] + samples["example"]
    for name, values in (("all", everything), ("text", samples["text"]),
                         ("example image", samples["example"])):  # fmt: skip
        if values:
            print("  " + figures(name, values))
    last = Client(info.host, info.port, info.token)  # the idle keep-alive one was closed
    last.conn.request("GET", "/api/v1/jobs", headers=last.headers)
    jobs = json.loads(last.conn.getresponse().read())["jobs"]
    job = jobs[0] if jobs else {}
    print(f"index job: {job.get('state')}, {job.get('done')} of {job.get('total')} files "
          f"at the end of the load")  # fmt: skip
    print(f"server RSS: peak {max(peak) / 1e6:.0f} MB during the load, "
          f"{rss(server.pid) / 1e6:.0f} MB after")  # fmt: skip


def ready(info: object) -> bool:
    try:
        c = Client(info.host, info.port, info.token)  # type: ignore[attr-defined]
        c.conn.request("GET", "/api/v1/server", headers=c.headers)
        return bool(json.loads(c.conn.getresponse().read())["ready"])
    except (OSError, ValueError, KeyError):
        return False


if __name__ == "__main__":
    main()
