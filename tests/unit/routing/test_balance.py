import random
from dataclasses import dataclass

from runtime.routing.balance import WeightedTable, least_loaded, mirror_hit


def test_weighted_pick_follows_the_weights() -> None:
    table = WeightedTable({"blue": 90, "green": 10, "red": 0})
    rng = random.Random(7)
    picks = [table.pick(rng.random) for _ in range(10_000)]
    assert set(picks) == {"blue", "green"}
    assert 0.08 < picks.count("green") / len(picks) < 0.12


def test_weighted_pick_boundaries_are_exact() -> None:
    table = WeightedTable({"blue": 90, "green": 10})
    assert table.pick(lambda: 0.0) == "blue"
    assert table.pick(lambda: 0.8999) == "blue"
    assert table.pick(lambda: 0.9) == "green"
    assert table.pick(lambda: 0.9999) == "green"


def test_no_positive_weight_picks_nothing() -> None:
    assert WeightedTable({"blue": 0}).pick(random.random) is None
    assert WeightedTable({}).pick(random.random) is None


def test_mirror_share() -> None:
    assert not mirror_hit(0, lambda: 0.0)
    assert mirror_hit(10, lambda: 0.05)
    assert not mirror_hit(10, lambda: 0.10)


@dataclass
class W:
    inflight: int


def test_least_loaded_prefers_the_idler_of_two() -> None:
    workers = [W(5), W(1)]
    assert least_loaded(workers, lambda: 0.0) is workers[1]
    assert least_loaded([], lambda: 0.0) is None
    assert least_loaded([W(3)], lambda: 0.5) == W(3)
