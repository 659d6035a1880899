"""The warm CLI's fast path: a query a running server answers, before click is imported.

``mmsearch query`` and ``status`` with a server up take about 20 ms on the server; what the
user waits for is the process. Importing click and every command module (and, through them,
numpy) costs several times that, so the ``mmsearch`` entry point (:func:`mmsearch.cli.main`)
first asks :func:`answer`. It reads the arguments by a small grammar (``[--db PATH] query
TEXT [OPTIONS]`` with the query's own options, ``[--db PATH] status [--json]``), finds the
server for that catalog, asks it, and renders its answer with the same renderer the full
command uses (:mod:`mmsearch.cli.render`), so the output is byte for byte the same.

Anything it is not sure of gives None and the full CLI runs as before: another command, an
option it does not know (``-v``, ``--store``, ``--no-server``, ``-h``), a value click would
refuse (so click says why), option values set through ``MMSEARCH_QUERY_*`` variables, no
server, a server that is loading, failing or refusing the query (the full command then
shows click's usage error). Standard library only, like :mod:`.client`.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

TYPES = ("image", "audio", "text", "video")
FUSIONS = ("score", "rrf")
SIGNAL_CHOICES = ("both", "vector", "keyword")


class _Decline(Exception):
    """The fast path does not handle these arguments: the full CLI runs."""


def _choice(choices: Sequence[str]) -> Callable[[str], str]:
    def check(value: str) -> str:
        if value not in choices:
            raise _Decline
        return value

    return check


def _int_at_least(low: int) -> Callable[[str], int]:
    def check(value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            raise _Decline from None
        if number < low:
            raise _Decline
        return number

    return check


def _float_within(
    low: float | None = None, high: float | None = None, *, low_open: bool = False
) -> Callable[[str], float]:
    def check(value: str) -> float:
        try:
            number = float(value)
        except ValueError:
            raise _Decline from None
        if not math.isfinite(number):
            raise _Decline  # click's ranges and nan: let click decide
        if low is not None and (number <= low if low_open else number < low):
            raise _Decline
        if high is not None and number > high:
            raise _Decline
        return number

    return check


def _text(value: str) -> str:
    return value


# The options of `mmsearch query` (mmsearch/cli/search.py) by flag: (parameter, parse).
# Those in _MULTIPLE repeat; the others keep the last value given, as click does.
_QUERY_VALUES: dict[str, tuple[str, Callable[[str], Any]]] = {
    "-k": ("k", _int_at_least(1)),
    "--type": ("type", _choice(TYPES)),
    "--ext": ("ext", _text),
    "--path": ("path", _text),
    "--after": ("after", _text),
    "--before": ("before", _text),
    "--duration": ("duration", _text),
    "--in": ("in", os.path.abspath),
    "--fusion": ("fusion", _choice(FUSIONS)),
    "--signals": ("signals", _choice(SIGNAL_CHOICES)),
    "--min-score": ("min_score", _float_within()),
    "--rerank": ("rerank", _text),
    "--no-rerank": ("no_rerank", _text),
    "--diversity": ("diversity", _float_within(0.0, 1.0)),
    "--temperature": ("temperature", _float_within(0.0, low_open=True)),
    "--space": ("space", _text),
    "--max-image-megapixels": ("max_image_megapixels", _float_within(0.01)),
    "--image": ("image", _text),
    "--audio": ("audio", _text),
    "--db": ("db", _text),
}
_MULTIPLE = frozenset({"type", "ext", "path", "in", "rerank", "no_rerank", "space", "image",
                       "audio", "db"})  # fmt: skip
_QUERY_FLAGS = {
    "--show-weak": "show_weak",
    "--diverse": "diverse",
    "--json": "json",
    "--explain-plan": "explain_plan",
}
_STATUS_VALUES = {"--db": ("db", _text)}
_STATUS_FLAGS = {"--json": "json"}

# click reads every option of a command from MMSEARCH_<COMMAND>_<OPTION> (auto_envvar_prefix).
_ENV_PREFIXES = ("MMSEARCH_QUERY_", "MMSEARCH_STATUS_", "MMSEARCH_VERBOSE")


def answer(argv: Sequence[str], environ: Mapping[str, str] | None = None) -> int | None:
    """Print what a running server answers for ``argv`` and give the exit code (0).

    None (nothing printed) when the full CLI must run instead.
    """
    try:
        out, err = _answer(list(argv), os.environ if environ is None else environ)
    except Exception:  # _Decline, or any surprise: nothing is printed yet, the full CLI runs
        return None
    try:
        for line in err:
            sys.stderr.write(line + "\n")
        sys.stderr.flush()
        for line in out:
            sys.stdout.write(line + "\n")
        sys.stdout.flush()
    except BrokenPipeError:
        # `mmsearch query ... | head`: stop quietly, as a closed pipe means nobody reads on.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    return 0


def _answer(argv: list[str], environ: Mapping[str, str]) -> tuple[list[str], list[str]]:
    if any(name.startswith(_ENV_PREFIXES) for name in environ):
        raise _Decline
    group_db: list[str] = []
    while argv and (argv[0] == "--db" or argv[0].startswith("--db=")):
        argv, value = _take_value(argv)
        group_db.append(value)
    if not argv:
        raise _Decline
    command, rest = argv[0], argv[1:]
    if command == "query":
        given, positional = _parse(rest, _QUERY_VALUES, _QUERY_FLAGS)
    elif command == "status":
        given, positional = _parse(rest, _STATUS_VALUES, _STATUS_FLAGS)
        if positional:
            raise _Decline
    else:
        raise _Decline
    db = _catalog(group_db + list(given.pop("db", [])), environ)

    from mmsearch.serve import client

    server = client.find(db)
    if server is None:
        raise _Decline
    as_json = bool(given.pop("json", False))
    if command == "status":
        return _status(client.status(server), as_json)
    return _query(client, server, given, positional, as_json)


def _take_value(argv: list[str]) -> tuple[list[str], str]:
    """(the rest, the value) of ``--opt VALUE`` or ``--opt=VALUE`` at the head of argv."""
    head = argv[0]
    if "=" in head:
        return argv[1:], head.partition("=")[2]
    if len(argv) < 2:
        raise _Decline
    return argv[2:], argv[1]


def _parse(
    argv: list[str],
    values: Mapping[str, tuple[str, Callable[[str], Any]]],
    flags: Mapping[str, str],
) -> tuple[dict[str, Any], list[str]]:
    given: dict[str, Any] = {}
    positional: list[str] = []
    while argv:
        head = argv[0]
        name = head.partition("=")[0] if head.startswith("--") else head
        if name in values:
            argv, raw = _take_value(argv)
            key, parse = values[name]
            value = parse(raw)
            if key in _MULTIPLE:
                given.setdefault(key, []).append(value)
            else:
                given[key] = value
        elif head in flags:
            given[flags[head]] = True
            argv = argv[1:]
        elif head.startswith("-"):
            raise _Decline  # `--`, `-h`, `--no-server`, an unknown or mistyped option
        else:
            positional.append(head)
            argv = argv[1:]
    return given, positional


def _catalog(typed: list[str], environ: Mapping[str, str]) -> str | None:
    """The ``--db`` a command opens: the typed one (given once), else ``MMSEARCH_DB``."""
    if any(not value for value in typed):
        raise _Decline
    if len({os.path.abspath(os.path.expanduser(v)) for v in typed}) > 1:
        raise _Decline  # click says it is given twice
    chosen = typed[0] if typed else environ.get("MMSEARCH_DB") or None
    if chosen is not None and os.path.isdir(chosen):
        raise _Decline  # click refuses a folder
    return chosen  # None: the default location (MMSEARCH_HOME, else the user data folder)


def _status(shaped: dict[str, Any] | None, as_json: bool) -> tuple[list[str], list[str]]:
    if shaped is None:
        raise _Decline
    from mmsearch.cli.render import status_lines
    from mmsearch.shapes import dumps

    return ([dumps(shaped)] if as_json else status_lines(shaped)), []


def _query(
    client: Any, server: Any, given: dict[str, Any], positional: list[str], as_json: bool
) -> tuple[list[str], list[str]]:
    if len(positional) > 1:
        raise _Decline  # click: an unexpected extra argument
    text = positional[0] if positional else None
    images, audios = given.pop("image", []), given.pop("audio", [])
    if not (text and text.strip()) and not images and not audios:
        raise _Decline  # click's usage error
    explain_plan = bool(given.pop("explain_plan", False))
    # The same parameters as mmsearch/cli/search.py's `_ask_server` sends.
    params: dict[str, Any] = {
        "k": 10,
        "fusion": "score",
        "signals": "both",
        "max_image_megapixels": 100.0,
        **given,
    }
    examples = [("image", e) for e in images] + [("audio", e) for e in audios]
    try:
        shaped = client.search(server, text, examples, params, plan=explain_plan)
    except client.ServerRefusedError:
        raise _Decline from None  # the full command shows click's usage error
    if shaped is None:
        raise _Decline
    from mmsearch.safe_text import terminal_safe_lines
    from mmsearch.shapes import dumps

    if explain_plan:
        described = terminal_safe_lines("\n".join(shaped["described"]))
        return [dumps(shaped) if as_json else described], []
    if as_json:
        return [dumps(shaped)], []
    from mmsearch.cli.render import result_lines

    return result_lines(shaped)
