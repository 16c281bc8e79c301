"""When the worker writes its finished answers: together, unless the next run could hold them too long.

Every write wakes the control process, and on a core the two processes share, each wake-up is a context switch
and a turn of the control's event loop for what could have been one. So the answers to requests read together are
written together, once the last of them is done, and the control process takes them all in one read. The one
exception is latency: an answer that is ready must not wait behind a run that may take long. The worker keeps the
durations of its last `WINDOW` runs, and writes what it holds before the next run unless every one of them was
short enough that the held answers still go out within `HOLD_BUDGET_S`. A worker that has not yet run `WINDOW`
requests, or whose script is sometimes slow, writes each answer before the next run starts, as before.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Final

#: The longest an answer is held for the runs behind it, when recent runs say they are short.
HOLD_BUDGET_S: Final = 0.001
#: How many recent runs the prediction rests on.
WINDOW: Final = 16


class RunTimes:
    """The durations of the worker's recent runs."""

    def __init__(self, window: int = WINDOW) -> None:
        self._recent: deque[float] = deque(maxlen=window)

    def add(self, seconds: float) -> None:
        """Record one run's duration."""
        self._recent.append(seconds)

    def longest(self) -> float:
        """The longest of the recent runs; infinite until a full window is known."""
        recent = self._recent
        return max(recent) if len(recent) == recent.maxlen else math.inf


def write_first(held_since: float | None, now: float, longest_run_s: float, budget_s: float = HOLD_BUDGET_S) -> bool:
    """Whether answers held since `held_since` must be written before a run that may take `longest_run_s`."""
    return held_since is not None and now - held_since + longest_run_s > budget_s
