"""Azure Monitor autoscale evaluation of one profile's rules, a pure function of samples and the clock.

As Azure Monitor evaluates a profile:
- The count is first kept within the profile's minimum and maximum.
- A scale action's cooldown blocks every scale action, in either direction, until it has passed.
- If any scale-out rule fires, the count goes to the largest result of the rules that fired.
- Otherwise the count goes in only when every scale-in rule fires, by the smallest step of theirs.
- Before a scale-in the metrics of the scale-out rules are projected onto the smaller count (575 x 3 / 2 per
  instance); if a scale-out rule would fire there the engine tries the counts between, and skips the scale-in
  when every one of them would flap.
- With no metric data at all and the count below the profile's default, the count goes to the default.

A rule "scale to N" is a scale-out rule while N is above the current count and a scale-in rule while it is below.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from runtime.control.autoscale import metrics
from runtime.control.autoscale.decision import Decision, hold, scale
from runtime.control.autoscale.grammar import SHORT_AGGREGATIONS, describe
from runtime.control.autoscale.samples import LoadSample, within
from runtime.control.autoscale.setting import Aggregation, Operator, Profile, ScaleAction, ScaleRule, Statistic

_COMPARE: dict[Operator, Callable[[float, float], bool]] = {
    "Equals": lambda v, t: v == t,
    "NotEquals": lambda v, t: v != t,
    "GreaterThan": lambda v, t: v > t,
    "GreaterThanOrEqual": lambda v, t: v >= t,
    "LessThan": lambda v, t: v < t,
    "LessThanOrEqual": lambda v, t: v <= t,
}
_REDUCE: dict[Statistic | Aggregation, Callable[[list[float]], float]] = {
    "Average": lambda vs: sum(vs) / len(vs),
    "Min": min,
    "Minimum": min,
    "Max": max,
    "Maximum": max,
    "Sum": sum,
    "Total": sum,
    "Count": lambda vs: float(len(vs)),
}


def metric_value(rule: ScaleRule, samples: Sequence[LoadSample], now: float) -> float | None:
    """The rule's metric over its time window: each time grain's samples by the statistic, then the grains by the
    time aggregation; None when the window holds no value of the metric.

    A grain longer than the window is taken as the window (local windows may be seconds, az's grain is 1m)."""
    trigger = rule.metric_trigger
    grain = min(trigger.time_grain_s, trigger.time_window_s)
    grains: dict[int, list[float]] = {}
    for sample in within(samples, now, trigger.time_window_s):
        value = metrics.read(trigger.metric_name, trigger.source, sample)
        if value is not None:
            grains.setdefault(int((now - sample.at) // grain), []).append(value)
    if not grains:
        return None
    points = [_REDUCE[trigger.statistic](values) for _, values in sorted(grains.items())]
    return _REDUCE[trigger.time_aggregation](points)


def result_of(action: ScaleAction, current: int) -> int:
    """The count a rule's action asks for from `current` (before the profile's limits)."""
    if action.type == "ExactCount":
        return action.value
    if action.type == "PercentChangeCount":
        # Rounded towards more capacity: up when adding, down when removing; always at least one instance.
        step = action.value * current / 100
        change = max(1, math.ceil(step) if action.direction == "Increase" else math.floor(step))
    else:
        change = action.value
    return current + change if action.direction == "Increase" else current - change


def decide_rules(
    profile: Profile,
    *,
    now: float,
    current: int,
    deployment: Sequence[LoadSample],
    endpoint: Sequence[LoadSample] | None = None,
    previous: Decision | None = None,
) -> Decision:
    """The count the profile's rules want now.

    `deployment` are the deployment's samples (oldest first, as a Window holds them), `endpoint` its endpoint's (for
    rules whose --resource is the endpoint; the deployment's own when None, as for an endpoint with one deployment);
    `previous` is the last decision, whose cooldown still holds."""
    cap = profile.capacity
    if current < cap.minimum:
        return scale(now, "azure_monitor", current, cap.minimum, f"below the profile's minimum of {cap.minimum}")
    if current > cap.maximum:
        return scale(now, "azure_monitor", current, cap.maximum, f"above the profile's maximum of {cap.maximum}")
    cooling = previous.cooldown_until if previous is not None else None
    if cooling is not None and now < cooling:
        return hold(now, "azure_monitor", current, f"cooling down for {cooling - now:.0f} s more", cooling)

    def samples(rule: ScaleRule) -> Sequence[LoadSample]:
        if rule.metric_trigger.source == "endpoint" and endpoint is not None:
            return endpoint
        return deployment

    values = [metric_value(rule, samples(rule), now) for rule in profile.rules]
    if all(v is None for v in values):
        if current < cap.default:
            return scale(
                now, "azure_monitor", current, cap.default, f"no metric data; the profile's default is {cap.default}"
            )
        return hold(now, "azure_monitor", current, "no metric data for any rule" if profile.rules else "no rules")

    def fires(rule: ScaleRule, value: float | None) -> bool:
        return value is not None and _compare(rule, value)

    def seen(rule: ScaleRule, value: float | None) -> str:
        agg = SHORT_AGGREGATIONS[rule.metric_trigger.time_aggregation]
        return f"{describe(rule.metric_trigger)} ({'no data' if value is None else f'{agg} {value:.1f}'})"

    indexed = list(zip(profile.rules, values, strict=True))
    outs = [(r, v) for r, v in indexed if _goes(r, current) == "out"]
    ins = [(r, v) for r, v in indexed if _goes(r, current) == "in"]

    fired_out = [(r, v) for r, v in outs if fires(r, v)]
    if fired_out:
        rule, value = max(fired_out, key=lambda rv: result_of(rv[0].scale_action, current))
        wanted = result_of(rule.scale_action, current)
        target = min(wanted, cap.maximum)
        agg = SHORT_AGGREGATIONS[rule.metric_trigger.time_aggregation]
        why = f"rule {describe(rule.metric_trigger)} fired ({agg} {value:.1f})"
        if target == current:
            return hold(now, "azure_monitor", current, f"{why}, but the profile's maximum is {cap.maximum}")
        if target < wanted:
            why += f" (capped at the profile's maximum of {cap.maximum})"
        return scale(now, "azure_monitor", current, target, why, now + rule.scale_action.cooldown_s)

    if not ins:
        return hold(now, "azure_monitor", current, "no rule fired: " + "; ".join(seen(r, v) for r, v in indexed))
    idle = [(r, v) for r, v in ins if not fires(r, v)]
    if idle:
        return hold(
            now,
            "azure_monitor",
            current,
            "no scale-out rule fired, and scale-in needs every scale-in rule to fire: "
            + "; ".join(f"{seen(r, v)} did not" for r, v in idle),
        )
    rule, _ = max(ins, key=lambda rv: result_of(rv[0].scale_action, current))
    wanted = max(result_of(rule.scale_action, current), cap.minimum)
    if wanted >= current:
        return hold(now, "azure_monitor", current, f"scale-in rules fired, but the profile's minimum is {cap.minimum}")
    if len(ins) == 1:
        only, value = ins[0]
        agg = SHORT_AGGREGATIONS[only.metric_trigger.time_aggregation]
        fired = f"rule {describe(only.metric_trigger)} fired ({agg} {value:.1f})"
    else:
        fired = "every scale-in rule fired: " + ", ".join(seen(r, v) for r, v in ins)
    flaps: list[str] = []
    for count in range(wanted, current):
        flap = _flap(outs, current, count)
        if flap is None:
            why = fired
            if flaps:
                why += f"; not to {wanted}, where {flaps[0]}"
            return scale(now, "azure_monitor", current, count, why, now + rule.scale_action.cooldown_s)
        flaps.append(flap)
    return hold(
        now,
        "azure_monitor",
        current,
        f"scale in to {wanted} skipped to avoid flapping: {flaps[0]}" + (f"; {flaps[-1]}" if len(flaps) > 1 else ""),
    )


def _compare(rule: ScaleRule, value: float) -> bool:
    """Whether the rule's condition holds for `value`, compared to a millionth so that 160 / 3 x 3 / 2 is 80."""
    return _COMPARE[rule.metric_trigger.operator](round(value, 6), rule.metric_trigger.threshold)


def _goes(rule: ScaleRule, current: int) -> str:
    """Which way a rule would move the count from `current`: out, in, or nowhere (a "to N" rule at N)."""
    action = rule.scale_action
    if action.direction == "Increase":
        return "out"
    if action.direction == "Decrease":
        return "in"
    return "out" if action.value > current else "in" if action.value < current else "none"


def _flap(outs: list[tuple[ScaleRule, float | None]], current: int, count: int) -> str | None:
    """Why going to `count` instances would scale straight out again (None when it would not)."""
    for rule, value in outs:
        trigger = rule.metric_trigger
        if rule.scale_action.direction == "None" and rule.scale_action.value <= count:
            continue  # "to N" at or below the new count: not a scale-out there
        if value is None:
            continue
        projected = metrics.project(trigger.metric_name, value, current, count)
        if _compare(rule, projected):
            agg = SHORT_AGGREGATIONS[trigger.time_aggregation]
            return f"rule {describe(trigger)} would fire ({agg} {value:.1f} on {current} is {projected:.1f} on {count})"
    return None
