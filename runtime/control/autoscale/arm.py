"""An autoscale setting and its rules as `az monitor autoscale show -o json` prints them (camelCase, ISO times)."""

from __future__ import annotations

from typing import Any

from runtime.control.autoscale.grammar import iso_duration
from runtime.control.autoscale.setting import AutoscaleSetting, Profile, ScaleRule

#: The ids here are ARM-shaped, in a subscription and resource group that stand for this machine.
SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
RESOURCE_GROUP = "local"
WORKSPACE = "local"
DEPLOYMENT_TYPE = "Microsoft.MachineLearningServices/workspaces/onlineEndpoints/deployments"


def endpoint_id(endpoint: str) -> str:
    """The ARM-style id of a local online endpoint."""
    return (
        f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{RESOURCE_GROUP}/providers/"
        f"Microsoft.MachineLearningServices/workspaces/{WORKSPACE}/onlineEndpoints/{endpoint}"
    )


def deployment_id(endpoint: str, deployment: str) -> str:
    """The ARM-style id of a local online deployment."""
    return f"{endpoint_id(endpoint)}/deployments/{deployment}"


def setting_id(name: str) -> str:
    """The ARM-style id of an autoscale setting."""
    return (
        f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{RESOURCE_GROUP}/providers/"
        f"microsoft.insights/autoscalesettings/{name}"
    )


def rule_view(rule: ScaleRule) -> dict[str, Any]:
    """One rule: metricTrigger and scaleAction, as Azure's REST API names them."""
    t, a = rule.metric_trigger, rule.scale_action
    return {
        "metricTrigger": {
            "dimensions": [],
            "dividePerInstance": False,
            "metricName": t.metric_name,
            "metricNamespace": t.metric_namespace,
            "metricResourceLocation": None,
            "metricResourceUri": t.metric_resource_uri,
            "operator": t.operator,
            "statistic": t.statistic,
            "threshold": t.threshold,
            "timeAggregation": t.time_aggregation,
            "timeGrain": iso_duration(t.time_grain_s),
            "timeWindow": iso_duration(t.time_window_s),
        },
        "scaleAction": {
            "cooldown": iso_duration(a.cooldown_s),
            "direction": a.direction,
            "type": a.type,
            "value": str(a.value),
        },
    }


def profile_view(profile: Profile) -> dict[str, Any]:
    """One profile: capacity (as strings, as Azure keeps them) and rules."""
    cap = profile.capacity
    return {
        "capacity": {"default": str(cap.default), "maximum": str(cap.maximum), "minimum": str(cap.minimum)},
        "name": profile.name,
        "rules": [rule_view(r) for r in profile.rules],
    }


def setting_view(setting: AutoscaleSetting) -> dict[str, Any]:
    """The whole setting, flattened as az prints it."""
    return {
        "enabled": setting.enabled,
        "id": setting_id(setting.name),
        "location": "local",
        "name": setting.name,
        "notifications": [],
        "predictiveAutoscalePolicy": {"scaleLookAheadTime": None, "scaleMode": "Disabled"},
        "profiles": [profile_view(p) for p in setting.profiles],
        "resourceGroup": RESOURCE_GROUP,
        "tags": setting.tags,
        "targetResourceLocation": None,
        "targetResourceUri": setting.target_resource_uri,
        "type": "Microsoft.Insights/autoscaleSettings",
        "endpointName": setting.endpoint,
        "deploymentName": setting.deployment,
    }
