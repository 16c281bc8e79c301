"""Requests a worker still holds after their caller stopped waiting for them (a request timeout).

A request that timed out keeps its worker busy until the worker answers it: counting it until then keeps the
stuck worker from looking idle to worker choice, and lets admission free the request's slot only when the
worker does. Sans-IO, so the accounting is tested without processes.
"""

from __future__ import annotations

from collections.abc import Callable


class Abandoned:
    """Ids of timed-out requests a worker has not answered yet, each with what to call once it does."""

    __slots__ = ("_release",)

    def __init__(self) -> None:
        self._release: dict[int, Callable[[], None]] = {}

    def __len__(self) -> int:
        return len(self._release)

    def add(self, rid: int, release: Callable[[], None] | None) -> None:
        """The caller of request `rid` gave up; `release` runs when the worker answers it or ends."""
        self._release[rid] = release or _nothing

    def answered(self, rid: int) -> bool:
        """The worker answered `rid`; True (and its release run) if it was an abandoned request."""
        release = self._release.pop(rid, None)
        if release is None:
            return False
        release()
        return True

    def clear(self) -> None:
        """The worker ended: nothing it held will be answered, so every abandoned request is released."""
        releases, self._release = list(self._release.values()), {}
        for release in releases:
            release()


def _nothing() -> None:
    pass
