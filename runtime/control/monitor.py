"""The sampler loop's state: worker readings, rolling request figures, the cost basis, and the status snapshot.

Once a period (`serve --sample-interval`, 1 s by default) `tick` reads every worker's CPU and memory (and GPUs
where NVML has them) through runtime.metrics.sampler, moves each deployment's rolling window on, and adds
cores x seconds (and GPUs x seconds) for every worker process alive to its deployment's cost basis. `snapshot`
then only assembles what the last tick read, so `GET /api/status` and `/metrics` never touch /proc themselves.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable, Mapping, Sequence

import msgspec

from runtime.batch.executors import BatchWorker
from runtime.batch.jobs import Job, JobState
from runtime.control.autoscale import LoadSample
from runtime.control.supervisor import WorkerInfo
from runtime.control.usage import Usage, UsageStore
from runtime.metrics.sampler import GpuReading, GpuSampler, ProcessReading, ProcessSampler
from runtime.metrics.stats import DeploymentStats, Window
from runtime.routing.router import DeploymentRoute
from runtime.status import (
    AutoscaleStatus,
    DeploymentStatus,
    EndpointStatus,
    GpuStatus,
    JobStatus,
    MachineStatus,
    ModelStatus,
    Status,
    WorkerStatus,
)

log = logging.getLogger("modelyard.monitor")

#: How often the cost basis is written to the state database; a serve killed without warning loses at most this.
PERSIST_EVERY_S = 30.0


class OnlineInput(msgspec.Struct, frozen=True, kw_only=True):
    """One online deployment as the controller holds it."""

    endpoint: str
    name: str
    state: str
    instance_count: int
    created_at: float
    workers: tuple[WorkerInfo, ...] = ()
    route: DeploymentRoute | None = None  #: its router entry (counts, in flight); None while it does not serve


class BatchInput(msgspec.Struct, frozen=True, kw_only=True):
    """One batch deployment, its jobs and the batch workers running for it."""

    endpoint: str
    name: str
    instance_count: int
    jobs: tuple[Job, ...] = ()
    workers: tuple[BatchWorker, ...] = ()


class EndpointInput(msgspec.Struct, frozen=True, kw_only=True):
    """One endpoint's traffic rules, and what its front end refused."""

    name: str
    kind: str
    traffic: Mapping[str, int]
    mirror: Mapping[str, int]
    front: DeploymentStats | None = None


