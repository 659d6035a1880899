"""Checking a pretrained tag without importing open_clip (the plugin's own table)."""

from __future__ import annotations

import json
import subprocess
import sys

import open_clip
import pytest
from mmsearch_open_clip import parse_choice
from mmsearch_open_clip.choice import TAGS_FILE, known_tags


def test_the_tag_table_is_open_clips_own() -> None:
    table = json.loads(TAGS_FILE.read_text(encoding="utf-8"))["tags"]
    live: dict[str, list[str]] = {}
    for arch, tag in open_clip.list_pretrained():
        live.setdefault(arch, []).append(tag)
    assert table == live, "regenerate pretrained_tags.json (see mmsearch_open_clip.choice)"


def test_a_known_tag_is_checked_in_a_fresh_process_without_importing_open_clip() -> None:
    probe = (
        "import json, sys\n"
        "from mmsearch_open_clip import OpenClipEncoder\n"
        "encoder = OpenClipEncoder('ViT-B-16:OpenAI')\n"
        "heavy = sorted(m for m in ('open_clip', 'torch', 'transformers') if m in sys.modules)\n"
        "print(json.dumps([encoder.checkpoint, heavy]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True
    )
    checkpoint, heavy = json.loads(done.stdout.strip().splitlines()[-1])
    assert checkpoint == "ViT-B-16:openai"
    assert heavy == []


def test_an_unknown_tag_is_refused_with_the_valid_ones() -> None:
    with pytest.raises(ValueError, match="no pretrained tag 'laion9000'") as refused:
        parse_choice("ViT-B-32:laion9000")
    assert all(tag in str(refused.value) for tag in known_tags("ViT-B-32"))


def test_a_tag_newer_than_the_table_is_asked_of_open_clip(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from mmsearch_open_clip import choice

    monkeypatch.setattr(choice, "known_tags", lambda arch: [])
    assert parse_choice("ViT-B-32:openai").checkpoint == "ViT-B-32:openai"
