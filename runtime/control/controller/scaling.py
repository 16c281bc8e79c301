"""Scaling a deployment in place: more instances beside the running ones, or fewer by draining the last ones.

This is what `online-deployment update --set instance_count=N` does when nothing else changed (Azure changes the
count without a new version), and what the autoscaler and the dashboard call. New instances are placed by the
allocator's rules next to every other allocation (`--placement strict` refuses rather than shares) and join the
rotation as each passes readiness; removed ones leave the rotation at once and finish what they hold, so no
request fails. The deployment shows Updating meanwhile, and its stored instance_count follows, so a restart of
serve brings back the scaled count.
"""

from __future__ import annotations

import logging
import time

import msgspec

from runtime.control.controller.core import UPDATE_FAILED, ControllerCore, with_changes
from runtime.errors import Conflict, SpecError

log = logging.getLogger("modelyard.controller")

#: How long a drained instance may take to finish its requests, beyond the deployment's request timeout.
DRAIN_MARGIN_S = 1.0


class ScaleOps:
    """Changing a deployment's instance count without a new version."""

    def __init__(self, core: ControllerCore) -> None:
        self._core = core

    async def scale_deployment(self, endpoint: str, name: str, count: int, *, reason: str = "") -> None:
        """Run `count` instances of a Succeeded deployment; return once the new ones serve or the old ones went.

        A new instance whose init() fails leaves the count as it was and the deployment Failed with the reason,
        the running instances serving on, as a failed update does."""
        if count < 1:
            raise SpecError(f"instance_count {count} is not allowed; a deployment runs 1 or more instances")
        key = (endpoint, name)
        async with self._core.lock:
            rec = self._core.registry.deployment(endpoint, name)
            self._core.check_idle(key)
            sup = self._core.sups.get(key)
            if sup is None or rec.state != "Succeeded":
                raise Conflict(f"deployment {name!r} is {rec.state}; only a Succeeded deployment can be scaled")
            current = sup.instance_count
            if count == current:
                return
            notes = rec.notes
            if count > current:
                taken = [a for s in self._core.sups.values() for a in s.allocations]
                more, notes = self._core.place(rec, count - current, taken)
            self._core.busy.add(key)
            self._core.registry.set_deployment_state(endpoint, name, "Updating")
        why = f" ({reason})" if reason else ""
        log.info("%s/%s: scaling from %d to %d instances%s", endpoint, name, current, count, why)
        error: str | None = None
        try:
            if count > current:
                error = await sup.scale_out(more)
            else:
                grace = sup.spec.request_settings.request_timeout_ms / 1000 + DRAIN_MARGIN_S
                await sup.scale_in(count, grace)
        finally:
            async with self._core.lock:
                self._core.busy.discard(key)
                rec = self._core.registry.deployment(endpoint, name)
                spec = msgspec.structs.replace(rec.spec, instance_count=sup.instance_count)
                state, message = ("Succeeded", "") if error is None else ("Failed", UPDATE_FAILED + error)
                done = with_changes(rec, spec=spec, state=state, error=message, notes=notes, updated_at=time.time())
                self._core.registry.save_deployment(done)
                self._core.rebuild_routes()
