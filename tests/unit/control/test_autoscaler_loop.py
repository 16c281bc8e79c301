"""The autoscaler loop over a replayed load: it samples every tick, decides on the policy's interval, scales once
per decision and never twice at the same time, and forgets a deployment no policy scales any more."""

from __future__ import annotations

import asyncio

from runtime.control.autoscale import FixedPolicy, LoadSample, TargetPolicy
from runtime.control.autoscaler import Autoscaler, Scaled

POLICY = TargetPolicy(
    min_instances=1,
    max_instances=3,
    target_percent=50.0,
    polling_interval_s=2.0,
    metric_window_s=2.0,
    stabilization_s=4.0,
)


class Deployment:
    """One deployment whose CPU load is a function of time, spread over its instances."""

    def __init__(self, load: dict[int, float], policy: TargetPolicy | FixedPolicy = POLICY) -> None:
        self.load = load  #: second -> total CPU % (100 per busy instance)
        self.instances = 1
        self.policy: TargetPolicy | FixedPolicy = policy
        self.scaled: list[tuple[float, int, str]] = []
        self.now = 0.0

    def listed(self, at: float) -> list[Scaled]:
        total = self.load.get(int(at), 0.0)
        load = LoadSample(at=at, instances=self.instances, cpu_percent=min(100.0, total / self.instances))
        return [Scaled(endpoint="shop", deployment="blue", instances=self.instances, policy=self.policy, load=load)]

    async def scale(self, endpoint: str, deployment: str, count: int, reason: str) -> None:
        self.scaled.append((self.now, count, reason))
        await asyncio.sleep(0)  # the controller's scaling takes a while; the loop must not decide meanwhile
        self.instances = count


def replay(dep: Deployment, seconds: int) -> Autoscaler:
    scaler = Autoscaler(deployments=dep.listed, scale=dep.scale, clock=lambda: dep.now)

    async def main() -> None:
        for t in range(seconds):
            dep.now = float(t)
            scaler.tick()
            for _ in range(3):
                await asyncio.sleep(0)

    asyncio.run(main())
    return scaler


def test_a_load_ramp_scales_out_to_max_and_back_to_min_after_it_stops() -> None:
    # 250 % of CPU from t=2 to t=11 (5 instances at a 50 % target, capped at 3), then nothing.
    dep = Deployment(dict.fromkeys(range(2, 12), 250.0))
    scaler = replay(dep, 30)
    counts = [count for _, count, _ in dep.scaled]
    assert max(counts) == 3 and counts[-1] == 1
    peak = counts.index(3)
    assert counts[: peak + 1] == sorted(counts[: peak + 1])  # up only, then down only: no oscillation
    assert counts[peak:] == sorted(counts[peak:], reverse=True)
    ups = [t for t, c, _ in dep.scaled if c == 3]
    assert ups and ups[0] <= 6  # within a couple of polling intervals of the load
    last = scaler.last("shop", "blue")
    assert last is not None and last.target == 1 and dep.instances == 1
    assert all(reason.startswith("scale ") for _, _, reason in dep.scaled)
    assert scaler.decisions[("shop", "blue")]["out"] >= 1 and scaler.decisions[("shop", "blue")]["in"] >= 1


def test_decisions_come_every_polling_interval_and_a_fixed_deployment_is_forgotten() -> None:
    dep = Deployment({})
    scaler = replay(dep, 7)
    assert dep.scaled == []  # at the minimum with no load: nothing to do
    last = scaler.last("shop", "blue")
    assert last is not None and last.at == 6.0  # decided at 0, 2, 4, 6
    assert scaler.decisions[("shop", "blue")] == {"none": 4}
    dep.policy = FixedPolicy(instances=1)
    scaler.tick()
    assert scaler.last("shop", "blue") is None
