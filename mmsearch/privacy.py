"""Third-party telemetry, turned off: a local-first tool keeps nothing outside its catalog.

onnxruntime (loaded for OCR, and by faster-whisper's voice detection) ships with
Microsoft's 1DS telemetry on: on its first session it writes
``$XDG_CACHE_HOME/Microsoft/DeveloperTools/.onnxruntime/`` (else ``~/.cache/...``),
a ``deviceid`` and an ``onnxruntime.db`` of events holding the OS, the Python
executable's path, the CPU model and that device id, for upload. Its variable
``ORT_DISABLE_TELEMETRY=1``, read when onnxruntime is imported, stops the
uploader, the events and the device id for the process; the Python call
``onnxruntime.disable_telemetry_events()`` does not stop the files being written
(both measured with onnxruntime 1.32.0), so the variable is set before any plugin
can import onnxruntime: when :mod:`mmsearch` is imported.
"""

from __future__ import annotations

import os

__all__ = ["TELEMETRY_OFF", "turn_off_telemetry"]

TELEMETRY_OFF = {"ORT_DISABLE_TELEMETRY": "1"}
"""The environment that turns off the telemetry of the libraries plugins load."""


def turn_off_telemetry() -> None:
    """Set :data:`TELEMETRY_OFF` in this process's environment, where not set already.

    A value the user set is kept: ``ORT_DISABLE_TELEMETRY=0`` is a choice to share.
    """
    for name, value in TELEMETRY_OFF.items():
        os.environ.setdefault(name, value)
