"""Which policy scales a deployment, the sample window, how show prints a decision, and the settings table."""

from pathlib import Path

import msgspec
import pytest
from autoscale_sim import rule

from runtime.control.autoscale import (
    AutoscaleSetting,
    Capacity,
    Decision,
    FixedPolicy,
    LoadSample,
    Profile,
    TargetPolicy,
    Window,
    decide,
    decision_view,
    horizon_s,
    policy_for,
)
from runtime.control.autoscale_registry import AutoscaleRegistry
from runtime.errors import Conflict, NotFound
from runtime.spec import load_deployment

BASE = (
    "name: blue\nendpoint_name: digits\ninstance_count: 2\ninstance_type: cpu1\n"
    "code_configuration: {code: ., scoring_script: s.py}\n"
)
TARGET = BASE + "type: kubernetes\nscale_settings: {type: target_utilization, min_instances: 1, max_instances: 3}\n"


def setting(enabled: bool = True, name: str = "blue-as", deployment: str = "blue") -> AutoscaleSetting:
    return AutoscaleSetting(
        name=name,
        endpoint="digits",
        deployment=deployment,
        target_resource_uri="/x",
        enabled=enabled,
        profiles=(Profile(capacity=Capacity(minimum=1, maximum=4, default=2)),),
        created_at=1.0,
    )


def test_an_enabled_azure_monitor_setting_wins_over_scale_settings() -> None:
    target = load_deployment(TARGET, source="t.yml").spec
    plain = load_deployment(BASE, source="b.yml").spec
    assert isinstance(policy_for(target, setting()), AutoscaleSetting)
    assert isinstance(policy_for(target, setting(enabled=False)), TargetPolicy)
    assert isinstance(policy_for(target, None), TargetPolicy)
    assert policy_for(plain, None) == FixedPolicy(instances=2)
    assert isinstance(policy_for(plain, setting()), AutoscaleSetting)


def test_the_history_each_policy_reads() -> None:
    long = rule("CpuUtilizationPercentage < 10 avg 10m", "in 1")
    ruled = msgspec.structs.replace(
        setting(),
        profiles=(
            Profile(
                capacity=Capacity(minimum=1, maximum=4, default=1),
                rules=(rule("CpuUtilizationPercentage > 70 avg 1m", "out 1"), long),
            ),
        ),
    )
    assert horizon_s(ruled) == 600 and horizon_s(setting()) == 0
    assert horizon_s(policy_for(load_deployment(TARGET, source="t.yml").spec, None)) == 315
    assert horizon_s(FixedPolicy(instances=1)) == 0


def test_decide_dispatches_on_the_policy() -> None:
    plain = load_deployment(BASE, source="b.yml").spec
    fixed = decide(policy_for(plain, None), now=10.0, current=2, deployment=[])
    assert (fixed.policy, fixed.target) == ("fixed", 2)
    restored = decide(policy_for(plain, None), now=10.0, current=1, deployment=[])
    assert restored.target == 2
    monitor = decide(setting(), now=10.0, current=1, deployment=[])
    assert (monitor.policy, monitor.target) == ("azure_monitor", 2)  # no data: the profile's default


def test_the_window_keeps_the_horizon_and_refuses_samples_out_of_order() -> None:
    w = Window(horizon_s=10, max_len=100)
    for t in range(30):
        w.add(LoadSample(at=float(t), instances=1))
    assert [s.at for s in w.samples()] == [float(t) for t in range(19, 30)]
    with pytest.raises(ValueError, match="time order"):
        w.add(LoadSample(at=3.0, instances=1))
    small = Window(horizon_s=1000, max_len=3, samples=[LoadSample(at=float(t), instances=1) for t in range(5)])
    assert len(small) == 3


def test_show_prints_the_last_decision_with_its_reason() -> None:
    assert decision_view(None, 2) == {"current_instances": 2, "target_instances": 2, "last_decision": None}
    d = Decision(
        at=1_800_000_000.0,
        policy="azure_monitor",
        current=1,
        target=3,
        direction="out",
        reason="scale out 1 -> 3: rule CpuUtilizationPercentage > 70 avg 5m fired (avg 92.4)",
        cooldown_until=1_800_000_300.0,
    )
    assert decision_view(d, 1) == {
        "current_instances": 1,
        "target_instances": 3,
        "last_decision": {
            "time": "2027-01-15T08:00:00Z",
            "policy": "azure_monitor",
            "direction": "out",
            "from": 1,
            "to": 3,
            "reason": "scale out 1 -> 3: rule CpuUtilizationPercentage > 70 avg 5m fired (avg 92.4)",
            "cooldown_until": "2027-01-15T08:05:00Z",
        },
    }


def test_settings_are_stored_one_per_deployment_and_names_ignore_case(tmp_path: Path) -> None:
    reg = AutoscaleRegistry(tmp_path / "state.db")
    reg.add(setting())
    with pytest.raises(Conflict, match="has an autoscale setting already, 'blue-as'"):
        reg.add(setting(name="other"))
    with pytest.raises(Conflict, match="names differing only in case"):
        reg.add(setting(name="BLUE-AS", deployment="green"))
    assert reg.get("Blue-As").name == "blue-as"
    reg.save(msgspec.structs.replace(setting(), enabled=False))
    reg.close()
    again = AutoscaleRegistry(tmp_path / "state.db")
    assert again.get("blue-as").enabled is False
    assert again.for_deployment("digits", "blue") == again.get("blue-as")
    assert again.for_deployment("digits", "green") is None
    again.delete("blue-as")
    with pytest.raises(NotFound, match="autoscale setting 'blue-as' not found"):
        again.delete("blue-as")
    assert again.all() == []
