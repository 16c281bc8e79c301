"""Azure Monitor autoscale rules replayed over recorded load shapes, and each evaluation rule on its own."""

import random

import pytest
from autoscale_sim import T0, replay, rule

from runtime.control.autoscale import Capacity, Decision, LoadSample, Profile, ScaleRule, decide_rules


def profile(*rules: ScaleRule, low: int = 1, high: int = 4, default: int = 1) -> Profile:
    return Profile(capacity=Capacity(minimum=low, maximum=high, default=default), rules=rules)


def policy(p: Profile):  # type: ignore[no-untyped-def]
    def decide(samples, now, current, previous):  # type: ignore[no-untyped-def]
        return decide_rules(p, now=now, current=current, deployment=samples, previous=previous)

    return decide


CPU_OUT = rule("CpuUtilizationPercentage > 70 avg 1m", "out 1")
CPU_IN = rule("CpuUtilizationPercentage < 30 avg 1m", "in 1")


def cpu(at: float, percent: float | None, instances: int = 2, **more: float) -> LoadSample:
    return LoadSample(at=T0 + at, instances=instances, cpu_percent=percent, **more)  # type: ignore[arg-type]


def test_a_ramp_scales_out_one_at_a_time_a_cooldown_apart_up_to_the_maximum() -> None:
    run = replay(policy(profile(CPU_OUT, CPU_IN)), lambda t: min(350.0, t), start=1, duration=600, every=10)
    assert [(a, b) for _, a, b in run.changes()] == [(1, 2), (2, 3), (3, 4)]
    times = [t for t, _, _ in run.changes()]
    assert all(b - a >= 60 for a, b in zip(times, times[1:], strict=False))  # the 1-minute cooldown
    assert run.at(600) == 4 and max(n for _, n in run.counts) == 4
    assert run.reversals() == 0


def test_a_short_spike_averaged_over_the_window_moves_nothing() -> None:
    spike = lambda t: 400.0 if 300 <= t < 320 else 40.0  # noqa: E731
    run = replay(policy(profile(CPU_OUT, CPU_IN)), spike, start=1, duration=600, every=10)
    assert run.changes() == []
    assert run.at(310) == 1


def test_a_spike_on_the_max_aggregation_scales_out_then_back_in_once() -> None:
    out = rule("CpuUtilizationPercentage > 70 max 1m", "out 2", cooldown="2m")
    spike = lambda t: 400.0 if 300 <= t < 320 else 40.0  # noqa: E731
    run = replay(policy(profile(out, CPU_IN)), spike, start=1, duration=900, every=10)
    assert [(a, b) for _, a, b in run.changes()] == [(1, 3), (3, 2), (2, 1)]
    (t_out, _, _), (t_in, _, _), _ = run.changes()
    assert t_out == 310 and t_in >= t_out + 120  # the first 10 s grain wholly in the spike; then the cooldown


