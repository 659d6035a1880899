"""Benchmark: what a user pays per command, whole process, from start to exit.

Each figure is one ``mmsearch`` process as a user runs it (wall clock from ``fork`` to
exit, and its peak resident memory from GNU time, see :data:`GNU_TIME`), the median over
``--runs``:

- ``--help``, and ``status`` of a 1,000-file library;
- a cold ``query`` (no server) on an offline space and on an open-clip space
  (``--arch``, default ViT-B-32, random weights: the real model's compute);
- an unchanged re-scan of that 1,000-file library, on either space;
- ``index`` of a fresh catalog: ``--small`` x 0.5 MP and ``--large`` x 12 MP photo-like
  JPEGs without text, on the open-clip space, OCR off (``--set ocr=off``) and on (the
  default), and ``--text-photos`` photos with printed words, OCR on, with the words found.

Then ``python -X importtime`` for ``--help``, ``status``, a cold query and a re-scan: the
total import time, the slowest top-level imports, and which heavy libraries (torch,
open_clip, transformers, sentence_transformers, onnxruntime...) each process imported.

This is not a test: it prints figures. Run from the repository root:

    .venv/bin/python bench/cold_start.py                              # ~15 minutes
    .venv/bin/python bench/cold_start.py --runs 1 --small 32 --large 6  # smoke run
    .venv/bin/python bench/cold_start.py --only help,status,query,rescan   # no index runs
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

sys.path.insert(0, str(Path(__file__).parent))
from index_images import make_photos  # bench/ is not a package

HEAVY = (
    "torch",
    "torchvision",
    "open_clip",
    "transformers",
    "sentence_transformers",
    "onnxruntime",
    "rapidocr_onnxruntime",
    "faster_whisper",
    "ctranslate2",
    "timm",
    "cv2",
)
SECTIONS = ("help", "status", "query", "rescan", "index", "importtime")
WORDS = ("harbour", "invoice", "meadow", "lantern", "copper", "violet", "summit", "parcel")
QUERY = "a red car at the harbour"


@dataclass(frozen=True, slots=True)
class Run:
    """One finished process."""

    seconds: float
    peak_mb: float
    returncode: int
    stdout: str
    stderr: str


def mmsearch_command() -> list[str]:
    """The ``mmsearch`` script of this interpreter's environment."""
    script = Path(sys.executable).parent / "mmsearch"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from mmsearch.cli import main; main()"]


GNU_TIME = Path("/usr/bin/time")
"""Measures the peak RSS of the command alone. ``wait4``'s ``ru_maxrss`` of a child of this
process is at least this process's own peak at the fork (Linux carries the old memory's
high-water mark over ``exec``), and this process holds seeded catalogs: 313 MB for
``/bin/true`` after a 300 MB allocation here. GNU time's child is forked from time itself."""


