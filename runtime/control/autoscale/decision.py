"""What a policy decides each time it runs, and how `online-deployment show` prints the last decision."""

from __future__ import annotations

import datetime
from typing import Any, Literal

import msgspec

Direction = Literal["out", "in", "none"]
PolicyKind = Literal["azure_monitor", "target_utilization", "fixed"]


class Decision(msgspec.Struct, frozen=True, kw_only=True):
    """The instance count a policy wants now, and why, in words a user understands."""

    at: float  #: when it was decided, on the clock the policy was given (UNIX time)
    policy: PolicyKind
    current: int
    target: int
    direction: Direction
    reason: str  #: e.g. "scale out 1 -> 3: rule CpuUtilizationPercentage > 70 avg 5m fired (avg 92.4)"
    #: no scale action in either direction before this time (Azure Monitor rules' cooldown); None: not cooling down
    cooldown_until: float | None = None


def hold(at: float, policy: PolicyKind, current: int, reason: str, cooldown_until: float | None = None) -> Decision:
    """A decision to keep the current count."""
    return Decision(
        at=at,
        policy=policy,
        current=current,
        target=current,
        direction="none",
        reason=f"no change at {current}: {reason}",
        cooldown_until=cooldown_until,
    )


def scale(
    at: float, policy: PolicyKind, current: int, target: int, why: str, cooldown_until: float | None = None
) -> Decision:
    """A decision to go from `current` to `target` instances (hold when they are equal)."""
    if target == current:
        return hold(at, policy, current, why, cooldown_until)
    direction: Direction = "out" if target > current else "in"
    return Decision(
        at=at,
        policy=policy,
        current=current,
        target=target,
        direction=direction,
        reason=f"scale {direction} {current} -> {target}: {why}",
        cooldown_until=cooldown_until,
    )


def decision_view(decision: Decision | None, current: int) -> dict[str, Any]:
    """The autoscale fields `online-deployment show` prints: current and target counts, the last decision and why."""
    if decision is None:
        return {"current_instances": current, "target_instances": current, "last_decision": None}
    last: dict[str, Any] = {
        "time": _utc(decision.at),
        "policy": decision.policy,
        "direction": decision.direction,
        "from": decision.current,
        "to": decision.target,
        "reason": decision.reason,
    }
    if decision.cooldown_until is not None and decision.cooldown_until > decision.at:
        last["cooldown_until"] = _utc(decision.cooldown_until)
    return {"current_instances": current, "target_instances": decision.target, "last_decision": last}


def _utc(at: float) -> str:
    return datetime.datetime.fromtimestamp(at, datetime.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
