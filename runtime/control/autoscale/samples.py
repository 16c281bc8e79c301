"""What the autoscale policies read: one snapshot of a deployment's load, and a bounded window of them."""

from __future__ import annotations

import bisect
from collections import deque
from collections.abc import Iterable, Sequence

import msgspec


class LoadSample(msgspec.Struct, frozen=True, kw_only=True):
    """A deployment's load at one moment, averaged over its instances (or the endpoint's, for endpoint metrics).

    `at` is seconds on the clock the policies are given (UNIX time, so decisions can be shown as dates). A value
    that could not be measured (no GPU, no request finished in the interval) is None: a rule on it has no data.
    """

    at: float
    instances: int  #: instances serving: the unit that autoscale adds or removes
    cpu_percent: float | None = None  #: CPU used, as % of the instances' own cores (0-100)
    memory_percent: float | None = None  #: memory used, as % of the instances' memory
    gpu_percent: float | None = None  #: None when the deployment has no GPU
    gpu_memory_percent: float | None = None
    in_flight_per_instance: float = 0.0  #: requests in flight, per instance
    requests_per_minute: float = 0.0
    latency_ms: float | None = None  #: mean request latency over the interval
    latency_ms_p50: float | None = None
    latency_ms_p90: float | None = None
    latency_ms_p95: float | None = None
    latency_ms_p99: float | None = None


class Window:
    """The most recent samples, oldest first: none older than `horizon_s` before the newest, at most `max_len`."""

    def __init__(self, horizon_s: float, max_len: int = 10_000, samples: Iterable[LoadSample] = ()) -> None:
        self.horizon_s = horizon_s
        self._samples: deque[LoadSample] = deque(maxlen=max_len)
        for sample in samples:
            self.add(sample)

    def add(self, sample: LoadSample) -> None:
        """Append a sample (a sample older than the newest is refused) and drop those past the horizon."""
        if self._samples and sample.at < self._samples[-1].at:
            raise ValueError(f"samples must come in time order: {sample.at} is before {self._samples[-1].at}")
        self._samples.append(sample)
        while self._samples and self._samples[0].at < sample.at - self.horizon_s:
            self._samples.popleft()

    def samples(self) -> tuple[LoadSample, ...]:
        """The samples held, oldest first."""
        return tuple(self._samples)

    def __len__(self) -> int:
        return len(self._samples)


def within(samples: Sequence[LoadSample], now: float, span_s: float) -> Sequence[LoadSample]:
    """The samples of the last `span_s` seconds up to `now` (`now - span_s < at <= now`) of samples oldest first."""
    low = bisect.bisect_right(samples, now - span_s, key=_at)
    return samples[low : bisect.bisect_right(samples, now, lo=low, key=_at)]


def _at(sample: LoadSample) -> float:
    return sample.at
