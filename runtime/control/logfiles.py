"""Reading the end of a worker's log file without reading all of it."""

from __future__ import annotations

from pathlib import Path

_BLOCK = 8192


def tail(path: Path, lines: int) -> str:
    """The last `lines` lines of a file (read backwards in blocks), each ending in a newline."""
    if lines <= 0:
        return ""
    with open(path, "rb") as f:
        pos = f.seek(0, 2)
        data = b""
        while pos > 0 and data.count(b"\n") <= lines:
            step = min(_BLOCK, pos)
            pos -= step
            f.seek(pos)
            data = f.read(step) + data
    kept = data.decode("utf-8", errors="replace").splitlines()[-lines:]
    return "".join(line + "\n" for line in kept)
