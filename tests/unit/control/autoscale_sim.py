"""Replays a load shape through an autoscale policy, one sample a step, as the autoscaler loop would.

The load is demand in instance-percent (250 = two and a half instances busy); on n instances each one reads
min(100, demand / n) % CPU. A decision's target takes effect at once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import msgspec

from runtime.control.autoscale import Decision, LoadSample, ScaleRule, Window
from runtime.control.autoscale.grammar import parse_condition, parse_cooldown, parse_scale, parse_timegrain

T0 = 1_800_000_000.0  #: the clock starts here (a UNIX time), so decisions read as dates
Decide = Callable[[Sequence[LoadSample], float, int, Decision | None], Decision]


class Run(msgspec.Struct, frozen=True):
    """What a replay produced: the count at each step, and every decision."""

    counts: list[tuple[float, int]]
    decisions: list[Decision]

    def at(self, t: float) -> int:
        """The count at `t` seconds into the run (after that step's decision)."""
        return next(n for when, n in reversed(self.counts) if when <= t)

    def changes(self) -> list[tuple[float, int, int]]:
        """(time, from, to) of every change of count."""
        return [(d.at - T0, d.current, d.target) for d in self.decisions if d.target != d.current]

    def reversals(self) -> int:
        """How often the direction of change flipped (out then in, or in then out)."""
        signs = [1 if b > a else -1 for _, a, b in self.changes()]
        return sum(1 for x, y in zip(signs, signs[1:], strict=False) if x != y)


def replay(
    decide: Decide,
    load: Callable[[float], float],
    *,
    start: int,
    duration: float,
    step: float = 1.0,
    every: float = 1.0,
    horizon: float = 1000.0,
    gpu: bool = False,
) -> Run:
    """Sample every `step` seconds, decide every `every` seconds, for `duration` seconds."""
    window = Window(horizon)
    count, previous = start, None
    counts: list[tuple[float, int]] = []
    decisions: list[Decision] = []
    ticks = round(duration / step)
    per = max(1, round(every / step))
    for i in range(ticks + 1):
        t = i * step
        busy = min(100.0, load(t) / count)
        window.add(LoadSample(at=T0 + t, instances=count, cpu_percent=busy, gpu_percent=busy if gpu else None))
        if i % per == 0:
            previous = decide(window.samples(), T0 + t, count, previous)
            decisions.append(previous)
            count = previous.target
        counts.append((t, count))
    return Run(counts, decisions)


def rule(
    condition: str, scale: str, cooldown: str = "1", grain: str = "avg 10s", source: str = "deployment"
) -> ScaleRule:
    """A rule from rule create's flags (cooldown in minutes, a 10 s grain unless given)."""
    statistic, grain_s = parse_timegrain(grain)
    trigger = parse_condition(condition, source, "/x")  # type: ignore[arg-type]
    return ScaleRule(
        metric_trigger=msgspec.structs.replace(trigger, statistic=statistic, time_grain_s=grain_s),
        scale_action=msgspec.structs.replace(parse_scale(scale), cooldown_s=parse_cooldown(cooldown)),
    )
