"""The `scale_settings: {type: target_utilization}` policy: Kubernetes' horizontal pod autoscaler on the busiest
of CPU, GPU and in-flight utilization, as a pure function of samples and the clock.

- Utilization of an instance: CPU % of its cores, GPU %, and requests in flight as % of
  `max_concurrent_requests_per_instance`; the busiest of the three counts.
- desired = ceil(load / target), where load is the mean over the metric window of instances x utilization
  (ceil(current x metric / target) while the count holds still).
- Within the tolerance band (10 %, Kubernetes' default) of the target nothing changes.
- Scale-up is at once, by at most 100 % or 4 instances per decision (Kubernetes' default rate).
- Scale-down takes the highest count wanted over the stabilization window (300 s by default), so a dip does not
  remove instances that the next peak needs.
- Always within min_instances and max_instances.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import msgspec

from runtime.control.autoscale.decision import Decision, hold, scale
from runtime.control.autoscale.samples import LoadSample, within
from runtime.spec import OnlineDeploymentSpec, TargetUtilizationScaleSettings


class TargetPolicy(msgspec.Struct, frozen=True, kw_only=True):
    """The target_utilization settings, with the Kubernetes defaults the YAML does not expose."""

    min_instances: int = 1
    max_instances: int = 1
    target_percent: float = 70.0
    concurrency: int = 1  #: max_concurrent_requests_per_instance: 100 % in-flight utilization
    polling_interval_s: float = 1.0  #: how often the loop should decide
    tolerance: float = 0.1
    metric_window_s: float = 15.0  #: metrics are averaged over this long before they count
    stabilization_s: float = 300.0  #: scale-down takes the highest count wanted over this long

    @property
    def horizon_s(self) -> float:
        """How much history a decision reads: the samples the loop must keep."""
        return self.stabilization_s + self.metric_window_s


def target_policy(spec: OnlineDeploymentSpec, settings: TargetUtilizationScaleSettings) -> TargetPolicy:
    """The policy of a deployment's target_utilization scale settings."""
    return TargetPolicy(
        min_instances=settings.min_instances,
        max_instances=settings.max_instances,
        target_percent=float(settings.target_utilization_percentage),
        concurrency=spec.request_settings.max_concurrent_requests_per_instance,
        polling_interval_s=float(settings.polling_interval),
    )


def _loads(policy: TargetPolicy, samples: Sequence[LoadSample]) -> dict[str, float]:
    """Mean of instances x utilization (%) per metric over `samples`; metrics never measured are left out."""
    per: dict[str, list[float]] = {"cpu": [], "gpu": [], "in-flight": []}
    for s in samples:
        if s.cpu_percent is not None:
            per["cpu"].append(s.instances * s.cpu_percent)
        if s.gpu_percent is not None:
            per["gpu"].append(s.instances * s.gpu_percent)
        per["in-flight"].append(s.instances * 100.0 * s.in_flight_per_instance / policy.concurrency)
    return {name: sum(v) / len(v) for name, v in per.items() if v}


def _wanted(policy: TargetPolicy, samples: Sequence[LoadSample], current: int) -> tuple[int, str, float] | None:
    """The count the busiest metric wants, the metric's name and its mean utilization per instance."""
    loads = _loads(policy, samples)
    if not loads:
        return None
    name, load = max(loads.items(), key=lambda kv: kv[1])
    instances = sum(s.instances for s in samples) / len(samples)
    per_instance = load / instances if instances else 0.0
    if abs(load / (current * policy.target_percent) - 1) <= policy.tolerance:
        return current, name, per_instance
    return math.ceil(load / policy.target_percent - 1e-9), name, per_instance


def decide_target(policy: TargetPolicy, samples: Sequence[LoadSample], *, now: float, current: int) -> Decision:
    """The count the policy wants now; `samples` are oldest first (a Window's) and reach `policy.horizon_s` back."""
    low, high = policy.min_instances, policy.max_instances
    if current < low:
        return scale(now, "target_utilization", current, low, f"below min_instances {low}")
    if current > high:
        return scale(now, "target_utilization", current, high, f"above max_instances {high}")
    recent = within(samples, now, policy.metric_window_s)
    wanted = _wanted(policy, recent, current)
    if wanted is None:
        return hold(now, "target_utilization", current, f"no metrics in the last {policy.metric_window_s:g} s")
    desired, name, per_instance = wanted
    seen = (
        f"{name} averages {per_instance:.1f} % per instance over the last {policy.metric_window_s:g} s "
        f"(target {policy.target_percent:g} %)"
    )
    if desired == current:
        return hold(now, "target_utilization", current, f"{seen}, within the {policy.tolerance:.0%} tolerance")
    if desired > current:
        step = max(2 * current, current + 4)
        target = min(desired, step, high)
        if target == current:
            return hold(now, "target_utilization", current, f"{seen}: {desired} wanted, but max_instances is {high}")
        limits = " (at most 100 % or 4 more per decision)" if target == step < min(desired, high) else ""
        capped = f" (max_instances {high})" if target == high < desired else ""
        return scale(now, "target_utilization", current, target, f"{seen}: {desired} wanted{capped}{limits}")
    # Scale-down: the highest count wanted at any moment of the stabilization window, each from its own recent past.
    highest, when = max(desired, low), now
    for sample in within(samples, now, policy.stabilization_s):
        past = _wanted(policy, within(samples, sample.at, policy.metric_window_s), current)
        if past is not None and past[0] > highest:
            highest, when = past[0], sample.at
    target = min(highest, current)
    if target == current:
        return hold(
            now,
            "target_utilization",
            current,
            f"{seen}: {max(desired, low)} would do, but {highest} were wanted {now - when:.0f} s ago "
            f"(scale-down waits out the {policy.stabilization_s:g} s stabilization window)",
        )
    if highest > max(desired, low):
        why = f"{seen}: {desired} would do, and at most {highest} were wanted in the last {policy.stabilization_s:g} s"
    else:
        why = f"{seen}: {target} wanted" + (f" (min_instances {low})" if target == low > desired else "")
    return scale(now, "target_utilization", current, target, why)
