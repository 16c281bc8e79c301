"""Pure choices: a deployment by traffic weight, and a worker by outstanding requests.

The random source is passed in, so tests are exact.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Mapping, Sequence
from typing import Protocol, TypeVar


class WeightedTable:
    """A traffic map prepared for O(log n) weighted picks; names with weight 0 are never picked."""

    __slots__ = ("names", "_cumulative", "_total")

    def __init__(self, weights: Mapping[str, int]) -> None:
        self.names: tuple[str, ...] = tuple(sorted(n for n, w in weights.items() if w > 0))
        cumulative: list[int] = []
        total = 0
        for name in self.names:
            total += weights[name]
            cumulative.append(total)
        self._cumulative = cumulative
        self._total = total

    def pick(self, random: Callable[[], float]) -> str | None:
        """Return a name with probability weight/total, or None when nothing has positive weight."""
        if not self._total:
            return None
        point = random() * self._total
        return self.names[bisect.bisect_right(self._cumulative, point)]


def mirror_hit(percent: int, random: Callable[[], float]) -> bool:
    """True for a `percent` share of calls."""
    return percent > 0 and random() * 100 < percent


class Loaded(Protocol):
    """Anything with a count of requests in flight."""

    @property
    def inflight(self) -> int: ...


W = TypeVar("W", bound=Loaded)


def least_loaded(workers: Sequence[W], random: Callable[[], float]) -> W | None:
    """Power of two choices: sample two workers, keep the one with fewer requests in flight."""
    n = len(workers)
    if n == 0:
        return None
    if n == 1:
        return workers[0]
    i = int(random() * n)
    j = int(random() * (n - 1))
    if j >= i:
        j += 1
    a, b = workers[i], workers[j]
    return a if a.inflight <= b.inflight else b
