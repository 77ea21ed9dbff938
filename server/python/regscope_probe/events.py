"""Event output: one JSON object a line, `"v": 1`, on a channel the user's script cannot write to.

The harness moves the script's stdout to stderr at the file-descriptor level (C extensions and
subprocesses included) and keeps a private duplicate of the original stdout for events, so a
script that prints never corrupts the event stream. Only rank 0 of a distributed run emits.
"""
from __future__ import annotations

import json
import math
import os
import sys
import time
from typing import IO, Any, Dict, Optional

from . import EVENT_VERSION

_START = time.monotonic()


def _finite(value: Any) -> Any:
    """JSON has no NaN/inf: non-finite floats become null, recursively."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


class EventSink:
    """Writes events; a no-op on ranks other than 0."""

    def __init__(self, stream: Optional[IO[str]], enabled: bool = True):
        self._stream = stream
        self.enabled = enabled and stream is not None
        # Set on ranks other than 0 of a distributed run: their errors go to stderr, marked.
        self.other_rank = False

    @staticmethod
    def take_stdout() -> "EventSink":
        """Keep the real stdout for events and point fd 1 (and sys.stdout) at stderr."""
        sys.stdout.flush()
        events_fd = os.dup(1)
        os.dup2(2, 1)
        stream = os.fdopen(events_fd, "w", encoding="utf-8", buffering=1, newline="\n")
        return EventSink(stream)

    @staticmethod
    def to_file(path: str) -> "EventSink":
        return EventSink(open(path, "a", encoding="utf-8", buffering=1, newline="\n"))

    def emit(self, type_: str, **fields: Any) -> None:
        if not self.enabled or self._stream is None:
            if type_ == "error" and self.other_rank:
                from .distributed import report_rank_error
                report_rank_error(fields)
            return
        event: Dict[str, Any] = {"v": EVENT_VERSION, "type": type_, "t": round(time.monotonic() - _START, 4)}
        event.update(_finite(fields))
        try:
            self._stream.write(json.dumps(event, separators=(",", ":"), allow_nan=False) + "\n")
            self._stream.flush()
        except (OSError, ValueError):
            # The reader went away (cancelled run): nothing left to report to.
            self.enabled = False

    def close(self) -> None:
        if self._stream is not None:
            try:
                self._stream.flush()
                self._stream.close()
            except OSError:
                pass
            self._stream = None
            self.enabled = False
