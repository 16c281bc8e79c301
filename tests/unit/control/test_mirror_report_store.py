"""The mirror report: --since, the store's round trip across a reopen, zeros without data."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from runtime.control.mirror_report import MirrorReports, parse_since
from runtime.errors import SpecError
from runtime.routing.compare import Verdict
from runtime.routing.mirror_stats import MirrorLog

NOW = 1_800_000_000.0


def test_since_takes_durations_back_from_now() -> None:
    assert parse_since("30s", NOW) == NOW - 30
    assert parse_since("15m", NOW) == NOW - 900
    assert parse_since("2h", NOW) == NOW - 7200
    assert parse_since("1d", NOW) == NOW - 86400
    assert parse_since(None, NOW) is None


def test_since_takes_iso_times_in_utc_unless_they_have_an_offset() -> None:
    utc = dt.datetime(2026, 12, 1, 9, 30, tzinfo=dt.UTC).timestamp()
    assert parse_since("2026-12-01T09:30:00", NOW) == utc
    assert parse_since("2026-12-01T09:30:00Z", NOW) == utc
    assert parse_since("2026-12-01T10:30:00+01:00", NOW) == utc


@pytest.mark.parametrize("bad", ["yesterday", "15x", "-5m", "2026-13-01"])
def test_a_bad_since_names_both_forms(bad: str) -> None:
    with pytest.raises(SpecError) as err:
        parse_since(bad, NOW)
    assert "ISO-8601" in err.value.message and "15m" in err.value.message and bad in err.value.message


def record(log: MirrorLog, n: int, disagree: int) -> None:
    for i in range(n):
        log.sent("shop", "green")
        verdict = Verdict(0.5, diff="$.label") if i < disagree else Verdict(1.0)
        log.compared("shop", "green", verdict, (200, b'{"label":1}', 2.0), (200, b'{"label":2}', 9.0), f"id-{i}")


def test_counts_and_samples_survive_closing_and_reopening_the_store(tmp_path: Path) -> None:
    clock = [NOW]
    log = MirrorLog(clock=lambda: clock[0])
    reports = MirrorReports(tmp_path / "state.db", log, clock=lambda: clock[0])
    record(log, 10, disagree=3)
    log.dropped("shop", "green")
    log.failed("shop", "green", "worker_lost")
    reports.close()

    log = MirrorLog(clock=lambda: clock[0])
    reports = MirrorReports(tmp_path / "state.db", log, clock=lambda: clock[0])
    record(log, 10, disagree=0)  # flushed by the report itself, merged with the stored minute
    report = reports.report("shop", "shop", None, {"green": 10})
    (green,) = report["deployments"]
    assert (green["mirrored"], green["compared"], green["agreed"]) == (20, 20, 17)
    assert (green["dropped"], green["shadow_errors"]) == (1, {"worker_lost": 1})
    assert green["agreement_rate"] == pytest.approx(17 / 20)
    assert green["label_agreement"] == pytest.approx((17 + 3 * 0.5) / 20)
    assert green["latency_ms"]["live"]["p50"] == pytest.approx(2, rel=0.11)
    assert green["latency_ms"]["shadow"]["p99"] == pytest.approx(9, rel=0.11)
    sample = green["samples"][0]
    assert sample["first_difference"] == "$.label" and sample["request_id"] == "id-2"
    assert sample["live"] == {"status": 200, "body": '{"label":1}'} and sample["shadow"]["body"] == '{"label":2}'
    reports.close()


def test_since_leaves_out_older_minutes(tmp_path: Path) -> None:
    clock = [NOW]
    log = MirrorLog(clock=lambda: clock[0])
    reports = MirrorReports(tmp_path / "state.db", log, clock=lambda: clock[0])
    record(log, 4, disagree=4)
    clock[0] += 3600
    record(log, 1, disagree=0)
    (recent,) = reports.report("shop", "shop", "10m", {})["deployments"]
    assert (recent["mirrored"], recent["agreed"], recent["samples"]) == (1, 1, [])
    assert reports.report("shop", "shop", None, {})["deployments"][0]["mirrored"] == 5
    reports.close()


def test_an_endpoint_without_data_reports_zeros_and_a_deleted_one_forgets_its_rows(tmp_path: Path) -> None:
    log = MirrorLog(clock=lambda: NOW)
    reports = MirrorReports(tmp_path / "state.db", log, clock=lambda: NOW)
    assert reports.report("shop", "shop", None, {})["deployments"] == []
    (green,) = reports.report("shop", "shop", "1h", {"green": 10})["deployments"]
    assert (green["mirrored"], green["compared"], green["agreement_rate"], green["samples"]) == (0, 0, 0.0, [])
    record(log, 3, disagree=1)
    reports.flush(force=True)
    reports.drop("shop")
    assert reports.report("shop", "shop", None, {})["deployments"] == []
    reports.close()
