"""The grammar of `monitor autoscale rule create`: what each flag reads, and an error naming what is allowed."""

import pytest

from runtime.control.autoscale.grammar import (
    describe,
    format_duration,
    iso_duration,
    parse_condition,
    parse_cooldown,
    parse_duration,
    parse_scale,
    parse_timegrain,
)
from runtime.errors import SpecError


def test_a_condition_reads_as_azure_stores_it() -> None:
    t = parse_condition("CpuUtilizationPercentage > 70 avg 5m", "deployment", "/d")
    assert (t.metric_name, t.operator, t.threshold, t.time_aggregation, t.time_window_s) == (
        "CpuUtilizationPercentage",
        "GreaterThan",
        70.0,
        "Average",
        300.0,
    )
    assert describe(t) == "CpuUtilizationPercentage > 70 avg 5m"


@pytest.mark.parametrize(
    ("text", "operator", "aggregation", "window"),
    [
        ("cpuutilizationpercentage>=70.5 max 30s", "GreaterThanOrEqual", "Maximum", 30.0),
        ("GpuUtilizationPercentage <= 10 MIN 1h30m", "LessThanOrEqual", "Minimum", 5400.0),
        ("RequestsPerMinute == 0 total PT2M", "Equals", "Total", 120.0),
        ("RequestsPerMinute != 3 count 0.5m", "NotEquals", "Count", 30.0),
        (
            '"Microsoft.MachineLearningServices/workspaces/onlineEndpoints/deployments" DeploymentCapacity < 2 avg 12h',
            "LessThan",
            "Average",
            43200.0,
        ),
    ],
)
def test_every_operator_aggregation_and_window_form(text: str, operator: str, aggregation: str, window: float) -> None:
    t = parse_condition(text, "deployment", "/d")
    assert (t.operator, t.time_aggregation, t.time_window_s) == (operator, aggregation, window)


def test_metric_names_ignore_case_and_the_namespace_is_kept() -> None:
    t = parse_condition('"ns/x" cpuUTILIZATIONpercentage < 25 avg 5m', "deployment", "/d")
    assert (t.metric_name, t.metric_namespace) == ("CpuUtilizationPercentage", "ns/x")
    assert describe(t) == '"ns/x" CpuUtilizationPercentage < 25 avg 5m'


@pytest.mark.parametrize(
    ("text", "source", "says"),
    [
        ("", "deployment", "is empty; expected"),
        ("CpuUtilizationPercentage 70 avg 5m", "deployment", "has no comparison operator"),
        (
            "CpuUtilizationPercentage => 70 avg 5m",
            "deployment",
            "'=>' is not an operator; use one of ==, !=, >, >=, <, <=",
        ),
        ("> 70 avg 5m", "deployment", "names no metric"),
        ("CpuUtilisation > 70 avg 5m", "deployment", "did you mean CpuUtilizationPercentage?"),
        ("CpuUtilizationPercentage > 70", "deployment", "lacks AGGREGATION and WINDOW"),
        ("CpuUtilizationPercentage > high avg 5m", "deployment", "threshold 'high' is not a number"),
        ("CpuUtilizationPercentage > 70 mean 5m", "deployment", "use one of avg, min, max, total, count"),
        ("CpuUtilizationPercentage > 70 avg 5x", "deployment", "use a number with s, m, h or d"),
        ("CpuUtilizationPercentage > 70 avg 0s", "deployment", "more than 0 and at most 12 hours"),
        ("CpuUtilizationPercentage > 70 avg 13h", "deployment", "more than 0 and at most 12 hours"),
        ("CpuUtilizationPercentage > 70 avg 5m where instanceId == a", "deployment", "dimension filters"),
        ("CpuUtilizationPercentage > 70 avg 5m now", "deployment", "unexpected 'now' after the window"),
        ("RequestLatency > 70 avg 5m", "deployment", "endpoint metric: add --resource <endpoint>"),
        ("CpuUtilizationPercentage > 70 avg 5m", "endpoint", "deployment metric: leave --resource out"),
        ('"ns CpuUtilizationPercentage > 70 avg 5m', "deployment", "no closing quote"),
    ],
)
def test_a_bad_condition_says_what_is_wrong_and_what_is_allowed(text: str, source: str, says: str) -> None:
    with pytest.raises(SpecError) as err:
        parse_condition(text, source, "/d")  # type: ignore[arg-type]
    assert says in err.value.message
    assert err.value.message.startswith("--condition")


@pytest.mark.parametrize(
    ("text", "direction", "kind", "value"),
    [
        ("out 2", "Increase", "ChangeCount", 2),
        ("IN 1", "Decrease", "ChangeCount", 1),
        ("out 50%", "Increase", "PercentChangeCount", 50),
        ("in 100%", "Decrease", "PercentChangeCount", 100),
        ("to 3", "None", "ExactCount", 3),
    ],
)
def test_scale_forms(text: str, direction: str, kind: str, value: int) -> None:
    action = parse_scale(text)
    assert (action.direction, action.type, action.value) == (direction, kind, value)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("out", "expected {out,in} N"),
        ("up 2", "'up' is not a direction; use out, in or to"),
        ("to 50%", "'to' takes an instance count"),
        ("out 0", "from 1 to 50"),
        ("to 51", "is not an instance count from 1 to 50"),
        ("in 150%", "is not a percentage from 1 to 100"),
        ("out two", "from 1 to 50"),
    ],
)
def test_a_bad_scale_says_what_is_allowed(text: str, says: str) -> None:
    with pytest.raises(SpecError, match="^--scale") as err:
        parse_scale(text)
    assert says in err.value.message


@pytest.mark.parametrize(("text", "seconds"), [("5", 300.0), ("0.5", 30.0), ("0", 0.0), ("30s", 30.0), ("2m", 120.0)])
def test_cooldown_is_minutes_or_a_duration(text: str, seconds: float) -> None:
    assert parse_cooldown(text) == seconds


@pytest.mark.parametrize(("text", "says"), [("soon", "give minutes"), ("-1", "give minutes"), ("8d", "0 to 1 week")])
def test_a_bad_cooldown_is_refused(text: str, says: str) -> None:
    with pytest.raises(SpecError, match="^--cooldown") as err:
        parse_cooldown(text)
    assert says in err.value.message


def test_timegrain() -> None:
    assert parse_timegrain("avg 1m") == ("Average", 60.0)
    assert parse_timegrain("SUM 10s") == ("Sum", 10.0)
    for bad in ("avg", "mean 1m", "avg 1m extra", "max soon"):
        with pytest.raises(SpecError, match="^--timegrain"):
            parse_timegrain(bad)


def test_durations_print_back_as_they_are_written_and_in_iso_8601() -> None:
    assert [format_duration(s) for s in (30, 300, 5400, 86400, 1.5)] == ["30s", "5m", "1h30m", "1d", "1.5s"]
    assert [iso_duration(s) for s in (30, 300, 5400, 86400, 90000, 0, 0.5)] == [
        "PT30S",
        "PT5M",
        "PT1H30M",
        "P1D",
        "P1DT1H",
        "PT0S",
        "PT0.5S",
    ]
    assert parse_duration("PT1H30M", "x") == 5400.0
    with pytest.raises(SpecError, match="x: 'PT' is not a duration"):
        parse_duration("PT", "x")