def test_a_sawtooth_under_a_long_window_settles_without_oscillating() -> None:
    saw = lambda t: 250.0 if (t // 60) % 2 == 0 else 50.0  # noqa: E731
    slow_out = rule("CpuUtilizationPercentage > 70 avg 5m", "out 1")
    slow_in = rule("CpuUtilizationPercentage < 30 avg 5m", "in 1")
    run = replay(policy(profile(slow_out, slow_in)), saw, start=1, duration=1800, every=10)
    assert run.reversals() == 0
    assert len(run.changes()) <= 2
    assert run.at(1800) == run.at(900) == 3  # 150 on average: 50 % on three instances


def test_a_noisy_plateau_settles_and_stays() -> None:
    rng = random.Random(7)
    noisy = lambda t: 150.0 + rng.uniform(-40, 40)  # noqa: E731
    run = replay(policy(profile(CPU_OUT, CPU_IN)), noisy, start=1, duration=1200, every=10)
    assert run.reversals() == 0
    assert run.at(1200) == 3
    assert len(run.changes()) == 2


def test_thresholds_close_together_do_not_flap() -> None:
    # Azure's own example: out at >= 80, in at <= 60; 160 on 3 instances is 53.3 %, but 80 % on two.
    out = rule("CpuUtilizationPercentage >= 80 avg 1m", "out 1")
    inn = rule("CpuUtilizationPercentage <= 60 avg 1m", "in 1")
    load = lambda t: 160.0 if t < 600 else 100.0  # noqa: E731
    run = replay(policy(profile(out, inn, low=1, high=5, default=2)), load, start=2, duration=1200, every=10)
    assert [(a, b) for _, a, b in run.changes()] == [(2, 3), (3, 2)]
    assert run.at(590) == 3 and run.at(1200) == 2
    held = [d.reason for d in run.decisions if "flapping" in d.reason]
    assert held and "rule CpuUtilizationPercentage >= 80 avg 1m would fire (avg 53.3 on 3 is 80.0 on 2)" in held[0]


def _at(
    samples: list[LoadSample], p: Profile, current: int, previous: Decision | None = None, now: float = 60
) -> Decision:
    return decide_rules(p, now=T0 + now, current=current, deployment=samples, previous=previous)


def test_any_scale_out_rule_that_fires_scales_out_to_the_largest_result() -> None:
    p = profile(
        rule("CpuUtilizationPercentage > 70 avg 1m", "out 1"),
        rule("CpuUtilizationPercentage > 50 avg 1m", "out 2"),
        high=10,
    )
    d = _at([cpu(30, 80.0)], p, current=2)
    assert (d.direction, d.target) == ("out", 4)
    assert d.reason == "scale out 2 -> 4: rule CpuUtilizationPercentage > 50 avg 1m fired (avg 80.0)"


def test_scale_in_needs_every_scale_in_rule_and_takes_the_smallest_step() -> None:
    p = profile(
        rule("CpuUtilizationPercentage < 30 avg 1m", "in 1"),
        rule("RequestsPerMinute < 10 avg 1m", "in 2"),
        high=10,
    )
    both = _at([cpu(30, 10.0, instances=4, requests_per_minute=5.0)], p, current=4)
    assert (both.direction, both.target) == ("in", 3)
    one = _at([cpu(30, 10.0, instances=4, requests_per_minute=50.0)], p, current=4)
    assert one.target == 4
    assert "scale-in needs every scale-in rule to fire: RequestsPerMinute < 10 avg 1m (avg 50.0) did not" in one.reason


def test_a_cooldown_blocks_both_directions_until_it_has_passed() -> None:
    p = profile(rule("CpuUtilizationPercentage > 70 avg 1m", "out 1", cooldown="2"), CPU_IN)
    out = _at([cpu(50, 90.0)], p, current=2, now=60)
    assert out.cooldown_until == T0 + 60 + 120
    idle = [cpu(t, 5.0, instances=3) for t in range(70, 200, 10)]
    held = _at(idle, p, current=3, previous=out, now=170)
    assert held.target == 3 and "cooling down for 10 s more" in held.reason
    assert held.cooldown_until == out.cooldown_until
    again = _at(idle, p, current=3, previous=held, now=181)
    assert (again.direction, again.target) == ("in", 2)


def test_the_count_is_kept_within_the_profile() -> None:
    p = profile(CPU_OUT, CPU_IN, low=2, high=4)
    assert _at([cpu(30, 50.0)], p, current=6).target == 4
    assert _at([cpu(30, 50.0)], p, current=1).target == 2
    at_max = _at([cpu(30, 99.0, instances=4)], p, current=4)
    assert at_max.target == 4 and "but the profile's maximum is 4" in at_max.reason
    big = profile(rule("CpuUtilizationPercentage > 70 avg 1m", "out 5"), low=1, high=4)
    assert _at([cpu(30, 99.0)], big, current=2).target == 4
    at_min = _at([cpu(30, 1.0)], p, current=2)
    assert at_min.target == 2 and "minimum is 2" in at_min.reason


def test_without_metric_data_the_count_goes_to_the_default() -> None:
    p = profile(rule("GpuUtilizationPercentage > 70 avg 1m", "out 1"), default=2)
    d = _at([cpu(30, 50.0)], p, current=1)  # a CPU deployment: no GPU data
    assert d.target == 2 and "no metric data" in d.reason
    assert _at([], profile(default=1), current=1).reason == "no change at 1: no rules"


def test_percent_and_exact_steps() -> None:
    hot, cold = [cpu(30, 99.0, instances=3)], [cpu(30, 1.0, instances=3)]
    assert _at(hot, profile(rule("CpuUtilizationPercentage > 70 avg 1m", "out 50%"), high=10), current=3).target == 5
    assert _at(cold, profile(rule("CpuUtilizationPercentage < 30 avg 1m", "in 50%"), high=10), current=3).target == 2
    to3 = rule("CpuUtilizationPercentage > 70 avg 1m", "to 3")
    assert _at(hot, profile(to3, high=10), current=1).target == 3
    to2 = rule("CpuUtilizationPercentage < 30 avg 1m", "to 2")
    assert _at(cold, profile(to2, high=10), current=5).target == 2  # "to N" below the count is a scale-in rule


def test_an_endpoint_rule_reads_the_endpoint_samples() -> None:
    p = profile(rule("RequestLatency > 70 avg 1m", "out 1", source="endpoint"))
    mine = [cpu(30, 10.0, latency_ms=20.0)]
    endpoint = [cpu(30, None, latency_ms=120.0)]
    d = decide_rules(p, now=T0 + 60, current=2, deployment=mine, endpoint=endpoint)
    assert d.target == 3 and "(avg 120.0)" in d.reason
    assert decide_rules(p, now=T0 + 60, current=2, deployment=mine).target == 2  # one deployment: its own values


@pytest.mark.parametrize(
    ("grain", "aggregation", "expected"),
    [("avg 10s", "avg", 50.0), ("max 10s", "avg", 90.0), ("avg 10s", "count", 3.0), ("avg 10s", "total", 150.0)],
)
def test_time_grain_statistic_then_window_aggregation(grain: str, aggregation: str, expected: float) -> None:
    # Three grains of ten seconds, each holding 10 % and 90 %.
    samples = [cpu(t + dt, v) for t in (31, 41, 51) for dt, v in ((0, 10.0), (5, 90.0))]
    r = rule(f"CpuUtilizationPercentage > 1000 {aggregation} 30s", "out 1", grain=grain)
    d = _at(samples, profile(r), current=2)
    assert f"({aggregation} {expected:.1f})" in d.reason
