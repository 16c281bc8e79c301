"""The mirror log: latency histograms, percentiles from bucket counts, tallies that merge, bounded samples."""

from __future__ import annotations

import pytest

from runtime.routing.compare import Verdict
from runtime.routing.mirror_stats import (
    LATENCY_BOUNDS_MS,
    SAMPLE_BYTES,
    SAMPLES_KEPT,
    MirrorLog,
    Tally,
    latency_bucket,
    percentile,
    truncated,
)


def counts_of(latencies: list[float]) -> list[int]:
    counts = [0] * (len(LATENCY_BOUNDS_MS) + 1)
    for ms in latencies:
        counts[latency_bucket(ms)] += 1
    return counts


def test_percentiles_come_from_bucket_counts_within_a_bucket_width() -> None:
    counts = counts_of([float(ms) for ms in range(1, 101)])  # 1..100 ms
    assert percentile(counts, 0.5) == pytest.approx(50, rel=0.11)
    assert percentile(counts, 0.99) == pytest.approx(99, rel=0.11)
    assert percentile(counts, 0.5) >= 50  # an upper bound: never under the true value


def test_percentiles_of_merged_tallies_are_those_of_all_their_latencies() -> None:
    a, b = Tally(live_ms=counts_of([1.0] * 98)), Tally(live_ms=counts_of([1000.0] * 2))
    a.add(b)
    assert percentile(a.live_ms, 0.5) == pytest.approx(1, rel=0.11)
    assert percentile(a.live_ms, 0.99) == pytest.approx(1000, rel=0.11)
    assert percentile([], 0.5) == 0.0


def test_latencies_past_the_last_bound_land_in_the_overflow_bucket() -> None:
    assert latency_bucket(1e9) == len(LATENCY_BOUNDS_MS)
    assert percentile(counts_of([1e9]), 0.5) == LATENCY_BOUNDS_MS[-1]


def test_long_bodies_are_cut_with_a_marker() -> None:
    assert truncated(b"short") == "short"
    text = truncated(b"x" * 2000)
    assert text.startswith("x" * SAMPLE_BYTES) and text.endswith("[truncated: 2000 bytes in all]")


def test_the_log_counts_per_minute_keeps_recent_disagreements_and_starts_empty_after_take() -> None:
    now = [120.0]
    log = MirrorLog(clock=lambda: now[0])
    log.sent("ep", "green")
    log.dropped("ep", "green")
    log.failed("ep", "green", "timeout")
    now[0] = 185.0
    for i in range(SAMPLES_KEPT + 5):
        log.sent("ep", "green")
        log.compared("ep", "green", Verdict(0.5, diff="$[1]"), (200, b"[1,2]", 3.0), (200, b"[1,3]", 4.0), f"r{i}")
    log.compared("ep", "green", Verdict(1.0), (200, b"1", 3.0), (200, b"1", 4.0), "same")
    tallies, samples = log.take()
    assert tallies[("ep", "green", 2)].errors == {"timeout": 1} and tallies[("ep", "green", 2)].dropped == 1
    third = tallies[("ep", "green", 3)]
    assert (third.mirrored, third.compared, third.agreed) == (SAMPLES_KEPT + 5, SAMPLES_KEPT + 6, 1)
    assert [s.request_id for _, s in samples][-1] == f"r{SAMPLES_KEPT + 4}" and len(samples) == SAMPLES_KEPT
    assert log.take() == ({}, [])
