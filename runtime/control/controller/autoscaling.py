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
from runtime.control.controller.deployments import DeploymentOps
from runtime.control.controller.status import StatusOps
from runtime.control.registry import DeploymentRecord
from runtime.status import AutoscaleStatus

#: How long target_utilization looks back before it removes instances (Kubernetes' default stabilization window).
SCALE_DOWN_STABILIZATION_S = 300.0


class AutoscalingOps(DeploymentOps, StatusOps, AutoscaleOps):
    """Runs the autoscaler for the server's life."""

    def __init__(self, *args: Any, scale_down_stabilization_s: float = SCALE_DOWN_STABILIZATION_S, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._stabilization_s = scale_down_stabilization_s
        self.autoscaler = Autoscaler(deployments=self._scaled, scale=self._scale_for, on_decision=self._decided)

    async def start(self) -> None:
        """Start everything else, then the autoscaler."""
        await super().start()
        self._loop("autoscaler", self.autoscaler.run)

    def get_deployment(self, endpoint: str, name: str) -> dict[str, Any]:
        """online-deployment show, with the autoscaler's current and target counts and its last decision."""
        shown = super().get_deployment(endpoint, name)
        if not isinstance(self._policy(endpoint, name), FixedPolicy):
            current = self._sups[(endpoint, name)].instance_count if (endpoint, name) in self._sups else 0
            shown["autoscale"] = decision_view(self.autoscaler.last(endpoint, name), current)
        return shown

    def _policy(self, endpoint: str, name: str) -> Policy:
        return self._policy_of(self.registry.deployment(endpoint, name))

    def _policy_of(self, rec: DeploymentRecord) -> Policy:
        policy = self.autoscale_policy_of(rec)
        if isinstance(policy, TargetPolicy):
            policy = msgspec.structs.replace(policy, stabilization_s=self._stabilization_s)
        return policy

    def _scaled(self, now: float) -> list[Scaled]:
        """The deployments a policy may scale now, each with its load from the monitor's last reading."""
        out = []
        for rec in self.registry.deployments():
            key = (rec.endpoint, rec.name)
            sup = self._sups.get(key)
            if sup is None or rec.state != "Succeeded" or key in self._busy:
                continue
            policy = self._policy_of(rec)
            load = None if isinstance(policy, FixedPolicy) else self.monitor.load(self._online_input(rec), now)
            out.append(
                Scaled(
                    endpoint=rec.endpoint, deployment=rec.name, instances=sup.instance_count, policy=policy, load=load
                )
            )
        return out

    async def _scale_for(self, endpoint: str, name: str, count: int, reason: str) -> None:
        await self.scale_deployment(endpoint, name, count, reason=reason)

    def _decided(self, endpoint: str, name: str, decision: Decision) -> None:
        counts = self.autoscaler.decisions.get((endpoint, name), {})
        self.monitor.autoscale[(endpoint, name)] = AutoscaleStatus(
            current=decision.current,
            target=decision.target,
            last_decision={"out": "scale_out", "in": "scale_in"}.get(decision.direction, "hold"),
            why=decision.reason,
            decided_at=decision.at,
            decisions={{"out": "scale_out", "in": "scale_in"}.get(k, "hold"): v for k, v in counts.items()},
        )
