"""The autoscaler in the controller's tasks: which deployments it scales, their load, and where decisions show.

Every Succeeded online deployment that a policy scales (an Azure Monitor autoscale setting, or `scale_settings:
target_utilization`) is sampled from the monitor's last reading and scaled in place by `scale_deployment`. The
last decision goes to `online-deployment show` (`autoscale`: current and target instances, the last decision and
why) and to the status snapshot.
"""

from __future__ import annotations

from typing import Any

import msgspec

from runtime.control.autoscale import Decision, FixedPolicy, Policy, TargetPolicy, decision_view
from runtime.control.autoscaler import Autoscaler, Scaled
from runtime.control.controller.autoscale import AutoscaleOps
from runtime.control.controller.core import ControllerCore
from runtime.control.controller.scaling import ScaleOps
from runtime.control.controller.status import StatusOps
from runtime.control.registry import DeploymentRecord
from runtime.status import AutoscaleStatus

#: How long target_utilization looks back before it removes instances (Kubernetes' default stabilization window).
SCALE_DOWN_STABILIZATION_S = 300.0


class AutoscalingOps:
    """Runs the autoscaler for the server's life: policies from `settings`, load from `status`, `scaling` acts."""

    def __init__(
        self,
        core: ControllerCore,
        scaling: ScaleOps,
        settings: AutoscaleOps,
        status: StatusOps,
        *,
        scale_down_stabilization_s: float = SCALE_DOWN_STABILIZATION_S,
    ) -> None:
        self._core = core
        self._scaling = scaling
        self._settings = settings
        self._status = status
        self._stabilization_s = scale_down_stabilization_s
        self.autoscaler = Autoscaler(deployments=self._scaled, scale=self._scale_for, on_decision=self._decided)

    def start(self) -> None:
        """Start the autoscaler among the server's tasks."""
        self._core.loop("autoscaler", self.autoscaler.run)

    def view(self, endpoint: str, name: str) -> dict[str, Any] | None:
        """`show`'s autoscale field: current and target counts and the last decision; None if no policy scales it."""
        if isinstance(self._policy(endpoint, name), FixedPolicy):
            return None
        current = self._core.sups[(endpoint, name)].instance_count if (endpoint, name) in self._core.sups else 0
        return decision_view(self.autoscaler.last(endpoint, name), current)

    def _policy(self, endpoint: str, name: str) -> Policy:
        return self._policy_of(self._core.registry.deployment(endpoint, name))

    def _policy_of(self, rec: DeploymentRecord) -> Policy:
        policy = self._settings.autoscale_policy_of(rec)
        if isinstance(policy, TargetPolicy):
            policy = msgspec.structs.replace(policy, stabilization_s=self._stabilization_s)
        return policy

    def _scaled(self, now: float) -> list[Scaled]:
        """The deployments a policy may scale now, each with its load from the monitor's last reading."""
        out = []
        for rec in self._core.registry.deployments():
            key = (rec.endpoint, rec.name)
            sup = self._core.sups.get(key)
            if sup is None or rec.state != "Succeeded" or key in self._core.busy:
                continue
            policy = self._policy_of(rec)
            load = (
                None
                if isinstance(policy, FixedPolicy)
                else self._status.monitor.load(self._status.online_input(rec), now)
            )
            out.append(
                Scaled(
                    endpoint=rec.endpoint, deployment=rec.name, instances=sup.instance_count, policy=policy, load=load
                )
            )
        return out

    async def _scale_for(self, endpoint: str, name: str, count: int, reason: str) -> None:
        await self._scaling.scale_deployment(endpoint, name, count, reason=reason)

    def _decided(self, endpoint: str, name: str, decision: Decision) -> None:
        counts = self.autoscaler.decisions.get((endpoint, name), {})
        self._status.monitor.autoscale[(endpoint, name)] = AutoscaleStatus(
            current=decision.current,
            target=decision.target,
            last_decision={"out": "scale_out", "in": "scale_in"}.get(decision.direction, "hold"),
            why=decision.reason,
            decided_at=decision.at,
            decisions={{"out": "scale_out", "in": "scale_in"}.get(k, "hold"): v for k, v in counts.items()},
        )
