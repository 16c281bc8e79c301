"""Which policy scales a deployment: its Azure Monitor autoscale setting, else its scale_settings, else none.

An enabled Azure Monitor setting wins over `scale_settings: target_utilization`, as a managed deployment in Azure
is scaled only by Azure Monitor; a disabled one leaves the deployment to its scale_settings.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from runtime.control.autoscale.decision import Decision, scale
from runtime.control.autoscale.rules import decide_rules
from runtime.control.autoscale.samples import LoadSample
from runtime.control.autoscale.setting import AutoscaleSetting
from runtime.control.autoscale.target import TargetPolicy, decide_target, target_policy
from runtime.spec import OnlineDeploymentSpec, TargetUtilizationScaleSettings


class FixedPolicy(msgspec.Struct, frozen=True, kw_only=True):
    """No autoscaling: the deployment runs `instance_count` instances."""

    instances: int


Policy = AutoscaleSetting | TargetPolicy | FixedPolicy


def policy_for(spec: OnlineDeploymentSpec, setting: AutoscaleSetting | None) -> Policy:
    """The policy that applies to a deployment with this spec and (maybe) an Azure Monitor autoscale setting."""
    if setting is not None and setting.enabled:
        return setting
    if isinstance(spec.scale_settings, TargetUtilizationScaleSettings):
        return target_policy(spec, spec.scale_settings)
    return FixedPolicy(instances=spec.instance_count)


def horizon_s(policy: Policy) -> float:
    """How far back the policy reads samples: the window the autoscaler loop must keep for it."""
    if isinstance(policy, AutoscaleSetting):
        windows = [r.metric_trigger.time_window_s for p in policy.profiles for r in p.rules]
        return max(windows, default=0.0)
    if isinstance(policy, TargetPolicy):
        return policy.horizon_s
    return 0.0


def decide(
    policy: Policy,
    *,
    now: float,
    current: int,
    deployment: Sequence[LoadSample],
    endpoint: Sequence[LoadSample] | None = None,
    previous: Decision | None = None,
) -> Decision:
    """What the policy decides now (see decide_rules and decide_target)."""
    if isinstance(policy, AutoscaleSetting):
        profile = policy.profile()
        return decide_rules(
            profile, now=now, current=current, deployment=deployment, endpoint=endpoint, previous=previous
        )
    if isinstance(policy, TargetPolicy):
        return decide_target(policy, deployment, now=now, current=current)
    return scale(now, "fixed", current, policy.instances, f"no autoscaling: instance_count is {policy.instances}")
