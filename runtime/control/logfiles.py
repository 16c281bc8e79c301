"""Worker log files: reading their end without reading all of it, and keeping them to a bounded size."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable
from pathlib import Path

#: Bytes read per step when reading a log backwards.
_BLOCK = 64 * 1024

#: A worker log is rotated past this size, keeping one older part (`<name>.log.1`): at most twice this on disk
#: per instance. An access line per request is ~80 bytes, so a busy instance fills it in minutes, not hours.
MAX_LOG_BYTES = 64 * 2**20

#: get-logs returns at most this many lines, and reads at most this many bytes of a log to find them, so one call
#: costs a bounded, small amount of work however large the log (or the number asked for) is.
MAX_TAIL_LINES = 10_000
MAX_TAIL_BYTES = 16 * 2**20


def tail(path: Path, lines: int, *, max_lines: int = MAX_TAIL_LINES, max_bytes: int = MAX_TAIL_BYTES) -> str:
    """The last `lines` lines of a log, reaching into its rotated part if need be.

    The file is read backwards in blocks, so the work is linear in what is returned, not in the log's size. At most
    `max_lines` lines and `max_bytes` bytes are read; when either cap cuts the answer short, a first line says so.
    CRLF line ends read as LF; the last line need not end in a newline.
    """
    if lines <= 0:
        return ""
    want = min(lines, max_lines)
    kept, budget, short = _last_lines(path, want, max_bytes)
    older = rotated(path)
    if len(kept) < want and not short and budget > 0 and older.exists():
        before, budget, short = _last_lines(older, want - len(kept), budget)
        kept = before + kept
    text = "".join(line + "\n" for line in kept)
    notes = []
    if lines > max_lines:
        notes.append(f"at most {max_lines} lines are shown; {lines} were asked for")
    if short:
        size = f"{max_bytes // 2**20} MiB" if max_bytes % 2**20 == 0 else f"{max_bytes} bytes"
        notes.append(f"only the last {len(kept)} lines are shown: get-logs reads at most {size} of a log")
    return "".join(f"==== modelyard: {note} ====\n" for note in notes) + text


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


def _last_lines(path: Path, want: int, budget: int) -> tuple[list[str], int, bool]:
    """Up to `want` last lines of a file, reading at most `budget` bytes.

    Returns the lines, the budget left, and whether the budget ran out before `want` lines (or the file's start)
    were reached.
    """
    with open(path, "rb") as f:
        end = pos = f.seek(0, os.SEEK_END)
        blocks: list[bytes] = []
        breaks = 0  # newlines seen, not counting the one that ends the file
        while pos > 0 and breaks < want and budget > 0:
            step = min(_BLOCK, pos, budget)
            pos -= step
            budget -= step
            f.seek(pos)
            block = f.read(step)
            breaks += block.count(b"\n") - (1 if pos + step == end and block.endswith(b"\n") else 0)
            blocks.append(block)
    data = b"".join(reversed(blocks))
    if not data:
        return [], budget, False
    if data.endswith(b"\n"):
        data = data[:-1]
    found = data.split(b"\n")
    short = False
    if pos > 0:
        # The first piece starts mid-line (and perhaps mid-character): drop it.
        found = found[1:]
        short = len(found) < want
    return [line.decode("utf-8", errors="replace").removesuffix("\r") for line in found[-want:]], budget, short
