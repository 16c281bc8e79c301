"""Mirror traffic: copies of live requests sent to the shadow deployment, and their answers compared off the path.

The live request never awaits its copy. It hands over a future that it sets once it has its own answer (or
error); the copy's task awaits that future only after the shadow has answered, and compares then. A slow,
failing, saturated or dead shadow therefore changes nothing for the caller, and the shadow's admission limit
bounds how many copies wait on it: a copy it refuses is counted as dropped.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from time import monotonic
from typing import TYPE_CHECKING, Protocol

from runtime.errors import Code, ModelyardError, Overloaded
from runtime.ipc.messages import Failure, Headers, Result
from runtime.routing.compare import compare
from runtime.routing.mirror_stats import MirrorLog
from runtime.spec.tolerance import Tolerances

if TYPE_CHECKING:
    from runtime.routing.router import DeploymentRoute

log = logging.getLogger("modelyard.router")

#: What one side of a mirrored request gave: the status the client would get, the body, the latency in ms.
LiveOutcome = tuple[int, bytes, float]


class Send(Protocol):
    """The router's admission-checked send to one deployment."""

    def __call__(
        self, dep: DeploymentRoute, method: str, path: str, query: str, headers: Headers, body: bytes, max_body: int
    ) -> Awaitable[Result | Failure]: ...


class Mirror:
    """Sends mirror copies in background tasks and records what they gave in `log`."""

    def __init__(self, send: Send) -> None:
        self._send = send
        self.log = MirrorLog()
        self.copies = 0  #: mirror copies sent
        self.failures = 0  #: copies refused, failed, or answered with another status than 200
        self._background: set[asyncio.Task[None]] = set()

    def start(
        self,
        endpoint: str,
        tolerances: Tolerances,
        dep: DeploymentRoute,
        method: str,
        path: str,
        query: str,
        headers: Headers,
        body: bytes,
        max_body: int,
        request_id: str,
    ) -> asyncio.Future[LiveOutcome | None]:
        """Send a copy in the background, counted under `endpoint` (its uid); the caller sets the future returned
        to its outcome, or to None without one."""
        loop = asyncio.get_running_loop()
        live: asyncio.Future[LiveOutcome | None] = loop.create_future()
        copy = self._copy(endpoint, tolerances, dep, live, (method, path, query, headers, body, max_body), request_id)
        task = loop.create_task(copy)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return live

    async def _copy(
        self,
        endpoint: str,
        tolerances: Tolerances,
        dep: DeploymentRoute,
        live: asyncio.Future[LiveOutcome | None],
        request: tuple[str, str, str, Headers, bytes, int],
        request_id: str,
    ) -> None:
        self.copies += 1
        dep.stats.mirrored += 1
        self.log.sent(endpoint, dep.name)
        sent = monotonic()
        try:
            answer = await self._send(dep, *request)
        except ModelyardError as exc:
            self._failed(dep, exc.message)
            if isinstance(exc, Overloaded):
                self.log.dropped(endpoint, dep.name)
            else:
                self.log.failed(endpoint, dep.name, exc.code.value)
            return
        if isinstance(answer, Failure):
            self._failed(dep, answer.message)
            self.log.failed(endpoint, dep.name, _code_name(answer.code))
            return
        if answer.status != 200:
            self.failures += 1
            dep.stats.mirror_failures += 1
        shadow = (answer.status, answer.body, (monotonic() - sent) * 1000)
        outcome = await live
        if outcome is None:
            return
        verdict = compare(outcome[0], outcome[1], shadow[0], shadow[1], tolerances)
        self.log.compared(endpoint, dep.name, verdict, outcome, shadow, request_id)

    def _failed(self, dep: DeploymentRoute, message: str) -> None:
        self.failures += 1
        dep.stats.mirror_failures += 1
        # A saturated shadow refuses copies by the thousand; a line for each would drown the server log.
        if self.failures == 1 or self.failures % 1000 == 0:
            log.info("mirror copy to %s failed: %s (%d mirror copies failed so far)", dep.name, message, self.failures)


def _code_name(value: str) -> str:
    try:
        return Code(value).value
    except ValueError:
        return Code.INTERNAL.value
