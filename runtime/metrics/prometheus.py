"""`/metrics`: the router's counts and the status snapshot as Prometheus metric families, through prometheus-client.

Nothing here runs per request: a scrape asks the collector, which reads the router's plain counters and the last
sample. The registry is serve's own (not prometheus-client's global one), so two servers in one test process
never share metrics. Names follow the peers' style (`<prefix>_requests_total`, `..._duration_seconds` histograms,
`..._in_flight` gauges, base units).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric

from runtime.metrics.model_metrics import model_families
from runtime.metrics.stats import DeploymentStats, Histogram
from runtime.status import Status

PREFIX = "modelyard"
CONTENT_TYPE = CONTENT_TYPE_LATEST

_DEP = ["endpoint", "deployment"]
_WORKER = [*_DEP, "instance", "process"]


class ServeCollector:
    """Yields every metric family at scrape time."""

    def __init__(self, status: Callable[[], Status], stats: Callable[[], Iterable[DeploymentStats]]) -> None:
        self._status = status
        self._stats = stats

    def collect(self) -> Iterator[Metric]:
        """The metric families, read now."""
        yield from _requests(list(self._stats()))
        status = self._status()
        yield from _snapshot(status)
        yield from model_families(status, PREFIX)


def registry(status: Callable[[], Status], stats: Callable[[], Iterable[DeploymentStats]]) -> CollectorRegistry:
    """A registry of its own holding serve's collector."""
    reg = CollectorRegistry(auto_describe=False)
    reg.register(ServeCollector(status, stats))
    return reg


def render(reg: CollectorRegistry) -> bytes:
    """The registry in the Prometheus text format."""
    return generate_latest(reg)


def _histogram(family: HistogramMetricFamily, labels: list[str], h: Histogram) -> None:
    family.add_metric(labels, buckets=h.cumulative(), sum_value=h.sum)


def _requests(all_stats: list[DeploymentStats]) -> Iterator[Metric]:
    total = CounterMetricFamily(
        f"{PREFIX}_requests",
        "Scoring requests answered, by endpoint, deployment and HTTP status",
        labels=[*_DEP, "status"],
    )
    duration = HistogramMetricFamily(
        f"{PREFIX}_request_duration_seconds", "Arrival at the router until the answer", labels=_DEP
    )
    wait = HistogramMetricFamily(
        f"{PREFIX}_request_queue_wait_seconds",
        "Arrival at the router until a worker began the request",
        labels=_DEP,
    )
    mirrored = CounterMetricFamily(f"{PREFIX}_mirror_requests", "Mirror copies sent to a deployment", labels=_DEP)
    mirror_failed = CounterMetricFamily(
        f"{PREFIX}_mirror_failures", "Mirror copies that failed or were not answered with 200", labels=_DEP
    )
    for s in all_stats:
        labels = [s.endpoint, s.deployment]
        for status, n in sorted(s.statuses.items()):
            total.add_metric([*labels, str(status)], n)
        if s.duration.count:
            _histogram(duration, labels, s.duration)
        if s.deployment:
            _histogram(wait, labels, s.queue_wait)
            mirrored.add_metric(labels, s.mirrored)
            mirror_failed.add_metric(labels, s.mirror_failures)
    yield from (total, duration, wait, mirrored, mirror_failed)


