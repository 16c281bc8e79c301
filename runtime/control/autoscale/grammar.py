"""The command-line grammar of `az monitor autoscale rule create`: --condition, --scale, --cooldown, --timegrain.

    --condition ["NAMESPACE"] METRIC {==,!=,>,>=,<,<=} THRESHOLD {avg,min,max,total,count} WINDOW
    --scale {out,in} N | {out,in} N% | to N
    --cooldown MINUTES (5, 0.5) or a duration (30s, 2m)       az takes whole minutes; fractions and units are local
    --timegrain {avg,min,max,sum} GRAIN                       default "avg 1m"

Durations are a number with a unit (30s, 5m, 1h, 1d, 1h30m) or ISO 8601 (PT5M). Every error is a SpecError
that says what was wrong and what is allowed.
"""

from __future__ import annotations

import math
import re

from runtime.control.autoscale import metrics
from runtime.control.autoscale.setting import (
    Aggregation,
    MetricTrigger,
    Operator,
    ScaleAction,
    ScaleDirection,
    ScaleType,
    Statistic,
)
from runtime.errors import SpecError
from runtime.spec import MAX_INSTANCES

CONDITION_USAGE = (
    '["NAMESPACE"] METRIC {==,!=,>,>=,<,<=} THRESHOLD {avg,min,max,total,count} WINDOW, '
    'e.g. "CpuUtilizationPercentage > 70 avg 5m"'
)
SCALE_USAGE = "{out,in} N, {out,in} N% or to N, e.g. 'out 2', 'in 50%', 'to 3'"

OPERATORS: dict[str, Operator] = {
    "==": "Equals",
    "!=": "NotEquals",
    ">": "GreaterThan",
    ">=": "GreaterThanOrEqual",
    "<": "LessThan",
    "<=": "LessThanOrEqual",
}
SYMBOLS = {v: k for k, v in OPERATORS.items()}
AGGREGATIONS: dict[str, Aggregation] = {
    "avg": "Average",
    "min": "Minimum",
    "max": "Maximum",
    "total": "Total",
    "count": "Count",
}
SHORT_AGGREGATIONS = {v: k for k, v in AGGREGATIONS.items()}
STATISTICS: dict[str, Statistic] = {"avg": "Average", "min": "Min", "max": "Max", "sum": "Sum"}
SHORT_STATISTICS = {v: k for k, v in STATISTICS.items()}

#: Azure's longest time window and time grain; its longest cooldown.
MAX_WINDOW_S = 12 * 3600.0
MAX_COOLDOWN_S = 7 * 86400.0

_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_ONE_UNIT = re.compile(r"(\d+(?:\.\d+)?)([smhd])")
_UNITS_RE = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")
_ISO = re.compile(r"p(?:(\d+)d)?(?:t(?:(\d+)h)?(?:(\d+)m)?(?:(\d+(?:\.\d+)?)s)?)?")
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
_OPERATOR_CHARS = re.compile(r"([<>=!]+)")


def one_unit_seconds(text: str) -> float | None:
    """Seconds in one number with one lower-case unit (30s, 0.5m, 2h, 1d); None for anything else."""
    m = _ONE_UNIT.fullmatch(text)
    return float(m[1]) * _UNITS[m[2]] if m else None


def parse_duration(text: str, what: str) -> float:
    """Seconds in `text` (30s, 5m, 1h30m, 0.5m, PT5M); SpecError naming `what` and the forms allowed."""
    t = text.strip().lower()
    seconds = one_unit_seconds(t)
    if seconds is None and t and (m := _UNITS_RE.fullmatch(t)):
        seconds = sum(int(v) * u for v, u in zip(m.groups(), (86400, 3600, 60, 1), strict=True) if v)
    elif seconds is None and t not in ("p", "pt") and (m := _ISO.fullmatch(t)):
        d, h, mi, s = m.groups()
        seconds = int(d or 0) * 86400 + int(h or 0) * 3600 + int(mi or 0) * 60 + float(s or 0)
    if seconds is None:
        raise SpecError(
            f"{what}: {text!r} is not a duration; use a number with s, m, h or d (30s, 5m, 1h, 1h30m) or "
            "ISO 8601 (PT5M)"
        )
    return seconds


def parse_condition(text: str, source: metrics.Source, resource_uri: str) -> MetricTrigger:
    """A --condition (without its time grain and statistic, which --timegrain sets)."""
    namespace = ""
    rest = text.strip()
    if rest[:1] in ("'", '"'):
        end = rest.find(rest[0], 1)
        if end < 0:
            raise SpecError(
                f"--condition: the metric namespace {rest!r} has no closing quote; expected {CONDITION_USAGE}"
            )
        namespace, rest = rest[1:end], rest[end + 1 :]
    tokens = _OPERATOR_CHARS.sub(r" \1 ", rest).split()
    if not tokens:
        raise SpecError(f"--condition is empty; expected {CONDITION_USAGE}")
    at = next((i for i, tok in enumerate(tokens) if _OPERATOR_CHARS.fullmatch(tok)), None)
    if at is None:
        raise SpecError(f"--condition {text!r} has no comparison operator; expected {CONDITION_USAGE}")
    if tokens[at] not in OPERATORS:
        raise SpecError(f"--condition: {tokens[at]!r} is not an operator; use one of {', '.join(OPERATORS)}")
    if at == 0:
        raise SpecError(f"--condition {text!r} names no metric before {tokens[0]!r}; expected {CONDITION_USAGE}")
    metric = metrics.canonical(" ".join(tokens[:at]), source)
    after = tokens[at + 1 :]
    if len(after) < 3:
        missing = ["THRESHOLD", "AGGREGATION", "WINDOW"][len(after) :]
        raise SpecError(
            f"--condition {text!r} lacks {' and '.join(missing)} after {tokens[at]!r}; expected {CONDITION_USAGE}"
        )
    threshold, aggregation, window, *extra = after
    if not _NUMBER.fullmatch(threshold):
        raise SpecError(f"--condition: threshold {threshold!r} is not a number; expected {CONDITION_USAGE}")
    if aggregation.lower() not in AGGREGATIONS:
        raise SpecError(
            f"--condition: {aggregation!r} is not an aggregation; use one of {', '.join(AGGREGATIONS)} "
            f"(expected {CONDITION_USAGE})"
        )
    window_s = _window(window, "--condition: the window")
    if extra:
        if extra[0].lower() == "where":
            raise SpecError(
                "--condition: dimension filters (where DIMENSION == VALUE) are not supported: local metrics have no "
                "dimensions; leave the where clause out"
            )
        raise SpecError(f"--condition: unexpected {' '.join(extra)!r} after the window; expected {CONDITION_USAGE}")
    return MetricTrigger(
        metric_name=metric,
        metric_namespace=namespace,
        source=source,
        metric_resource_uri=resource_uri,
        operator=OPERATORS[tokens[at]],
        threshold=float(threshold),
        time_aggregation=AGGREGATIONS[aggregation.lower()],
        time_window_s=window_s,
    )


