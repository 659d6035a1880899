"""Text that came from files, shown faithfully: inert on a terminal, exact in JSON.

A file name, a transcript or the words read in an image may hold terminal
controls: ``ESC ]0;...BEL`` sets the window title, ``ESC [2J`` clears the screen,
OSC 52 writes the clipboard, a newline splits the line a name is shown on, and a
bidi override makes ``exe.txt`` read as ``txt.exe``. Plain output passes such
text through :func:`terminal_safe`; JSON keeps it exact (``json.dumps`` escapes
controls itself) and gives :func:`path_bytes_b64` for names that are not UTF-8.
"""

from __future__ import annotations

import base64
import logging
import re
from types import TracebackType

__all__ = ["SafeFormatter", "path_bytes_b64", "terminal_safe", "terminal_safe_lines"]

# C0 controls (newline and tab included: a shown name stays on one line), DEL, C1
# controls, the bidi embeddings, overrides and isolates, the line and paragraph
# separators, and lone surrogates (which cannot be encoded for printing at all).
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def terminal_safe(text: str) -> str:
    """``text`` with each control character shown as an escape (``\\x1b``, ``\\u202e``).

    Ordinary Unicode is kept as it is; the result is one line.
    """
    return _UNSAFE.sub(_escape, text)


def terminal_safe_lines(text: str) -> str:
    """Like :func:`terminal_safe`, keeping the newlines of a message of several lines."""
    return "\n".join(terminal_safe(line) for line in text.split("\n"))


def path_bytes_b64(raw: bytes | None) -> str | None:
    """Base64 of a path's bytes when they are not UTF-8, else None (the text is exact).

    A non-UTF-8 name is shown with ``\\xNN`` escapes, which cannot be opened; these
    bytes can (``open(base64.b64decode(value), "rb")``).
    """
    if raw is None:
        return None
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return base64.b64encode(raw).decode("ascii")
    return None


class SafeFormatter(logging.Formatter):
    """A log formatter for a terminal: messages name files, so they are made inert.

    The message is one line; a traceback (``-vv``) keeps its lines.
    """

    def formatMessage(self, record: logging.LogRecord) -> str:
        """The record's line, escaped."""
        return terminal_safe(super().formatMessage(record))

    def formatException(
        self,
        ei: tuple[type[BaseException], BaseException, TracebackType | None]
        | tuple[None, None, None],
    ) -> str:
        """The traceback, each line escaped."""
        return terminal_safe_lines(super().formatException(ei))

    def formatStack(self, stack_info: str) -> str:
        """The stack, each line escaped."""
        return terminal_safe_lines(super().formatStack(stack_info))
