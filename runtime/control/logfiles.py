"""Worker log files: reading their end without reading all of it, and keeping them to a bounded size."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable
from pathlib import Path

_BLOCK = 8192

#: A worker log is rotated past this size, keeping one older part (`<name>.log.1`): at most twice this on disk
#: per instance. An access line per request is ~80 bytes, so a busy instance fills it in minutes, not hours.
MAX_LOG_BYTES = 64 * 2**20


def tail(path: Path, lines: int) -> str:
    """The last `lines` lines of a log (read backwards in blocks, reaching into its rotated part if need be)."""
    if lines <= 0:
        return ""
    kept = _last_lines(path, lines)
    older = rotated(path)
    if len(kept) < lines and older.exists():
        kept = _last_lines(older, lines - len(kept)) + kept
    return "".join(line + "\n" for line in kept)


def rotated(path: Path) -> Path:
    """Where `rotate` keeps the older part of a log."""
    return path.with_name(path.name + ".1")


def rotate(path: Path, max_bytes: int = MAX_LOG_BYTES) -> bool:
    """If the log is over `max_bytes`, move its content to the rotated part and empty it; whether it did.

    The worker keeps its file open in append mode, so the file is copied and truncated in place rather than
    renamed: the worker's next line lands at the start of the emptied file. A line written between the copy and
    the truncation is lost, as with logrotate's copytruncate.
    """
    try:
        if path.stat().st_size <= max_bytes:
            return False
        shutil.copyfile(path, rotated(path))
        os.truncate(path, 0)
    except FileNotFoundError:  # the deployment was deleted meanwhile
        return False
    return True


def rotate_all(logs: Iterable[Path], max_bytes: int = MAX_LOG_BYTES) -> list[Path]:
    """Rotate every log over `max_bytes`; the ones rotated."""
    return [path for path in logs if rotate(path, max_bytes)]


def _last_lines(path: Path, lines: int) -> list[str]:
    with open(path, "rb") as f:
        pos = f.seek(0, 2)
        data = b""
        while pos > 0 and data.count(b"\n") <= lines:
            step = min(_BLOCK, pos)
            pos -= step
            f.seek(pos)
            data = f.read(step) + data
    return data.decode("utf-8", errors="replace").splitlines()[-lines:]
