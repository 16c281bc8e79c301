"""The scoring timeout: TimeoutError inside a run() that outlives it, from SIGALRM, with no system call per run.

Azure's server arms and disarms a timer around every run(), two system calls that cost more than the rest of the
front of a small request. Here the timer is left running between runs: a run that starts while it is armed
needs nothing, since the timer was set by an earlier run and goes off before this run's deadline. When it goes
off, the handler looks at the run in progress: past its deadline, TimeoutError; not yet, the timer is set again
for the time left; no run, it stays off until the next run starts. So a busy worker takes one signal per timeout
period instead of two system calls per request.
"""

from __future__ import annotations

import signal
from time import monotonic
from types import FrameType


class ScoringAlarm:
    """Raises TimeoutError in the main thread when the run between start() and stop() outlives `timeout_s`."""

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self._started: float | None = None  #: when the run in progress began
        self._armed = False
        self._installed = False

    def start(self) -> None:
        """A run begins now; call from the main thread, just before it."""
        self._started = monotonic()
        if not self._armed:
            if not self._installed:
                signal.signal(signal.SIGALRM, self._ring)
                self._installed = True
            self._armed = True
            signal.setitimer(signal.ITIMER_REAL, self.timeout_s)

    def stop(self) -> None:
        """The run has ended (returned or raised)."""
        self._started = None

    def _ring(self, signum: int, frame: FrameType | None) -> None:
        started = self._started
        if started is None:
            self._armed = False  # idle: the next run arms it again
            return
        left = started + self.timeout_s - monotonic()
        if left > 0:
            signal.setitimer(signal.ITIMER_REAL, left)
            return
        self._armed = False
        self._started = None
        raise TimeoutError
