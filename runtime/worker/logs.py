"""Worker logging: log records are written at once, access lines are buffered until the worker goes idle.

The per-request access line (Azure's inference server logs one for every /score) bypasses the logging machinery:
a LogRecord, caller lookup and strftime per request cost more than running a small model, and a write() per
request would too. It goes into the same buffered stream, in the same format as the records around it. Records
(the user's logging calls, our errors) are flushed one by one so that a worker killed in the middle of run()
still leaves what it logged before it died.
"""

from __future__ import annotations

import logging
import time
from typing import TextIO

_ACCESS_LOGGER = logging.getLogger("azmlinfsrv")


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


def install_access_log(stream: TextIO, name: str) -> None:
    """Send access lines straight to `stream` (the log handler's), formatted as `%(asctime)s <name> %(levelname)s`."""
    global _sink
    _sink = _AccessSink(stream, name)


def access(message: str) -> None:
    """Log one access line at INFO on the `azmlinfsrv` logger's level."""
    if not _ACCESS_LOGGER.isEnabledFor(logging.INFO):
        return
    if _sink is None:
        _ACCESS_LOGGER.info("%s", message)
    else:
        _sink.write(message)