def run_once(argv: Sequence[str], env: dict[str, str]) -> Run:
    """Run ``argv``; wall time and peak RSS of that one process (GNU time's ``%M`` where
    /usr/bin/time exists, else ``wait4``'s ``ru_maxrss``, which overstates it)."""
    import threading

    with tempfile.NamedTemporaryFile("r", suffix=".rss") as report:
        timed = [str(GNU_TIME), "-f", "%M", "-o", report.name, *argv]
        use_time = GNU_TIME.exists()
        started = time.perf_counter()
        child = subprocess.Popen(
            timed if use_time else list(argv), env=env, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        # communicate() reaps the child itself, so read the pipes in threads and wait4 here.
        out: dict[str, str] = {}

        def drain(name: str, stream: object) -> None:
            out[name] = stream.read()  # type: ignore[attr-defined]

        readers = [
            threading.Thread(target=drain, args=("out", child.stdout)),
            threading.Thread(target=drain, args=("err", child.stderr)),
        ]
        for reader in readers:
            reader.start()
        _pid, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - started
        for reader in readers:
            reader.join()
        child.returncode = os.waitstatus_to_exitcode(status)
        peak_kb = float(usage.ru_maxrss)
        if use_time:
            lines = [ln for ln in Path(report.name).read_text().split() if ln.isdigit()]
            peak_kb = float(lines[-1]) if lines else peak_kb
    return Run(seconds, peak_kb / 1024, child.returncode, out["out"], out["err"])


def measure(
    label: str, argv: Sequence[str], env: dict[str, str], runs: int, before: str = ""
) -> list[Run]:
    """Median wall time and peak RSS of ``runs`` runs; ``before`` names a folder to delete
    before each (a fresh catalog)."""
    done: list[Run] = []
    for _ in range(runs):
        if before:
            for suffix in ("", "-wal", "-shm", ".lock"):
                Path(before + suffix).unlink(missing_ok=True)
            shutil.rmtree(before + ".indexes", ignore_errors=True)
        run = run_once(argv, env)
        if run.returncode != 0:
            print(f"  {label}: exit {run.returncode}\n{run.stderr[-2000:]}", file=sys.stderr)
        done.append(run)
    seconds = statistics.median(r.seconds for r in done)
    peak = statistics.median(r.peak_mb for r in done)
    each = ", ".join(f"{r.seconds:.2f}" for r in done)
    print(f"{label:<48} {seconds:7.2f} s  {peak:7.0f} MB peak   (runs: {each})", flush=True)
    return done


# -- data ------------------------------------------------------------------------------


def text_photo(size: tuple[int, int], seed: int) -> Image.Image:
    """A photo-like picture with a few lines of large printed words (a sign, a poster)."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(60, 200, (size[1] // 64 + 2, size[0] // 64 + 2, 3), dtype=np.uint8)
    image = Image.fromarray(coarse).resize(size, Image.Resampling.BICUBIC)
    draw = ImageDraw.Draw(image)
    try:
        font: ImageFont.FreeTypeFont | ImageFont.ImageFont = ImageFont.load_default(size=44)
    except TypeError:
        font = ImageFont.load_default()
    y = size[1] // 5
    for line in range(3):
        words = " ".join(WORDS[(seed + line + k) % len(WORDS)].upper() for k in range(2))
        box = draw.textbbox((40, y), words, font=font)
        draw.rectangle((box[0] - 10, box[1] - 8, box[2] + 10, box[3] + 8), fill="white")
        draw.text((40, y), words, fill="black", font=font)
        y += 90
    return image


def make_library_tree(root: Path, files: int, images: int) -> None:
    """``files`` files in 20 folders: short text notes and ``images`` small photos."""
    rng = np.random.default_rng(11)
    folders = [root / f"folder{i:02d}" for i in range(20)]
    for folder in folders:
        folder.mkdir(parents=True)
    for i in range(files - images):
        words = " ".join(rng.choice(WORDS, size=6))
        (folders[i % 20] / f"note{i:05d}.txt").write_text(f"note {i}: {words}\n")
    photos = make_photos(root / "photos", images, (320, 240), seed=5)
    assert len(photos) == images


# -- import time -------------------------------------------------------------------------

_IMPORT_LINE = re.compile(r"import time:\s+(\d+)\s+\|\s+(\d+)\s+\|(\s*)(\S+)")


def import_profile(argv: Sequence[str], env: dict[str, str]) -> tuple[float, list[str], str]:
    """Total import seconds, the heavy libraries imported, and the five slowest top-level
    imports, from ``python -X importtime`` running the CLI with ``argv``."""
    code = (
        "import sys; from mmsearch.cli import main; sys.argv = ['mmsearch', *sys.argv[1:]]; main()"
    )
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code, *argv],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    top: list[tuple[int, str]] = []
    seen: set[str] = set()
    for line in done.stderr.splitlines():
        match = _IMPORT_LINE.match(line)
        if not match:
            continue
        cumulative, indent, name = int(match[2]), len(match[3]), match[4]
        seen.add(name.split(".")[0])
        if indent <= 1:
            top.append((cumulative, name))
    total = sum(c for c, _ in top) / 1e6
    slowest = ", ".join(f"{n} {c / 1e6:.2f}s" for c, n in sorted(top, reverse=True)[:5])
    return total, [h for h in HEAVY if h in seen], slowest


# -- main ------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="runs per figure (median)")
    parser.add_argument("--index-runs", type=int, default=2, help="runs per index figure")
    parser.add_argument("--files", type=int, default=1000, help="files in the re-scan library")
    parser.add_argument("--small", type=int, default=300, help="0.5 MP photos to index")
    parser.add_argument("--large", type=int, default=60, help="12 MP photos to index")
    parser.add_argument("--text-photos", type=int, default=40, help="photos with words (OCR)")
    parser.add_argument("--arch", default="ViT-B-32", help="open_clip architecture (random)")
    parser.add_argument("--only", default=",".join(SECTIONS), help="sections, comma-separated")
    parser.add_argument("--keep", type=Path, help="build the data here and keep it (reused)")
    parser.add_argument(
        "--no-bytecode-cache",
        action="store_true",
        help="leave PYTHONDONTWRITEBYTECODE as it is: every module of an editable install is "
        "compiled from source in every process (an installed wheel has its .pyc files)",
    )
    return parser.parse_args(argv)


def build(tmp: Path, args: argparse.Namespace, env: dict[str, str], cmd: list[str]) -> None:
    """The trees and the two seeded catalogs (skipped when ``--keep`` already holds them)."""
    tree = tmp / "library"
    if not tree.exists():
        make_library_tree(tree, args.files, images=50)
    for name, encoder in (("offline", ["--encoder", "offline"]), ("openclip", open_clip(args))):
        db = tmp / f"{name}.db"
        # A kept catalog is indexed once more, unchanged: it upgrades its schema (read-only
        # commands refuse an older one) and leaves whatever the model caches for later runs.
        started = time.perf_counter()
        kept = db.exists()
        run = run_once([*cmd, "index", str(tree), "--db", str(db), *encoder], env)
        if run.returncode != 0:
            sys.exit(f"seeding {db} failed:\n{run.stderr[-3000:]}")
        what = "re-indexed (kept)" if kept else "seeded"
        print(f"{what} {name}: {time.perf_counter() - started:.1f} s", flush=True)
        # One query, not timed: makes the ONNX text copy if the cache lacks one in this
        # version's format (torch loads once) and fills the bytecode cache.
        run = run_once([*cmd, "query", QUERY, "--db", str(db)], env)
        if run.returncode != 0:
            sys.exit(f"the warm-up query on {db} failed:\n{run.stderr[-3000:]}")
    if "index" in args.only:
        if not (tmp / "small").exists():
            make_photos(tmp / "small", args.small, (816, 612), seed=1)
        if not (tmp / "large").exists():
            make_photos(tmp / "large", args.large, (4000, 3000), seed=2)
        if not (tmp / "text").exists():
            (tmp / "text").mkdir()
            for i in range(args.text_photos):
                text_photo((816, 612), i).save(tmp / "text" / f"SIGN_{i:04d}.jpg", quality=90)


def open_clip(args: argparse.Namespace) -> list[str]:
    return ["--encoder", "open-clip", "--model", f"{args.arch}:random"]


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    args.only = set(args.only.split(","))
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "NO_COLOR": "1"}
    env.pop("MMSEARCH_DB", None)
    cmd = mmsearch_command()
    tmp = args.keep or Path(tempfile.mkdtemp(prefix="mmsearch-cold-"))
    tmp.mkdir(parents=True, exist_ok=True)
    env["MMSEARCH_HOME"] = str(tmp / "home")
    if not args.no_bytecode_cache:
        # As an installed mmsearch runs: compiled modules cached (here outside the tree, so
        # the checkout gets no __pycache__ folders); the seeding runs below fill the cache.
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(tmp / "pycache")
    print("bytecode cache:", "off" if args.no_bytecode_cache else env["PYTHONPYCACHEPREFIX"])
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    try:
        build(tmp, args, env, cmd)
        offline, openclip, tree = str(tmp / "offline.db"), str(tmp / "openclip.db"), tmp / "library"
        if "help" in args.only:
            measure("--help", [*cmd, "--help"], env, args.runs)
        if "status" in args.only:
            measure(
                f"status ({args.files} files)", [*cmd, "status", "--db", offline], env, args.runs
            )
        if "query" in args.only:
            for name, db in (("offline", offline), (f"open-clip {args.arch}", openclip)):
                measure(f"cold query, {name}", [*cmd, "query", QUERY, "--db", db], env, args.runs)
        if "rescan" in args.only:
            for name, db in (("offline", offline), (f"open-clip {args.arch}", openclip)):
                runs = measure(
                    f"unchanged re-scan {args.files} files, {name}",
                    [*cmd, "index", str(tree), "--db", db, "--json"],
                    env,
                    args.runs,
                )
                if '"unchanged": ' + str(args.files) not in runs[-1].stdout:
                    print(f"  (not all unchanged: {runs[-1].stdout[:300]})")
        if "index" in args.only:
            index_figures(tmp, args, env, cmd)
        if "importtime" in args.only:
            importtime_figures(offline, openclip, tree, env)
    finally:
        print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        if args.keep is None:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


def index_figures(tmp: Path, args: argparse.Namespace, env: dict[str, str], cmd: list[str]) -> None:
    fresh = str(tmp / "fresh.db")
    cases = [
        ("small", args.small, "0.5 MP"),
        ("large", args.large, "12 MP"),
    ]
    for folder, count, label in cases:
        for ocr in ("off", "on"):
            argv = [*cmd, "index", str(tmp / folder), "--db", fresh, *open_clip(args)]
            if ocr == "off":
                argv += ["--set", "ocr=off"]
            runs = measure(
                f"index {count} x {label}, OCR {ocr}", argv, env, args.index_runs, before=fresh
            )
            rate = count / statistics.median(r.seconds for r in runs)
            print(f"{'':<48} {rate:7.1f} images/s, whole command", flush=True)
    argv = [*cmd, "index", str(tmp / "text"), "--db", fresh, *open_clip(args)]
    runs = measure(
        f"index {args.text_photos} photos with words, OCR on", argv, env, 1, before=fresh
    )
    found = run_once([*cmd, "query", '"invoice"', "--db", fresh, "--json", "-k", "100"], env)
    hits = found.stdout.count('"path"')
    print(f"{'':<48} {args.text_photos / runs[0].seconds:7.1f} images/s; 'invoice' finds {hits}")


def importtime_figures(offline: str, openclip: str, tree: Path, env: dict[str, str]) -> None:
    print("\npython -X importtime (total of top-level imports; heavy libraries imported)")
    cases = [
        ("--help", ["--help"]),
        ("status", ["status", "--db", offline]),
        ("cold query, offline", ["query", QUERY, "--db", offline]),
        ("cold query, open-clip", ["query", QUERY, "--db", openclip]),
        ("unchanged re-scan, offline", ["index", str(tree), "--db", offline]),
        ("unchanged re-scan, open-clip", ["index", str(tree), "--db", openclip]),
    ]
    for label, argv in cases:
        total, heavy, slowest = import_profile(argv, env)
        print(f"{label:<30} {total:6.2f} s  heavy: {', '.join(heavy) or 'none'}")
        print(f"{'':<30} slowest: {slowest}")


if __name__ == "__main__":
    raise SystemExit(main())
