"""Request counters and histograms the router records into, and rolling rates and quantiles read from them.

The data plane calls `DeploymentStats.finished` and `DeploymentStats.took` once per request: a dict increment
and a bisect into fixed buckets each, no locks (everything runs on the event loop) and no allocation beyond the
float of the duration. Everything derived (requests/s, p50/p99 over a recent window) is computed off the request
path by `Window.tick`, which the sampler loop calls about once a second.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections import deque
from collections.abc import Sequence

#: Histogram bucket upper bounds in seconds (Prometheus `le`), from well under a millisecond (a small model's
#: whole request) to a minute (Azure's request_timeout_ms tops out at 180 s; those land in +Inf).
BUCKETS: tuple[float, ...] = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
)


class Histogram:
    """Counts of observations per bucket (not cumulative; the last one is +Inf), and their sum."""

    __slots__ = ("bounds", "counts", "sum")

    def __init__(self, bounds: Sequence[float] = BUCKETS) -> None:
        self.bounds = tuple(bounds)
        self.counts = [0] * (len(self.bounds) + 1)
        self.sum = 0.0

    def observe(self, seconds: float) -> None:
        """Count one observation (Prometheus semantics: the first bucket whose bound is >= the value)."""
        self.counts[bisect_left(self.bounds, seconds)] += 1
        self.sum += seconds

    @property
    def count(self) -> int:
        """Observations so far."""
        return sum(self.counts)

    def cumulative(self) -> list[tuple[str, int]]:
        """(le, cumulative count) pairs ending with +Inf, as Prometheus exposes a histogram."""
        out: list[tuple[str, int]] = []
        total = 0
        for bound, n in zip((*self.bounds, math.inf), self.counts, strict=True):
            total += n
            out.append(("+Inf" if bound == math.inf else repr(bound), total))
        return out


def quantile(bounds: Sequence[float], counts: Sequence[int], q: float) -> float | None:
    """The q-quantile (0..1) of bucketed observations, interpolated inside its bucket as Prometheus does.

    None when there are no observations. A quantile in the +Inf bucket is reported as the highest bound.
    """
    total = sum(counts)
    if total <= 0:
        return None
    rank = q * total
    seen = 0
    for i, n in enumerate(counts):
        if n and seen + n >= rank:
            if i == len(bounds):
                return float(bounds[-1])
            lower = bounds[i - 1] if i else 0.0
            return lower + (bounds[i] - lower) * max(0.0, rank - seen) / n
        seen += n
    return float(bounds[-1])


class DeploymentStats:
    """Everything counted for one deployment of one endpoint since serve started."""

    __slots__ = ("endpoint", "deployment", "statuses", "duration", "queue_wait", "mirrored", "mirror_failures")

    def __init__(self, endpoint: str, deployment: str) -> None:
        self.endpoint = endpoint
        self.deployment = deployment  #: "" for requests refused before a deployment was chosen
        self.statuses: dict[int, int] = {}  #: responses by HTTP status
        self.duration = Histogram()  #: seconds from arrival at the router to the answer
        self.queue_wait = Histogram()  #: seconds from arrival until a worker began the request
        self.mirrored = 0  #: mirror copies sent to this deployment
        self.mirror_failures = 0

    # Both run once per request: Histogram.observe is inlined to save a call each.

    def finished(self, status: int, seconds: float) -> None:
        """One request answered with `status` after `seconds`."""
        statuses = self.statuses
        statuses[status] = statuses.get(status, 0) + 1
        h = self.duration
        h.counts[bisect_left(h.bounds, seconds)] += 1
        h.sum += seconds

    def took(self, seconds: float) -> None:
        """A worker began a request `seconds` after it arrived."""
        h = self.queue_wait
        h.counts[bisect_left(h.bounds, seconds)] += 1
        h.sum += seconds

    @property
    def requests(self) -> int:
        """Requests answered so far."""
        return sum(self.statuses.values())


class Window:
    """Rolling requests/s and p50/p99 of one DeploymentStats over the last `span_s` seconds, from periodic ticks.

    Each tick keeps the cumulative duration and queue-wait buckets with the time; the figures are the difference
    between the newest tick and the oldest one still inside the window, so they cost nothing per request.
    """

    def __init__(self, stats: DeploymentStats, span_s: float = 10.0) -> None:
        self.stats = stats
        self.span_s = span_s
        self._ticks: deque[tuple[float, tuple[int, ...], tuple[int, ...]]] = deque()
        self.requests_per_s = 0.0
        self.p50_s: float | None = None
        self.p99_s: float | None = None
        self.queue_wait_p99_s: float | None = None

    def tick(self, now: float) -> None:
        """Take a reading at monotonic time `now` and update the rolling figures."""
        self._ticks.append((now, tuple(self.stats.duration.counts), tuple(self.stats.queue_wait.counts)))
        # Keep one tick at or before the window's start, so the window spans span_s once it is full.
        while len(self._ticks) > 2 and self._ticks[1][0] <= now - self.span_s:
            self._ticks.popleft()
        then, old, old_wait = self._ticks[0]
        _, new, new_wait = self._ticks[-1]
        done = [b - a for a, b in zip(old, new, strict=True)]
        waited = [b - a for a, b in zip(old_wait, new_wait, strict=True)]
        elapsed = now - then
        self.requests_per_s = sum(done) / elapsed if elapsed > 0 else 0.0
        bounds = self.stats.duration.bounds
        self.p50_s = quantile(bounds, done, 0.5)
        self.p99_s = quantile(bounds, done, 0.99)
        self.queue_wait_p99_s = quantile(self.stats.queue_wait.bounds, waited, 0.99)
