"""Request deadlines of one worker on one timer, instead of an event-loop timer armed and cancelled per request.

The requests sent to a worker share the deployment's request_timeout_ms, so their deadlines come in order: a
deque keeps them, answered ones leave from its front as the answers come, and one timer is armed for the oldest.
A shorter timeout than those queued (not the router's case, but allowed) is inserted in order.
"""

from __future__ import annotations

import asyncio
import bisect
from collections import deque
from collections.abc import Callable
from typing import Any

#: What a deadline does to the future it guards when it passes first.
Expire = Callable[["asyncio.Future[Any]"], None]


class Deadlines:
    """Expires each future at its deadline unless it is done before."""

    __slots__ = ("_expire", "_loop", "_queue", "_timer")

    def __init__(self, loop: asyncio.AbstractEventLoop, expire: Expire) -> None:
        self._loop = loop
        self._expire = expire
        self._queue: deque[tuple[float, asyncio.Future[Any]]] = deque()
        self._timer: asyncio.TimerHandle | None = None

    def __len__(self) -> int:
        return len(self._queue)

    def add(self, fut: asyncio.Future[Any], timeout: float) -> None:
        """Expire `fut` in `timeout` seconds if it is not done by then."""
        entry = (self._loop.time() + timeout, fut)
        queue = self._queue
        if not queue or entry[0] >= queue[-1][0]:
            queue.append(entry)
        else:
            bisect.insort(queue, entry, key=_deadline)
            if queue[0] is entry and self._timer is not None:
                self._timer.cancel()
                self._timer = None
        if self._timer is None:
            self._timer = self._loop.call_at(queue[0][0], self._fire)

    def prune(self) -> None:
        """Drop the futures at the front that are done: called as answers arrive, it keeps the queue short."""
        queue = self._queue
        while queue and queue[0][1].done():
            queue.popleft()

    def _fire(self) -> None:
        self._timer = None
        now = self._loop.time()
        queue = self._queue
        while queue and (queue[0][0] <= now or queue[0][1].done()):
            _, fut = queue.popleft()
            if not fut.done():
                self._expire(fut)
        if queue:
            self._timer = self._loop.call_at(queue[0][0], self._fire)


def _deadline(entry: tuple[float, asyncio.Future[Any]]) -> float:
    return entry[0]
