"""The target_utilization policy (Kubernetes' HPA semantics) replayed over recorded load shapes."""

import random

from autoscale_sim import T0, replay

from runtime.control.autoscale import LoadSample, TargetPolicy, decide_target, target_policy
from runtime.spec import TargetUtilizationScaleSettings, load_deployment

POLICY = TargetPolicy(min_instances=1, max_instances=8, target_percent=70, metric_window_s=15, stabilization_s=120)


def policy(p: TargetPolicy = POLICY):  # type: ignore[no-untyped-def]
    def decide(samples, now, current, previous):  # type: ignore[no-untyped-def]
        return decide_target(p, samples, now=now, current=current)

    return decide


def test_a_ramp_scales_up_as_the_load_grows_and_never_down() -> None:
    run = replay(policy(), lambda t: min(500.0, t), start=1, duration=700, every=5)
    assert run.reversals() == 0
    assert run.at(700) == 7  # 500 on 7 instances is 71.4 %: within 10 % of the target, so not 8
    assert all(n <= 8 for _, n in run.counts)
    # Each count comes as the load reaches it: no more instances than ceil(load / 70) at any time.
    assert all(n <= max(1, -(-min(500.0, t) // 70)) + 1 for t, n in run.counts)


def test_a_spike_scales_up_at_once_and_down_only_after_the_stabilization_window() -> None:
    spike = lambda t: 600.0 if 300 <= t < 330 else 50.0  # noqa: E731
    run = replay(policy(), spike, start=1, duration=900, every=5)
    ups = [c for c in run.changes() if c[2] > c[1]]
    downs = [c for c in run.changes() if c[2] < c[1]]
    # CPU tops out at 100 %, so the count climbs step by step while the spike lasts.
    assert ups[0][0] <= 310 and run.at(329) == 4
    assert downs and downs[0][0] >= 330 + 120  # not one instance removed inside the window
    assert run.at(900) == 1
    assert run.reversals() == 1


def test_a_sawtooth_faster_than_the_window_holds_its_peak_count() -> None:
    saw = lambda t: 300.0 if (t // 40) % 2 == 0 else 60.0  # noqa: E731
    run = replay(policy(), saw, start=1, duration=1200, every=5)
    assert run.reversals() == 0
    peak = run.at(300)
    assert peak == 4 and all(n == peak for t, n in run.counts if t >= 300)  # 300 on 4 is 75 %: tolerated


def test_a_noisy_plateau_inside_the_tolerance_does_not_move() -> None:
    rng = random.Random(11)
    noisy = lambda t: 210.0 + rng.uniform(-60, 60)  # noqa: E731 - 3 instances at 70 % on average
    run = replay(policy(), noisy, start=3, duration=1200, every=5)
    assert run.changes() == [] or (run.reversals() == 0 and len(run.changes()) <= 1)
    assert run.at(1200) in (3, 4)


def test_the_busiest_of_cpu_gpu_and_in_flight_counts() -> None:
    p = TargetPolicy(min_instances=1, max_instances=10, target_percent=50, concurrency=2)
    quiet = {"cpu_percent": 10.0, "gpu_percent": 10.0, "in_flight_per_instance": 0.0}
    for busy, name in (({"gpu_percent": 100.0}, "gpu"), ({"in_flight_per_instance": 2.0}, "in-flight")):
        samples = [LoadSample(at=T0 + t, instances=2, **{**quiet, **busy}) for t in range(10)]
        d = decide_target(p, samples, now=T0 + 9, current=2)
        assert (d.direction, d.target) == ("out", 4)  # 100 % of 2 instances against a 50 % target
        assert d.reason.startswith(f"scale out 2 -> 4: {name} averages 100.0 % per instance")


def test_limits_and_the_first_samples() -> None:
    p = TargetPolicy(min_instances=2, max_instances=3, target_percent=70)
    assert decide_target(p, [], now=T0, current=1).target == 2
    assert decide_target(p, [], now=T0, current=5).target == 3
    assert decide_target(p, [], now=T0, current=2).reason == "no change at 2: no metrics in the last 15 s"
    hot = [LoadSample(at=T0, instances=3, cpu_percent=100.0)]
    held = decide_target(p, hot, now=T0, current=3)
    assert held.target == 3 and "but max_instances is 3" in held.reason
    cold = [LoadSample(at=T0, instances=2, cpu_percent=0.0)]
    assert decide_target(p, cold, now=T0, current=2).target == 2


def test_scale_up_is_at_most_double_or_four_more_per_decision() -> None:
    p = TargetPolicy(min_instances=1, max_instances=50, target_percent=10)
    hot = [LoadSample(at=T0, instances=1, cpu_percent=100.0)]
    d = decide_target(p, hot, now=T0, current=1)
    assert d.target == 5 and "(at most 100 % or 4 more per decision)" in d.reason


def test_the_policy_of_a_kubernetes_deployment_file() -> None:
    text = (
        "name: kube\nendpoint_name: edge\ntype: kubernetes\ninstance_count: 1\n"
        "code_configuration: {code: ., scoring_script: s.py}\n"
        "request_settings: {max_concurrent_requests_per_instance: 4}\n"
        "scale_settings: {type: target_utilization, min_instances: 1, max_instances: 5, polling_interval: 2,"
        " target_utilization_percentage: 60}\n"
    )
    spec = load_deployment(text, source="k.yml").spec
    assert isinstance(spec.scale_settings, TargetUtilizationScaleSettings)
    p = target_policy(spec, spec.scale_settings)
    assert (p.min_instances, p.max_instances, p.target_percent, p.concurrency, p.polling_interval_s) == (1, 5, 60, 4, 2)
    assert p.horizon_s == 315
