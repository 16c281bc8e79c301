"""The autoscaler loop: samples each online deployment's load, asks its policy, and scales it in place.

Once a tick (a second) it takes one `LoadSample` per deployment that a policy scales (an Azure Monitor autoscale
setting, or `scale_settings: target_utilization`) into that deployment's window, and every polling interval asks
the policy (`runtime.control.autoscale.decide`, pure) for a count. A count other than the current one is applied
with the controller's in-place scaling (new instances beside the running ones, removed ones drained); while that
runs the deployment is not decided for again. Every decision that changes something, or says something new, is
logged with its reason, and the last one per deployment is kept for `online-deployment show` and the status
snapshot.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Awaitable, Callable

import msgspec

from runtime.control.autoscale import Decision, FixedPolicy, LoadSample, Policy, TargetPolicy, Window, decide
from runtime.control.autoscale import horizon_s as policy_horizon
from runtime.errors import ModelyardError

log = logging.getLogger("modelyard.autoscaler")

Key = tuple[str, str]


class Scaled(msgspec.Struct, frozen=True, kw_only=True):
    """A deployment the autoscaler may scale, as it stands now."""

    endpoint: str
    deployment: str
    instances: int  #: instances running
    policy: Policy
    load: LoadSample | None = None  #: its load now; None when there is no reading (or no policy to read it)


class Autoscaler:
    """Decides and applies instance counts for every autoscaled online deployment."""

    def __init__(
        self,
        *,
        deployments: Callable[[float], list[Scaled]],
        scale: Callable[[str, str, int, str], Awaitable[None]],
        clock: Callable[[], float] = time.time,
        tick_s: float = 1.0,
        on_decision: Callable[[str, str, Decision], None] = lambda endpoint, deployment, decision: None,
    ) -> None:
        self._deployments = deployments
        self._on_decision = on_decision
        self._scale = scale
        self._clock = clock
        self._tick_s = tick_s
        self._windows: dict[Key, Window] = {}
        self._last: dict[Key, Decision] = {}
        self._decided_at: dict[Key, float] = {}
        self._scaling: dict[Key, asyncio.Task[None]] = {}
        self.decisions: dict[Key, dict[str, int]] = {}  #: decisions taken so far per deployment, by direction

    def last(self, endpoint: str, deployment: str) -> Decision | None:
        """The last decision for a deployment; None before the first, or when no policy scales it."""
        return self._last.get((endpoint, deployment))

    async def run(self) -> None:
        """Tick until cancelled; then wait for the scalings under way to finish."""
        try:
            while True:
                self.tick()
                await asyncio.sleep(self._tick_s)
        finally:
            tasks = list(self._scaling.values())
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    def tick(self) -> None:
        """Sample every scaled deployment, and decide for those whose polling interval has come."""
        now = self._clock()
        seen: set[Key] = set()
        for dep in self._deployments(now):
            key = (dep.endpoint, dep.deployment)
            if isinstance(dep.policy, FixedPolicy):
                continue
            seen.add(key)
            window = self._window(key, dep.policy)
            if dep.load is not None:
                window.add(dep.load)
            if key in self._scaling or now - self._decided_at.get(key, -math.inf) < _interval(dep.policy):
                continue
            self._decided_at[key] = now
            decision = decide(
                dep.policy, now=now, current=dep.instances, deployment=window.samples(), previous=self._last.get(key)
            )
            self._record(key, decision)
            if decision.target != dep.instances:
                self._apply(key, decision)
        for gone in set(self._windows) - seen:  # deleted, or no policy scales it any more
            self._windows.pop(gone, None)
            self._last.pop(gone, None)
            self._decided_at.pop(gone, None)

    def _window(self, key: Key, policy: Policy) -> Window:
        horizon = policy_horizon(policy) + 2 * _interval(policy)
        window = self._windows.get(key)
        if window is None or window.horizon_s != horizon:
            window = Window(horizon, samples=window.samples() if window is not None else ())
            self._windows[key] = window
        return window

    def _record(self, key: Key, decision: Decision) -> None:
        previous = self._last.get(key)
        self._last[key] = decision
        counts = self.decisions.setdefault(key, {})
        counts[decision.direction] = counts.get(decision.direction, 0) + 1
        if decision.direction != "none" or previous is None or previous.reason != decision.reason:
            log.info("%s/%s: %s", *key, decision.reason)
        self._on_decision(*key, decision)

    def _apply(self, key: Key, decision: Decision) -> None:
        async def scale() -> None:
            try:
                await self._scale(*key, decision.target, decision.reason)
            except ModelyardError as exc:  # e.g. an update under way: the next decision tries again
                log.warning("%s/%s: could not scale to %d: %s", *key, decision.target, exc.message)
            finally:
                self._scaling.pop(key, None)

        task = asyncio.get_running_loop().create_task(scale(), name=f"autoscale {key[0]}/{key[1]}")
        self._scaling[key] = task
        task.add_done_callback(_log_crash)


def _interval(policy: Policy) -> float:
    """How often the policy decides: target_utilization's polling_interval; Azure Monitor rules every tick (their
    time windows and cooldown pace them)."""
    if isinstance(policy, TargetPolicy):
        return policy.polling_interval_s
    return 0.0


def _log_crash(task: asyncio.Task[None]) -> None:
    with contextlib.suppress(asyncio.CancelledError):
        if task.exception() is not None:
            log.error("scaling failed unexpectedly", exc_info=task.exception())
