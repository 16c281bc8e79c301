"""The Azure Monitor metric names of online deployments and endpoints, read from local load samples."""

from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import Literal

from runtime.control.autoscale.samples import LoadSample
from runtime.errors import SpecError

Source = Literal["deployment", "endpoint"]

_Reader = Callable[[LoadSample], float | None]

#: Metrics of Microsoft.MachineLearningServices/workspaces/onlineEndpoints/deployments, as Azure names them.
DEPLOYMENT_METRICS: dict[str, _Reader] = {
    "CpuUtilizationPercentage": lambda s: s.cpu_percent,
    "CpuMemoryUtilizationPercentage": lambda s: s.memory_percent,
    "GpuUtilizationPercentage": lambda s: s.gpu_percent,
    "GpuMemoryUtilizationPercentage": lambda s: s.gpu_memory_percent,
    "DeploymentCapacity": lambda s: float(s.instances),
    "RequestsPerMinute": lambda s: s.requests_per_minute,
    "RequestLatency_P50": lambda s: s.latency_ms_p50,
    "RequestLatency_P90": lambda s: s.latency_ms_p90,
    "RequestLatency_P95": lambda s: s.latency_ms_p95,
    "RequestLatency_P99": lambda s: s.latency_ms_p99,
}

#: Metrics of Microsoft.MachineLearningServices/workspaces/onlineEndpoints (traffic metrics only, here).
ENDPOINT_METRICS: dict[str, _Reader] = {
    "RequestLatency": lambda s: s.latency_ms,
    "RequestLatency_P50": lambda s: s.latency_ms_p50,
    "RequestLatency_P90": lambda s: s.latency_ms_p90,
    "RequestLatency_P95": lambda s: s.latency_ms_p95,
    "RequestLatency_P99": lambda s: s.latency_ms_p99,
    "RequestsPerMinute": lambda s: s.requests_per_minute,
}

#: Totals that do not depend on the instance count: the anti-flapping projection leaves them as they are.
_TOTALS = frozenset({"RequestsPerMinute"})
#: A count of instances: projected onto `n` instances it is `n`.
_COUNTS = frozenset({"DeploymentCapacity"})


def canonical(name: str, source: Source) -> str:
    """The metric's spelling as Azure names it (names ignore case); SpecError naming the allowed ones."""
    table = DEPLOYMENT_METRICS if source == "deployment" else ENDPOINT_METRICS
    by_lower = {k.lower(): k for k in table}
    if name.lower() in by_lower:
        return by_lower[name.lower()]
    other = ENDPOINT_METRICS if source == "deployment" else DEPLOYMENT_METRICS
    if name.lower() in {k.lower() for k in other}:
        if source == "deployment":
            hint = "it is an endpoint metric: add --resource <endpoint> to read it from the endpoint"
        else:
            hint = "it is a deployment metric: leave --resource out to read it from the deployment"
        raise SpecError(f"--condition: {name} is not a metric of the {source}; {hint}")
    close = difflib.get_close_matches(name, list(table), n=1, cutoff=0.6)
    guess = f" (did you mean {close[0]}?)" if close else ""
    raise SpecError(
        f"--condition: unknown {source} metric {name!r}{guess}; the {source}'s metrics are {', '.join(table)}"
    )


def read(name: str, source: Source, sample: LoadSample) -> float | None:
    """The value of metric `name` in one sample; None when it was not measured."""
    table = DEPLOYMENT_METRICS if source == "deployment" else ENDPOINT_METRICS
    return table[name](sample)


def project(name: str, value: float, current: int, new: int) -> float:
    """What a metric would read on `new` instances if the same load were spread over them (Azure's estimate).

    Per-instance averages (utilization, latency) grow as the load is shared by fewer instances: value x current /
    new, Azure's own example (575 x 3 / 2). Totals such as RequestsPerMinute stay; a count of instances becomes new.
    """
    if name in _TOTALS:
        return value
    if name in _COUNTS:
        return float(new)
    return value * current / new