def _snapshot(status: Status) -> Iterator[Metric]:
    g = GaugeMetricFamily
    in_flight = g(f"{PREFIX}_requests_in_flight", "Requests admitted and not yet answered", labels=_DEP)
    workers = g(f"{PREFIX}_workers", "Worker processes by state", labels=[*_DEP, "kind", "state"])
    cpu = g(f"{PREFIX}_worker_cpu_percent", "Worker CPU time over the last sample, % of its own cores", labels=_WORKER)
    rss = g(f"{PREFIX}_worker_memory_rss_bytes", "Worker resident memory", labels=_WORKER)
    gpu_mem = g(f"{PREFIX}_worker_gpu_memory_bytes", "GPU memory a worker process holds", labels=_WORKER)
    gpu_busy = g(f"{PREFIX}_worker_gpu_utilization_percent", "A worker's share of GPU SM time", labels=_WORKER)
    cores = CounterMetricFamily(
        f"{PREFIX}_deployment_core_seconds", "Cores held x seconds alive since the deployment was created", labels=_DEP
    )
    gpus = CounterMetricFamily(
        f"{PREFIX}_deployment_gpu_seconds", "GPUs held x seconds alive since the deployment was created", labels=_DEP
    )
    done = CounterMetricFamily(f"{PREFIX}_batch_files_done", "Batch input files run() gave a row for", labels=_DEP)
    failed = CounterMetricFamily(f"{PREFIX}_batch_files_failed", "Batch input files that failed", labels=_DEP)
    decisions = CounterMetricFamily(
        f"{PREFIX}_autoscale_decisions", "Autoscaler decisions, by kind", labels=[*_DEP, "decision"]
    )
    for d in status.deployments:
        labels = [d.endpoint, d.name]
        if d.kind == "online":
            in_flight.add_metric(labels, d.in_flight)
        by_state: dict[str, int] = {}
        for w in d.workers:
            by_state[w.state] = by_state.get(w.state, 0) + 1
            wl = [*labels, str(w.instance), str(w.process)]
            if w.cpu_percent is not None:
                cpu.add_metric(wl, w.cpu_percent)
            if w.rss_bytes is not None:
                rss.add_metric(wl, w.rss_bytes)
            if w.gpu_memory_bytes is not None:
                gpu_mem.add_metric(wl, w.gpu_memory_bytes)
            if w.gpu_utilization_percent is not None:
                gpu_busy.add_metric(wl, w.gpu_utilization_percent)
        for state, n in sorted(by_state.items()):
            workers.add_metric([*labels, d.kind, state], n)
        cores.add_metric(labels, d.core_seconds)
        gpus.add_metric(labels, d.gpu_seconds)
        if d.autoscale is not None:
            for kind, n in sorted(d.autoscale.decisions.items()):
                decisions.add_metric([*labels, kind], n)
    for job_deployment, (n_done, n_failed) in _batch_files(status).items():
        done.add_metric(list(job_deployment), n_done)
        failed.add_metric(list(job_deployment), n_failed)
    machine_cores = g(f"{PREFIX}_machine_cores", "CPU cores serve may use")
    machine_cores.add_metric([], len(status.machine.cores))
    yield from (in_flight, workers, cpu, rss, cores, gpus, done, failed, decisions, machine_cores)
    if status.machine.gpus:
        util = g(f"{PREFIX}_gpu_utilization_percent", "GPU busy time over the last sample", labels=["gpu", "name"])
        used = g(f"{PREFIX}_gpu_memory_used_bytes", "GPU memory in use", labels=["gpu", "name"])
        size = g(f"{PREFIX}_gpu_memory_total_bytes", "GPU memory in all", labels=["gpu", "name"])
        for gpu in status.machine.gpus:
            gl = [str(gpu.index), gpu.name]
            if gpu.utilization_percent is not None:
                util.add_metric(gl, gpu.utilization_percent)
            if gpu.memory_used_bytes is not None:
                used.add_metric(gl, gpu.memory_used_bytes)
            if gpu.memory_total_bytes is not None:
                size.add_metric(gl, gpu.memory_total_bytes)
        yield from (util, used, size, gpu_mem, gpu_busy)


def _batch_files(status: Status) -> dict[tuple[str, str], tuple[int, int]]:
    out: dict[tuple[str, str], tuple[int, int]] = {}
    for job in status.jobs:
        key = (job.endpoint, job.deployment)
        n_done, n_failed = out.get(key, (0, 0))
        out[key] = (n_done + job.files_done, n_failed + job.files_failed)
    return out
