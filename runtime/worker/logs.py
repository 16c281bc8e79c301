"""Worker logging: records are buffered and written when the worker goes idle, not one write per record.

The per-request access line (Azure's inference server logs one for every /score) bypasses the logging machinery:
a LogRecord, caller lookup and strftime per request cost more than running a small model. It is written to the
same stream in the same format as the records around it.
"""

from __future__ import annotations

import logging
import time
from typing import TextIO

_ACCESS_LOGGER = logging.getLogger("azmlinfsrv")


class DeferredHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A stream handler that flushes only when told (the loop calls `flush_now` before it blocks)."""

    def flush(self) -> None:
        # StreamHandler flushes after every record; per-request access lines would then cost a write() each.
        pass

    def flush_now(self) -> None:
        """Write out everything buffered."""
        super().flush()

    def close(self) -> None:
        self.flush_now()
        super().close()


class _AccessSink:
    def __init__(self, stream: TextIO, name: str) -> None:
        self.stream = stream
        self.name = name
        self._second = -1
        self._stamp = ""

    def write(self, message: str) -> None:
        now = time.time()
        second = int(now)
        if second != self._second:
            self._second = second
            self._stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(second))
        millis = int((now - second) * 1000)
        self.stream.write(f"{self._stamp},{millis:03d} {self.name} INFO [azmlinfsrv] {message}\n")


_sink: _AccessSink | None = None


def install_access_log(handler: DeferredHandler, name: str) -> None:
    """Send access lines straight to `handler`'s stream, formatted as `%(asctime)s <name> %(levelname)s [..]`."""
    global _sink
    _sink = _AccessSink(handler.stream, name)


def access(message: str) -> None:
    """Log one access line at INFO on the `azmlinfsrv` logger's level."""
    if not _ACCESS_LOGGER.isEnabledFor(logging.INFO):
        return
    if _sink is None:
        _ACCESS_LOGGER.info("%s", message)
    else:
        _sink.write(message)