def parse_scale(text: str) -> ScaleAction:
    """A --scale (without its cooldown, which --cooldown sets)."""
    tokens = text.split()
    if len(tokens) != 2:
        raise SpecError(f"--scale: expected {SCALE_USAGE}; got {text!r}")
    word, amount = tokens[0].lower(), tokens[1]
    directions: dict[str, ScaleDirection] = {"out": "Increase", "in": "Decrease", "to": "None"}
    if word not in directions:
        raise SpecError(f"--scale: {tokens[0]!r} is not a direction; use out, in or to ({SCALE_USAGE})")
    percent = amount.endswith("%")
    if percent and word == "to":
        raise SpecError(f"--scale: 'to' takes an instance count, not a percentage ({SCALE_USAGE})")
    digits = amount[:-1] if percent else amount
    value = int(digits) if digits.isascii() and digits.isdigit() else 0
    high = 100 if percent and word == "in" else (MAX_INSTANCES if not percent else 10_000)
    if not 1 <= value <= high:
        what = "a percentage" if percent else ("an instance count" if word == "to" else "a number of instances")
        raise SpecError(f"--scale: {amount!r} is not {what} from 1 to {high} ({SCALE_USAGE})")
    kind: ScaleType = "ExactCount" if word == "to" else ("PercentChangeCount" if percent else "ChangeCount")
    return ScaleAction(direction=directions[word], type=kind, value=value)


def parse_cooldown(text: str) -> float:
    """Seconds of a --cooldown: minutes as az takes them (5), or locally a fraction (0.5) or a unit (30s, 2m)."""
    t = text.strip()
    if _NUMBER.fullmatch(t) and not t.startswith(("+", "-")):
        seconds = float(t) * 60
    else:
        try:
            seconds = parse_duration(t, "--cooldown")
        except SpecError:
            raise SpecError(
                f"--cooldown: {text!r} is not a cooldown; give minutes (5, 0.5) or a duration with s, m or h (30s)"
            ) from None
    if not math.isfinite(seconds) or not 0 <= seconds <= MAX_COOLDOWN_S:
        raise SpecError(f"--cooldown: {text!r} is out of range; a cooldown is 0 to 1 week (10080 minutes)")
    return seconds


def parse_timegrain(text: str) -> tuple[Statistic, float]:
    """The statistic and grain of a --timegrain such as "avg 1m"."""
    tokens = text.split()
    if len(tokens) != 2 or tokens[0].lower() not in STATISTICS:
        raise SpecError(
            f"--timegrain: expected {{{','.join(STATISTICS)}}} GRAIN, e.g. 'avg 1m' (the default); got {text!r}"
        )
    return STATISTICS[tokens[0].lower()], _window(tokens[1], "--timegrain: the grain")


def _window(text: str, what: str) -> float:
    seconds = parse_duration(text, what)
    if not 0 < seconds <= MAX_WINDOW_S:
        raise SpecError(f"{what} {text!r} is out of range; it must be more than 0 and at most 12 hours")
    return seconds


def format_duration(seconds: float) -> str:
    """A duration as the grammar writes it: 30s, 5m, 1h30m, 0.5s."""
    if seconds != int(seconds):
        return f"{seconds:g}s"
    left, parts = int(seconds), []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if left >= size:
            parts.append(f"{left // size}{unit}")
            left %= size
    return "".join(parts) or "0s"


def iso_duration(seconds: float) -> str:
    """A duration in ISO 8601, as Azure writes times (PT5M, PT30S, PT1H30M, P1D)."""
    whole = int(seconds)
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    fraction = seconds - whole
    time = (f"{hours}H" if hours else "") + (f"{minutes}M" if minutes else "")
    if secs or fraction:
        time += f"{secs + fraction:g}S"
    out = "P" + (f"{days}D" if days else "")
    return out + ("T" + time if time else ("" if days else "T0S"))


def describe(trigger: MetricTrigger) -> str:
    """A rule's condition as the grammar writes it, e.g. "CpuUtilizationPercentage > 70 avg 5m"."""
    namespace = f'"{trigger.metric_namespace}" ' if trigger.metric_namespace else ""
    return (
        f"{namespace}{trigger.metric_name} {SYMBOLS[trigger.operator]} {trigger.threshold:g} "
        f"{SHORT_AGGREGATIONS[trigger.time_aggregation]} {format_duration(trigger.time_window_s)}"
    )
