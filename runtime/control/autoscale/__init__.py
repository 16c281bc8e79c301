"""Autoscale policies, pure functions of load samples and the clock: Azure Monitor autoscale rules (`rules`) and
`scale_settings: target_utilization` (`target`); `choose` says which applies to a deployment. Applying a
decision to the workers is the supervisor's business, not this package's."""

from runtime.control.autoscale.choose import FixedPolicy, Policy, decide, horizon_s, policy_for
from runtime.control.autoscale.decision import Decision, decision_view
from runtime.control.autoscale.rules import decide_rules
from runtime.control.autoscale.samples import LoadSample, Window
from runtime.control.autoscale.setting import AutoscaleSetting, Capacity, MetricTrigger, Profile, ScaleAction, ScaleRule
from runtime.control.autoscale.target import TargetPolicy, decide_target, target_policy

__all__ = [
    "AutoscaleSetting",
    "Capacity",
    "Decision",
    "FixedPolicy",
    "LoadSample",
    "MetricTrigger",
    "Policy",
    "Profile",
    "ScaleAction",
    "ScaleRule",
    "TargetPolicy",
    "Window",
    "decide",
    "decide_rules",
    "decide_target",
    "decision_view",
    "horizon_s",
    "policy_for",
    "target_policy",
]
