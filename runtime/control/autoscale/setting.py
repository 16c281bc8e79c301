"""An Azure Monitor autoscale setting as stored: its target, one profile (capacity and rules), enabled or not.

Times are kept in seconds; `arm.py` shows them as az does (ISO 8601 durations such as PT5M).
"""

from __future__ import annotations

from typing import Literal

import msgspec

from runtime.control.autoscale.metrics import Source
from runtime.errors import NotFound

Operator = Literal["Equals", "NotEquals", "GreaterThan", "GreaterThanOrEqual", "LessThan", "LessThanOrEqual"]
Aggregation = Literal["Average", "Minimum", "Maximum", "Total", "Count"]
Statistic = Literal["Average", "Min", "Max", "Sum"]
ScaleDirection = Literal["Increase", "Decrease", "None"]
ScaleType = Literal["ChangeCount", "PercentChangeCount", "ExactCount"]

DEFAULT_PROFILE = "default"


class MetricTrigger(msgspec.Struct, frozen=True, kw_only=True):
    """When a rule fires: METRIC OP THRESHOLD over the time window, aggregated per time grain then over the window."""

    metric_name: str
    metric_namespace: str = ""
    source: Source  #: whose metric: the deployment's own, or its endpoint's
    metric_resource_uri: str
    operator: Operator
    threshold: float
    time_aggregation: Aggregation  #: how the time grain's points combine over the window
    time_window_s: float
    statistic: Statistic = "Average"  #: how the samples of one time grain combine
    time_grain_s: float = 60.0


class ScaleAction(msgspec.Struct, frozen=True, kw_only=True):
    """What a rule does when it fires, and how long no other scale action may follow."""

    direction: ScaleDirection
    type: ScaleType
    value: int
    cooldown_s: float = 300.0


class ScaleRule(msgspec.Struct, frozen=True, kw_only=True):
    """One rule of a profile."""

    metric_trigger: MetricTrigger
    scale_action: ScaleAction


class Capacity(msgspec.Struct, frozen=True, kw_only=True):
    """The profile's instance limits and its default count."""

    minimum: int
    maximum: int
    default: int


class Profile(msgspec.Struct, frozen=True, kw_only=True):
    """A profile: capacity and rules (only the default profile exists here: no schedules)."""

    name: str = DEFAULT_PROFILE
    capacity: Capacity
    rules: tuple[ScaleRule, ...] = ()


class AutoscaleSetting(msgspec.Struct, frozen=True, kw_only=True):
    """An autoscale setting targeting one online deployment."""

    name: str
    endpoint: str
    deployment: str
    target_resource_uri: str
    enabled: bool = True
    profiles: tuple[Profile, ...]
    tags: dict[str, str] = msgspec.field(default_factory=dict)
    created_at: float = 0.0
    updated_at: float = 0.0

    def profile(self, name: str = DEFAULT_PROFILE) -> Profile:
        """The profile called `name` (names ignore case); NotFound listing the profiles there are."""
        for profile in self.profiles:
            if profile.name.lower() == name.lower():
                return profile
        have = ", ".join(p.name for p in self.profiles)
        raise NotFound(f"autoscale setting {self.name!r} has no profile {name!r}; its profiles: {have}")
