"""When a worker that died or failed to restart is tried again: exponential backoff, reset by a stable run.

A pure policy, as Kubernetes' CrashLoopBackOff is one: the supervisor asks it how long to wait before the next
start, giving it the clock's readings, so the rule is tested exactly without processes or sleeping.
"""

from __future__ import annotations

import msgspec

#: First restart delay after a worker dies; doubles on each failure in a row, up to MAX_BACKOFF.
FIRST_BACKOFF = 0.05
MAX_BACKOFF = 30.0
#: A worker that stayed up this long resets the backoff.
STABLE_AFTER = 30.0


class Backoff(msgspec.Struct, frozen=True):
    """The delay the next failure in a row waits."""

    delay: float = FIRST_BACKOFF

    def failed(self) -> tuple[float, Backoff]:
        """A start failed: wait `delay`, and the one after waits twice as long (up to MAX_BACKOFF)."""
        return self.delay, Backoff(min(self.delay * 2, MAX_BACKOFF))

    def exited(self, started_at: float, now: float) -> tuple[float, Backoff]:
        """A worker started at `started_at` ended at `now`: a run of STABLE_AFTER or more starts the count over."""
        current = Backoff() if now - started_at > STABLE_AFTER else self
        return current.failed()
