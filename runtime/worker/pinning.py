"""Pin the worker to its cores before anything that starts threads (numpy, onnxruntime, the user's code)."""

from __future__ import annotations

import os


def parse_cores(text: str) -> set[int]:
    """Parse a core list such as "0,1" or "0-3,6"; raise ValueError if it is malformed or empty."""
    cores: set[int] = set()
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        first, dash, last = part.partition("-")
        if dash:
            low, high = int(first), int(last)
            if low > high:
                raise ValueError(f"core range {part!r} runs backwards")
            cores.update(range(low, high + 1))
        else:
            cores.add(int(first))
    if not cores or min(cores) < 0:
        raise ValueError(f"invalid core list {text!r}")
    return cores


def pin(cores: set[int]) -> None:
    """Restrict this process (and the threads it starts later) to `cores`."""
    os.sched_setaffinity(0, cores)
