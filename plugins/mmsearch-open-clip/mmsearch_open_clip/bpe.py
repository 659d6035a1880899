"""CLIP's byte-pair tokenizer without importing open_clip (which imports torch).

A cold query needs only token ids, and ``open_clip.tokenizer`` imports torch and, through
the package, transformers: seconds before the first token. This is the same algorithm as
open_clip's ``SimpleTokenizer`` with its defaults (``clean="lower"``, no reduction mask),
after OpenAI's CLIP (MIT licence), reading open_clip's own vocabulary file in place, so
the two cannot drift apart; ``tests/test_open_clip_onnx.py`` checks that both give the
same ids. Architectures whose configs name another tokenizer (a Hugging Face one, a
reduction mask) are not handled here: :func:`supports` says so and the torch path is used.
"""

from __future__ import annotations

import gzip
import html
import importlib.util
import itertools
import json
from functools import cache
from pathlib import Path

import numpy as np
import numpy.typing as npt
import regex  # type: ignore[import-untyped]

CONTEXT_LENGTH = 77
_MERGES = 49152 - 256 - 2
_SPECIAL = ("<start_of_text>", "<end_of_text>")
_NEVER = 1 << 62  # the rank of a pair that is not a merge


def _open_clip_folder() -> Path | None:
    spec = importlib.util.find_spec("open_clip")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def vocabulary_file() -> Path | None:
    """open_clip's BPE merges file, found without importing open_clip."""
    folder = _open_clip_folder()
    path = folder / "bpe_simple_vocab_16e6.txt.gz" if folder else None
    return path if path is not None and path.is_file() else None


def supports(config: dict[str, object]) -> bool:
    """Whether an architecture's JSON config uses the tokenizer implemented here."""
    text = config.get("text_cfg")
    if not isinstance(text, dict):
        return False
    if text.get("hf_tokenizer_name") or text.get("tokenizer_kwargs"):
        return False
    return int(text.get("context_length", CONTEXT_LENGTH)) == CONTEXT_LENGTH


def _bytes_to_unicode() -> dict[int, str]:
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1)]
    printable += list(range(ord("®"), ord("ÿ") + 1))
    codes = printable[:]
    extra = 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            codes.append(256 + extra)
            extra += 1
    return dict(zip(printable, (chr(c) for c in codes), strict=True))


_PLAIN = frozenset(chr(c) for c in range(0x20, 0x7F)) - {"&"} | {"\t", "\n", "\r"}
"""Characters ftfy leaves alone (apart from line breaks, which become spaces anyway): a
text made only of them skips importing ftfy (60 ms of a cold query)."""


def _fix_text(text: str) -> str:
    if _PLAIN.issuperset(text):
        return text
    import ftfy  # mojibake, entities, control characters, compatibility forms

    return str(ftfy.fix_text(text))


def _clean(text: str) -> str:
    text = html.unescape(html.unescape(_fix_text(text))).strip()
    return " ".join(text.split()).strip().lower()


class ClipTokenizer:
    """Texts to ``(n, 77)`` int64 token ids, exactly as open_clip's default tokenizer."""

    def __init__(self, merges_file: Path) -> None:
        with gzip.open(merges_file) as handle:
            lines = handle.read().decode("utf-8").split("\n")[1 : _MERGES + 1]
        self.byte_encoder = _bytes_to_unicode()
        vocab = list(self.byte_encoder.values())
        vocab += [v + "</w>" for v in vocab]
        vocab += [line.replace(" ", "") for line in lines]  # a merge's two halves joined
        vocab += list(_SPECIAL)
        self.encoder = dict(zip(vocab, itertools.count(), strict=False))
        # Ranks keyed by the merge's own line ("first second"), not by a tuple per merge:
        # building 49k tuples was a third of this constructor, paid by every cold query.
        self.ranks = dict(zip(lines, itertools.count(), strict=False))
        self.sot, self.eot = self.encoder[_SPECIAL[0]], self.encoder[_SPECIAL[1]]
        self._cache: dict[str, str] = {t: t for t in _SPECIAL}
        self._pattern = regex.compile(
            "|".join(_SPECIAL) + r"""|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+""",
            regex.IGNORECASE,
        )

    def _bpe(self, token: str) -> str:
        if token in self._cache:
            return self._cache[token]
        word: tuple[str, ...] = (*token[:-1], token[-1] + "</w>")
        while len(word) > 1:
            pairs = {f"{a} {b}" for a, b in itertools.pairwise(word)}
            best = min(pairs, key=lambda pair: self.ranks.get(pair, _NEVER))
            if best not in self.ranks:
                break
            first, second = best.split(" ")
            word = _merge(word, (first, second))
        joined = " ".join(word)
        self._cache[token] = joined
        return joined

    def encode(self, text: str) -> list[int]:
        """The BPE ids of one text, without the start and end tokens."""
        ids: list[int] = []
        for token in regex.findall(self._pattern, _clean(text)):
            mapped = "".join(self.byte_encoder[b] for b in token.encode("utf-8"))
            ids.extend(self.encoder[piece] for piece in self._bpe(mapped).split(" "))
        return ids

    def __call__(self, texts: list[str]) -> npt.NDArray[np.int64]:
        """Rows of ``CONTEXT_LENGTH`` ids: start, the text's ids, end, zeros; a text too long
        is cut and ends with the end token, as open_clip does."""
        out = np.zeros((len(texts), CONTEXT_LENGTH), dtype=np.int64)
        for row, text in enumerate(texts):
            ids = [self.sot, *self.encode(text), self.eot]
            if len(ids) > CONTEXT_LENGTH:
                ids = [*ids[: CONTEXT_LENGTH - 1], self.eot]
            out[row, : len(ids)] = ids
        return out


def _merge(word: tuple[str, ...], pair: tuple[str, ...]) -> tuple[str, ...]:
    first, second = pair
    merged: list[str] = []
    i = 0
    while i < len(word):
        if i < len(word) - 1 and word[i] == first and word[i + 1] == second:
            merged.append(first + second)
            i += 2
        else:
            merged.append(word[i])
            i += 1
    return tuple(merged)


@cache
def tokenizer() -> ClipTokenizer | None:
    """The shared tokenizer, or None when open_clip's vocabulary file is not installed."""
    path = vocabulary_file()
    return ClipTokenizer(path) if path is not None else None


def arch_config(path: Path) -> dict[str, object]:
    """An architecture's JSON config (the file :mod:`mmsearch_open_clip.configs` found)."""
    loaded = json.loads(path.read_text(encoding="utf-8"))
    return loaded if isinstance(loaded, dict) else {}
