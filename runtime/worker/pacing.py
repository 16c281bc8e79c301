"""When the worker writes its finished answers: together, unless the next run could hold them too long.

Every write wakes the control process, and on a core the two processes share, each wake-up is a context switch
and a turn of the control's event loop for what could have been one. So the answers to requests read together are
written together, once the last of them is done, and the control process takes them all in one read. The one
exception is latency: an answer that is ready must not wait behind a run that may take long. The worker keeps the
durations of its last `WINDOW` runs, and writes what it holds before the next run unless every one of them was
short enough that the held answers still go out within `HOLD_BUDGET_S`. A worker that has not yet run `WINDOW`
requests, or whose script is sometimes slow, writes each answer before the next run starts, as before. Time a run
stood preempted by the other process on its core is not the run's (see `_unpreempted`).
"""

from __future__ import annotations

import math
import resource
import time
from collections import deque
from typing import Final

#: The longest an answer is held for the runs behind it, when recent runs say they are short.
HOLD_BUDGET_S: Final = 0.002
#: How many recent runs the prediction rests on.
WINDOW: Final = 16


class RunTimes:
    """The durations of the worker's recent runs."""

    def __init__(self, window: int = WINDOW, budget_s: float = HOLD_BUDGET_S) -> None:
        self._recent: deque[float] = deque(maxlen=window)
        self._budget_s = budget_s
        self._waits = 0  #: voluntary context switches at the start of the batch (batch_started)
        self._cpu = 0.0  #: this thread's CPU time at the start of the run

    def batch_started(self) -> None:
        """Requests read together are about to run."""
        self._waits = _voluntary_switches()

    def run_started(self) -> None:
        """A run begins now."""
        self._cpu = time.thread_time()

    def add(self, seconds: float) -> None:
        """Record the run that just ended, which took `seconds` by the wall clock."""
        if seconds > self._budget_s:
            cpu_s = time.thread_time() - self._cpu
            seconds = _unpreempted(seconds, cpu_s, _voluntary_switches() - self._waits)
        self._recent.append(seconds)

    def longest(self) -> float:
        """The longest of the recent runs; infinite until a full window is known."""
        recent = self._recent
        return max(recent) if len(recent) == recent.maxlen else math.inf


def _voluntary_switches() -> int:
    # Exact counts, where getrusage's CPU times are only as fine as the scheduler's tick.
    return resource.getrusage(resource.RUSAGE_THREAD).ru_nvcsw


def _unpreempted(wall_s: float, cpu_s: float, waits: int) -> float:
    """A run's duration with the time it stood preempted taken out, where that is all the wall clock adds.

    On a core shared with the control process a short run is often preempted midway and looks long. If the thread
    never waited of its own accord meanwhile (`waits`, its voluntary context switches since its batch began: no
    sleep, no I/O), every moment it did not compute it stood preempted, so its CPU time is its duration. A run
    that slept or waited on I/O keeps its wall time: that time is the run's own.
    """
    return min(wall_s, cpu_s) if waits == 0 else wall_s


def write_first(held_since: float | None, now: float, longest_run_s: float, budget_s: float = HOLD_BUDGET_S) -> bool:
    """Whether answers held since `held_since` must be written before a run that may take `longest_run_s`."""
    return held_since is not None and now - held_since + longest_run_s > budget_s
