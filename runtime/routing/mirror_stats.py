"""What mirror copies did, counted per endpoint, mirror deployment and minute until the store takes it.

Latencies go into fixed log-spaced buckets, so the p50 and p99 of any window come from summed counts (minutes
merge by adding), at the cost of a bucket's width (about 10 %) in precision.
"""

from __future__ import annotations

import bisect
import math
import time
from collections import deque
from collections.abc import Callable, Sequence

import msgspec

from runtime.routing.compare import Verdict

#: Upper bounds of the latency buckets in ms: 24 a decade from 0.1 ms to 100 s; one more bucket holds the rest.
LATENCY_BOUNDS_MS: tuple[float, ...] = tuple(0.1 * 10 ** (i / 24) for i in range(6 * 24 + 1))
#: How much of each body a sample keeps.
SAMPLE_BYTES = 512
#: Disagreements kept per endpoint and mirror deployment, newest last.
SAMPLES_KEPT = 20

Key = tuple[str, str, int]  #: (the endpoint's uid, mirror deployment, minute since the epoch)


def latency_bucket(ms: float) -> int:
    """The bucket a latency falls in."""
    return bisect.bisect_left(LATENCY_BOUNDS_MS, ms)


def percentile(counts: Sequence[int], q: float) -> float:
    """The q-quantile (0..1) of the latencies counted in `counts`, as its bucket's upper bound; 0 without any."""
    total = sum(counts)
    if total == 0:
        return 0.0
    rank = max(1, math.ceil(q * total))
    seen = 0
    for i, n in enumerate(counts):
        seen += n
        if seen >= rank:
            return LATENCY_BOUNDS_MS[min(i, len(LATENCY_BOUNDS_MS) - 1)]
    return LATENCY_BOUNDS_MS[-1]


class Tally(msgspec.Struct, kw_only=True):
    """The counts of one endpoint, mirror deployment and minute.

    Not frozen: it is an accumulator, added to in place on every copy; the store keeps it as JSON.
    """

    mirrored: int = 0  #: copies sent
    dropped: int = 0  #: copies the mirror's admission refused (it was saturated)
    errors: dict[str, int] = msgspec.field(default_factory=dict)  #: copies that got no answer, by error code
    compared: int = 0  #: pairs where both sides answered
    agreed: int = 0
    score_sum: float = 0.0  #: sum of the pairs' scores, for the mean per-pair agreement
    status_mismatches: int = 0
    live_ms: list[int] = msgspec.field(default_factory=list)  #: latency bucket counts over compared pairs
    shadow_ms: list[int] = msgspec.field(default_factory=list)

    def add(self, other: Tally) -> None:
        """Add another tally's counts to this one."""
        self.mirrored += other.mirrored
        self.dropped += other.dropped
        for code, n in other.errors.items():
            self.errors[code] = self.errors.get(code, 0) + n
        self.compared += other.compared
        self.agreed += other.agreed
        self.score_sum += other.score_sum
        self.status_mismatches += other.status_mismatches
        _add_counts(self.live_ms, other.live_ms)
        _add_counts(self.shadow_ms, other.shadow_ms)


class Side(msgspec.Struct, frozen=True):
    """One side of a sample: the status and the start of the body."""

    status: int
    body: str  #: decoded as UTF-8 (bad bytes replaced), cut at SAMPLE_BYTES with a marker


class Sample(msgspec.Struct, frozen=True):
    """One recent disagreement."""

    at: float  #: Unix time of the comparison
    request_id: str
    deployment: str  #: the mirror deployment
    score: float
    diff: str  #: where the two first differ
    live: Side
    shadow: Side


class MirrorLog:
    """In-memory counts and samples since the store last took them."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self.tallies: dict[Key, Tally] = {}
        self.samples: dict[tuple[str, str], deque[Sample]] = {}

    def sent(self, endpoint: str, shadow: str) -> None:
        """A copy went out to the mirror."""
        self._tally(endpoint, shadow).mirrored += 1

    def dropped(self, endpoint: str, shadow: str) -> None:
        """The mirror's admission refused a copy."""
        self._tally(endpoint, shadow).dropped += 1

    def failed(self, endpoint: str, shadow: str, code: str) -> None:
        """The mirror gave no answer (no instance, timeout, worker lost, ...)."""
        errors = self._tally(endpoint, shadow).errors
        errors[code] = errors.get(code, 0) + 1

    def compared(
        self,
        endpoint: str,
        shadow: str,
        verdict: Verdict,
        live: tuple[int, bytes, float],
        mirror: tuple[int, bytes, float],
        request_id: str,
    ) -> None:
        """Both sides answered: `live` and `mirror` are (status, body, latency in ms)."""
        tally = self._tally(endpoint, shadow)
        tally.compared += 1
        tally.score_sum += verdict.score
        _bump(tally.live_ms, latency_bucket(live[2]))
        _bump(tally.shadow_ms, latency_bucket(mirror[2]))
        if verdict.agreed:
            tally.agreed += 1
            return
        tally.status_mismatches += verdict.status_mismatch
        ring = self.samples.setdefault((endpoint, shadow), deque(maxlen=SAMPLES_KEPT))
        ring.append(
            Sample(
                at=self._clock(),
                request_id=request_id,
                deployment=shadow,
                score=verdict.score,
                diff=verdict.diff,
                live=Side(live[0], truncated(live[1])),
                shadow=Side(mirror[0], truncated(mirror[1])),
            )
        )

    def take(self) -> tuple[dict[Key, Tally], list[tuple[str, Sample]]]:
        """Everything counted since the last take, as (tallies, [(endpoint, sample)]); the log starts empty."""
        tallies, self.tallies = self.tallies, {}
        samples = [(endpoint, s) for (endpoint, _), ring in self.samples.items() for s in ring]
        self.samples = {}
        return tallies, samples

    def put_back(self, tallies: dict[Key, Tally], samples: list[tuple[str, Sample]]) -> None:
        """Return what `take` gave, when the store could not take it, to what was counted since."""
        for key, tally in tallies.items():
            self.tallies.setdefault(key, Tally()).add(tally)
        for endpoint, sample in reversed(samples):  # older ones go in front of those counted since
            ring = self.samples.setdefault((endpoint, sample.deployment), deque(maxlen=SAMPLES_KEPT))
            if len(ring) < SAMPLES_KEPT:
                ring.appendleft(sample)

    def drop(self, endpoint: str) -> None:
        """Forget what was counted for an endpoint (it was deleted)."""
        self.tallies = {k: t for k, t in self.tallies.items() if k[0] != endpoint}
        self.samples = {k: s for k, s in self.samples.items() if k[0] != endpoint}

    def _tally(self, endpoint: str, shadow: str) -> Tally:
        key = (endpoint, shadow, int(self._clock() // 60))
        tally = self.tallies.get(key)
        if tally is None:
            tally = self.tallies[key] = Tally()
        return tally


def truncated(body: bytes) -> str:
    """The start of a body as text, with a marker saying how much was cut."""
    if len(body) <= SAMPLE_BYTES:
        return body.decode("utf-8", "replace")
    head = body[:SAMPLE_BYTES].decode("utf-8", "ignore")  # "ignore": a character cut in two is dropped whole
    return f"{head}...[truncated: {len(body)} bytes in all]"


def _bump(counts: list[int], i: int) -> None:
    if len(counts) <= i:
        counts.extend([0] * (i + 1 - len(counts)))
    counts[i] += 1


def _add_counts(into: list[int], other: list[int]) -> None:
    if len(into) < len(other):
        into.extend([0] * (len(other) - len(into)))
    for i, n in enumerate(other):
        into[i] += n
