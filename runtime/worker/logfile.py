"""The worker's log streams: lines that cannot be written (a full disk) are dropped and counted, never raised.

A worker's stdout, stderr and log handler all write to its log file. When that file takes no more bytes, a write
that raised would kill the worker at its next flush (or fail the user's print() inside run()), so a busy
deployment would crash-loop until there was room again. Here a failed write drops what it could not write, counts
the lines, and keeps serving; the first write that succeeds afterwards starts with one line saying how many lines
were lost and why.
"""

from __future__ import annotations

import io
import os
import threading
import time
from typing import TextIO


class _Losses:
    """What was dropped since the log last took a write; shared by every stream on the log file."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.lines = 0
        self.reason = ""
        #: Whether the file ends with a newline, so that the notice after a torn line starts on a line of its own.
        self.at_line_start = True
        self.name = "worker"


_losses = _Losses()


def lost_lines() -> int:
    """How many lines were dropped and not yet reported in the log."""
    return _losses.lines


class LossyFile(io.RawIOBase):
    """A raw writer on a file descriptor that drops what the descriptor refuses (counting lines) instead of raising."""

    def __init__(self, fd: int) -> None:
        super().__init__()
        self._fd = fd

    def writable(self) -> bool:
        """Always: it is a log."""
        return True

    def fileno(self) -> int:
        """The descriptor, for user code that writes to it directly."""
        return self._fd

    def isatty(self) -> bool:
        """Whether the descriptor is a terminal."""
        return os.isatty(self._fd)

    def write(self, b: object) -> int:
        """Write `b` (or what the descriptor takes of it), or drop what it refuses and report it all as written."""
        view = memoryview(b).cast("B")  # type: ignore[arg-type]
        if not _losses.lines:  # the common case, without the lock: the log takes writes
            try:
                written = os.write(self._fd, view)
            except OSError:
                pass  # the slow path tries again and drops what still cannot be written
            else:
                if written:
                    _losses.at_line_start = view[written - 1] == 0x0A
                return written  # a short write: the buffered writer calls again with the rest
        size = view.nbytes
        with _losses.lock:
            failed = self._report() if _losses.lines else None
            if failed is None:
                failed, view = self._write(view)
            if failed is not None:
                _losses.lines += _line_count(view.tobytes())
                _losses.reason = f"[Errno {failed.errno}] {failed.strerror}" if failed.strerror else str(failed)
        return size

    def _report(self) -> OSError | None:
        """Write the line about the lost lines; the error if the log still takes no writes."""
        now = time.time()
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(now)) + f",{int(now % 1 * 1000):03d}"
        start = "" if _losses.at_line_start else "\n"
        notice = (
            f"{start}{stamp} {_losses.name} WARNING [modelyard.worker] The log lost {_losses.lines} lines while "
            f"it could not be written ({_losses.reason}); it takes writes again\n"
        )
        failed, _ = self._write(memoryview(notice.encode()))
        if failed is None:
            _losses.lines = 0
        return failed

    def _write(self, view: memoryview) -> tuple[OSError | None, memoryview]:
        """Write all of `view`; on an error, the error and the part not written."""
        while view.nbytes:
            try:
                written = os.write(self._fd, view)
            except OSError as exc:
                return exc, view
            if written:
                _losses.at_line_start = view[written - 1] == 0x0A
            view = view[written:]
        return None, view


def _line_count(dropped: bytes) -> int:
    """Lines in what was dropped; a line cut short counts too."""
    return dropped.count(b"\n") + (not dropped.endswith(b"\n"))


def open_log(fd: int, *, buffering: int = io.DEFAULT_BUFFER_SIZE, line_buffering: bool = False) -> TextIO:
    """A text stream on `fd` that never raises for a write the file refuses; the descriptor stays open."""
    return io.TextIOWrapper(
        io.BufferedWriter(LossyFile(fd), buffering),
        encoding="utf-8",
        errors="backslashreplace",
        line_buffering=line_buffering,
        write_through=False,
    )


def set_name(name: str) -> None:
    """Name the worker in the line about lost lines, as every other log line names it."""
    _losses.name = name