class Monitor:
    """Samples workers and keeps the cost basis; builds the status snapshot."""

    def __init__(
        self,
        usage: UsageStore,
        *,
        cores: list[int],
        gpus: list[int],
        notes: Sequence[str] = (),
        period_s: float = 1.0,
        window_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.period_s = period_s
        self.window_s = window_s
        self._store = usage
        self._cores = cores
        self._clock = clock
        self._wall = wall
        self._procs = ProcessSampler()
        self._gpu = GpuSampler(gpus)
        self._notes = tuple(notes)
        self._usage: Usage = usage.load()
        self._windows: dict[tuple[str, str], Window] = {}
        self._last: float | None = None
        self._saved = clock()
        self.readings: dict[int, ProcessReading] = {}
        self.gpus: list[GpuReading] = []
        #: set by the autoscaler: its last decision per deployment
        self.autoscale: dict[tuple[str, str], AutoscaleStatus] = {}

    def tick(self, online: Sequence[OnlineInput], batch: Sequence[BatchInput]) -> None:
        """Take one sample of every worker and move the windows and the cost basis on."""
        now = self._clock()
        elapsed = now - self._last if self._last is not None else 0.0
        self._last = now
        every = max(1, len(self._cores))
        pids = {w.pid: len(w.cores) or every for d in online for w in d.workers if w.pid is not None}
        pids.update({w.pid: len(w.cores) or every for d in batch for w in d.workers if w.pid is not None})
        self.readings = self._procs.sample(pids, now)
        self.gpus = self._gpu.sample()
        live: dict[tuple[str, str], Window] = {}
        usage: Usage = {}
        for dep in online:
            key = (dep.endpoint, dep.name)
            if dep.route is not None:
                window = self._windows.get(key)
                if window is None or window.stats is not dep.route.stats:
                    window = Window(dep.route.stats, self.window_s)
                window.tick(now)
                live[key] = window
            created, cores, gpus = self._usage.get(key, (dep.created_at, 0.0, 0.0))
            if created != dep.created_at:  # deleted and created again under the same name: a new deployment
                created, cores, gpus = dep.created_at, 0.0, 0.0
            for w in dep.workers:
                if w.pid is not None:
                    cores += len(w.cores) * elapsed
                    gpus += len(w.gpus) * elapsed
            usage[key] = (created, cores, gpus)
        self._windows = live
        self._usage = usage
        if now - self._saved >= PERSIST_EVERY_S:
            self.persist()

    def persist(self) -> None:
        """Write the cost basis to the state database; a failure (a full disk) is logged and retried later."""
        self._saved = self._clock()
        try:
            self._store.save(self._usage)
        except sqlite3.Error as exc:
            log.warning("saving core-seconds and GPU-seconds failed: %s; next try in %.0f s", exc, PERSIST_EVERY_S)

    def close(self) -> None:
        """Save the cost basis and let go of NVML and the database."""
        self.persist()
        self._gpu.close()
        self._store.close()

    def snapshot(
        self, endpoints: Sequence[EndpointInput], online: Sequence[OnlineInput], batch: Sequence[BatchInput]
    ) -> Status:
        """Everything at once, from the last tick's readings."""
        now = self._wall()
        deployments = [self._online(d) for d in online] + [self._batch(d) for d in batch]
        jobs = [_job(j, now) for d in batch for j in d.jobs]
        return Status(
            taken_at=round(now, 3),
            sample_period_s=self.period_s,
            window_s=self.window_s,
            machine=MachineStatus(
                cores=tuple(self._cores),
                gpus=tuple(_gpu(g) for g in self.gpus),
                # the GPU sampler's note changes when a query fails (a GPU lost, a driver reset)
                notes=tuple(n for n in (*self._notes, self._gpu.note) if n),
            ),
            endpoints=tuple(_endpoint(e) for e in endpoints),
            deployments=tuple(deployments),
            jobs=tuple(jobs),
        )

    def load(self, dep: OnlineInput, at: float) -> LoadSample:
        """The deployment's load for the autoscaler, from the last tick: its ready workers' mean CPU % (and GPU %)
        of their own cores, requests in flight per instance, requests per minute and latency over the window."""
        ready = [self.readings.get(w.pid) for w in dep.workers if w.pid is not None and w.state == "Ready"]
        cpu = [r.cpu_percent for r in ready if r is not None and r.cpu_percent is not None]
        gpu = [g for w in dep.workers if (g := self._gpu_utilization(w.pid)) is not None]
        window = self._windows.get((dep.endpoint, dep.name))
        instances = max(1, dep.instance_count)
        return LoadSample(
            at=at,
            instances=dep.instance_count,
            cpu_percent=sum(cpu) / len(cpu) if cpu else None,
            gpu_percent=sum(gpu) / len(gpu) if gpu else None,
            in_flight_per_instance=(dep.route.inflight if dep.route is not None else 0) / instances,
            requests_per_minute=window.requests_per_s * 60 if window is not None else 0.0,
            latency_ms_p50=_ms(window.p50_s) if window is not None else None,
            latency_ms_p99=_ms(window.p99_s) if window is not None else None,
        )

    def _worker(self, w: WorkerInfo) -> WorkerStatus:
        return self._measured(w.instance, w.process, w.state, w.pid, w.cores, w.gpus)

    def _measured(
        self, instance: int, process: int, state: str, pid: int | None, cores: tuple[int, ...], gpus: tuple[int, ...]
    ) -> WorkerStatus:
        reading = self.readings.get(pid) if pid is not None else None
        return WorkerStatus(
            instance=instance,
            process=process,
            state=state,
            pid=pid,
            cores=cores,
            gpus=gpus,
            cpu_percent=reading.cpu_percent if reading is not None else None,
            rss_bytes=reading.rss_bytes if reading is not None else None,
            gpu_memory_bytes=self._gpu_memory(pid),
            gpu_utilization_percent=self._gpu_utilization(pid),
        )

    def _gpu_utilization(self, pid: int | None) -> float | None:
        if pid is None or not self.gpus:
            return None
        busy = [g.process_utilization[pid] for g in self.gpus if pid in g.process_utilization]
        return round(sum(busy), 1) if busy else None

    def _gpu_memory(self, pid: int | None) -> int | None:
        if pid is None or not self.gpus:
            return None
        held = [g.processes[pid] for g in self.gpus if pid in g.processes]
        return sum(held) if held else None

    def _online(self, dep: OnlineInput) -> DeploymentStatus:
        key = (dep.endpoint, dep.name)
        _, cores, gpus = self._usage.get(key, (0.0, 0.0, 0.0))
        window = self._windows.get(key)
        # A deployment that does not serve (it failed, or is still coming up) has no router entry: no counts yet.
        stats = dep.route.stats if dep.route is not None else DeploymentStats(dep.endpoint, dep.name)
        return DeploymentStatus(
            endpoint=dep.endpoint,
            name=dep.name,
            kind="online",
            state=dep.state,
            instance_count=dep.instance_count,
            workers=tuple(self._worker(w) for w in dep.workers),
            requests=stats.requests,
            requests_per_s=round(window.requests_per_s, 3) if window is not None else 0.0,
            in_flight=dep.route.inflight if dep.route is not None else 0,
            p50_ms=_ms(window.p50_s) if window is not None else None,
            p99_ms=_ms(window.p99_s) if window is not None else None,
            queue_wait_p99_ms=_ms(window.queue_wait_p99_s) if window is not None else None,
            errors_by_status={str(s): n for s, n in sorted(stats.statuses.items()) if s != 200},
            throttled=stats.statuses.get(429, 0),
            mirrored=stats.mirrored,
            core_seconds=round(cores, 3),
            gpu_seconds=round(gpus, 3),
            autoscale=self.autoscale.get(key),
            models=_models(dep.workers),
        )

    def _batch(self, dep: BatchInput) -> DeploymentStatus:
        workers = tuple(
            self._measured(w.instance, 0, "Running" if w.pid is not None else "Starting", w.pid, w.cores, w.gpus)
            for w in dep.workers
        )
        return DeploymentStatus(
            endpoint=dep.endpoint,
            name=dep.name,
            kind="batch",
            state="Succeeded",
            instance_count=dep.instance_count,
            workers=workers,
            core_seconds=round(sum(j.core_seconds for j in dep.jobs), 3),
            gpu_seconds=round(sum(j.gpu_seconds for j in dep.jobs), 3),
        )


def _models(workers: Sequence[WorkerInfo]) -> tuple[ModelStatus, ...]:
    """Every Triton model version's counts summed over the deployment's workers (each counts since it started)."""
    totals: dict[tuple[str, str], ModelStatus] = {}
    for w in workers:
        for m in w.models:
            seen = totals.get((m.model, m.version))
            if seen is None:
                seen = ModelStatus(model=m.model, version=m.version, success=0, failure=0, inferences=0, executions=0)
            sizes = dict(seen.batch_sizes)
            for size, n in m.batch_sizes.items():
                sizes[size] = sizes.get(size, 0) + n
            totals[(m.model, m.version)] = ModelStatus(
                model=m.model,
                version=m.version,
                success=seen.success + m.success,
                failure=seen.failure + m.failure,
                inferences=seen.inferences + m.inferences,
                executions=seen.executions + m.executions,
                batch_sizes=dict(sorted(sizes.items())),
                max_batch_size=max(seen.max_batch_size, m.max_batch_size),
            )
    return tuple(totals[key] for key in sorted(totals))


def _ms(seconds: float | None) -> float | None:
    return round(seconds * 1000, 3) if seconds is not None else None


def _gpu(g: GpuReading) -> GpuStatus:
    return GpuStatus(
        index=g.index,
        name=g.name,
        utilization_percent=g.utilization_percent,
        memory_used_bytes=g.memory_used_bytes,
        memory_total_bytes=g.memory_total_bytes,
    )


def _endpoint(e: EndpointInput) -> EndpointStatus:
    refused = {str(s): n for s, n in sorted(e.front.statuses.items())} if e.front is not None else {}
    return EndpointStatus(name=e.name, kind=e.kind, traffic=dict(e.traffic), mirror=dict(e.mirror), refused=refused)


def _job(job: Job, now: float) -> JobStatus:
    eta = None
    finished = job.files_done + job.files_failed
    if job.state is JobState.RUNNING and job.started_at is not None and finished and job.enumerated:
        rate = finished / max(now - job.started_at, 1e-9)
        eta = round(max(0, job.files_total - finished) / rate, 1)
    return JobStatus(
        name=job.name,
        endpoint=job.endpoint,
        deployment=job.deployment,
        state=str(job.state),
        files_total=job.files_total,
        files_done=job.files_done,
        files_failed=job.files_failed,
        eta_s=eta,
        core_seconds=round(job.core_seconds, 3),
        gpu_seconds=round(job.gpu_seconds, 3),
    )
