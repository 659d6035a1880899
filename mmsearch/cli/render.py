"""Plain output of ``query`` and ``status``, rendered from their JSON shapes.

The in-process commands and the thin client (which gets the same shapes from a running
server) both print through here, so their output is the same by construction. Nothing
heavy is imported: the client path must stay small.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mmsearch.safe_text import terminal_safe


def result_lines(shaped: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    """A query's answer as (stdout lines, stderr lines), from :func:`shapes.search_json`."""
    hits = shaped["results"]
    if not shaped["plan"]["spaces"]:
        return [], ["No results: nothing is indexed yet. Run `mmsearch index FOLDER`."]
    weak = shaped.get("best_weak")
    if not hits and weak is not None and weak.get("level") == "probable":
        # Hiding a likely-right answer reads as "broken": show it, marked as unsure.
        lines = format_hit(weak).splitlines()
        lines[0] = "probably: " + lines[0].lstrip()
        return lines, [
            "Not confident: this answer is below the confidence threshold but above the "
            "probable bar or well ahead of the next file "
            '(docs/querying.md, "The confidence gate"). --show-weak lists more.'
        ]
    if not hits and weak is not None:
        return [], [
            f"No confident match. The nearest was {terminal_safe(weak['path'])} "
            f"({why_line(weak)}), below the threshold. Use --show-weak to list weak results, "
            "or --min-score to set the bar."
        ]
    if not hits:
        return [], ["No results: no indexed file passes the filters."]
    return [format_hit(hit) for hit in hits], []


def why_line(hit: Mapping[str, Any]) -> str:
    """The short ``why`` of a hit, escaped: its matched words came from the file."""
    return terminal_safe(short_why(hit["why"]))


def short_why(why: Mapping[str, Any]) -> str:
    """One line: the signals with their calibrated scores, words, and pushes down."""
    pieces = []
    for signal in why.get("signals", []):
        name = str(signal["signal"]).removeprefix("vector:")
        shown = f"{name} {signal['calibrated']:.1f}"
        if signal["signal"] == "keyword" and signal.get("matched"):
            shown += " [" + ", ".join(signal["matched"]) + "]"
        pieces.append(shown + ("*" if signal.get("cleared") else ""))
    line = ", ".join(pieces)
    pushed = why.get("pushed_down") or []
    if pushed:
        parts = sorted({str(p["part"]) for p in pushed})
        line += "; pushed down by " + ", ".join(f"-{p}" for p in parts)
    copies = why.get("copies") or []
    if copies:
        line += f"; {len(copies)} cop{'y' if len(copies) == 1 else 'ies'}"
    return line


def format_hit(hit: Mapping[str, Any]) -> str:
    """A hit in two or three lines: score, type, path, moment; why; the matched text.

    What came from the file (its name, its words) is escaped for the terminal.
    """
    segment = hit["segment"]
    start, end = segment["start"], segment["end"]
    where = ""
    if start is not None:
        where = f" at {clock(start)}" + (f"-{clock(end)}" if end else "")
    level = hit.get("level", "confident" if hit["confident"] else "weak")
    weak = {"confident": "", "probable": "  (probably)"}.get(level, "  (weak)")
    path = terminal_safe(hit["path"])
    lines = [f"{hit['score']:6.2f}  {hit['modality']:<5}  {path}{where}{weak}"]
    lines.append(f"        why: {why_line(hit)}")
    text = segment["text"]
    if text and hit["modality"] != "image":
        words = " ".join(text.split())
        shown = terminal_safe(words[:100])  # cut first, so no escape is cut in two
        lines.append(f'        "{shown}{"..." if len(words) > 100 else ""}"')
    return "\n".join(lines)


def clock(seconds: float) -> str:
    """Seconds as m:ss or h:mm:ss."""
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def status_lines(shaped: Mapping[str, Any]) -> list[str]:
    """``mmsearch status`` in plain lines, from :func:`shapes.status_json`."""
    lines = [f"catalog: {terminal_safe(shaped['catalog'])}"]
    for root in shaped["roots"]:
        lines.append(f"root: {terminal_safe(root['path'])} ({root['items']} files)")
    for media_type, counts in sorted(shaped["items"].items()):
        parts = ", ".join(f"{n} {state}" for state, n in sorted(counts.items()))
        lines.append(f"{media_type}: {parts}")
    for space in shaped["spaces"]:
        mark = " (active)" if space["active"] else ""
        index = space["index"]
        health = index["state"] + (f": {index['detail']}" if index.get("detail") else "")
        lines.append(
            f"space {space['id']}{mark}: {space['encoder']} {space['dim']}-d, "
            f"{space['vectors']} vectors, index {health}"
        )
        lines.append(f"  store {index['store']}: {describe_index(index)}")
    return lines


def describe_index(health: Mapping[str, Any]) -> str:
    """One line: the index's kind, size, build time and measured recall."""
    parts = [health.get("kind") or "unknown kind"]
    if health.get("size_bytes") is not None:
        parts.append(f"{health['size_bytes'] / 1e6:.1f} MB on disk")
    if health.get("build_seconds") is not None:
        parts.append(f"built in {health['build_seconds']:.1f} s")
    if health.get("recall") is not None:
        parts.append(f"recall@10 {health['recall']:.3f} on a sample")
    return ", ".join(parts)
