"""Request counts, histogram buckets, quantiles and the rolling window, with an injected clock."""

from __future__ import annotations

import pytest

from runtime.metrics.stats import BUCKETS, DeploymentStats, Histogram, Window, quantile


def test_an_observation_lands_in_the_first_bucket_whose_bound_is_at_least_it() -> None:
    h = Histogram((0.1, 0.5, 1.0))
    for value in (0.05, 0.1, 0.3, 1.0, 7.0):
        h.observe(value)
    assert h.counts == [2, 1, 1, 1]  # 0.1 is in le=0.1, as Prometheus counts; 7 only in +Inf
    assert h.cumulative() == [("0.1", 2), ("0.5", 3), ("1.0", 4), ("+Inf", 5)]
    assert h.count == 5 and h.sum == pytest.approx(8.45)


def test_quantiles_interpolate_inside_the_bucket_as_prometheus_does() -> None:
    bounds = (0.1, 0.2, 0.4)
    # 100 observations: 50 up to 0.1, 40 in (0.1, 0.2], 10 in (0.2, 0.4]
    counts = [50, 40, 10, 0]
    assert quantile(bounds, counts, 0.5) == pytest.approx(0.1)
    assert quantile(bounds, counts, 0.7) == pytest.approx(0.15)
    assert quantile(bounds, counts, 0.99) == pytest.approx(0.2 + 0.2 * 9 / 10)
    assert quantile(bounds, [0, 0, 0, 0], 0.5) is None
    assert quantile(bounds, [0, 0, 0, 3], 0.5) == 0.4  # past the last bound: the last bound


def test_counts_by_status_and_histograms_add_up_to_the_requests() -> None:
    stats = DeploymentStats("ep", "blue")
    for status, seconds in ((200, 0.002), (200, 0.003), (424, 0.004), (429, 0.0001)):
        stats.finished(status, seconds)
    stats.took(0.0002)
    assert stats.statuses == {200: 2, 424: 1, 429: 1}
    assert stats.requests == 4 and stats.duration.count == 4 and stats.queue_wait.count == 1


def test_the_window_reports_the_recent_rate_and_quantiles_only() -> None:
    stats = DeploymentStats("ep", "blue")
    window = Window(stats, span_s=10.0)
    window.tick(0.0)
    assert window.requests_per_s == 0.0 and window.p50_s is None
    for _ in range(100):  # 100 slow requests in the first 10 s
        stats.finished(200, 0.4)
    window.tick(10.0)
    assert window.requests_per_s == pytest.approx(10.0)
    assert 0.25 < (window.p50_s or 0) <= 0.5
    for _ in range(50):  # then 50 fast ones in the next 10 s: the old ones leave the window
        stats.finished(200, 0.0002)
    window.tick(20.0)
    assert window.requests_per_s == pytest.approx(5.0)
    assert window.p99_s is not None and window.p99_s <= BUCKETS[0]
    window.tick(40.0)  # nothing for 20 s
    assert window.requests_per_s == 0.0 and window.p50_s is None


def test_the_window_rate_uses_the_time_actually_covered() -> None:
    stats = DeploymentStats("ep", "blue")
    window = Window(stats, span_s=10.0)
    window.tick(100.0)
    for _ in range(6):
        stats.finished(200, 0.01)
    window.tick(103.0)  # only 3 s of history so far
    assert window.requests_per_s == pytest.approx(2.0)
