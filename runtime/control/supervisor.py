"""Keeps a deployment's instances running: start, probe, replace with backoff, stop.

One task per slot loops; a slot is one scoring process of one instance, WORKER_COUNT of them per instance as
Azure's server runs that many gunicorn workers. The loop starts a worker; on first start it reports the outcome
(Ready, or the init() failure that makes the deployment Failed); then it probes the worker on the deployment's
liveness and readiness settings and replaces it when it exits or stops answering. The router reads
`ready_workers`, which only holds workers that are up and passing readiness.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import logging
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import msgspec

from runtime.control.allocator import Allocation
from runtime.control.plan import WorkerPlan, load_message, worker_env
from runtime.control.restarts import Backoff
from runtime.control.tasks import ServiceTasks, Task
from runtime.control.worker_handle import WorkerHandle
from runtime.errors import Conflict, NotFound, WorkerStartError
from runtime.metrics.sampler import rss_bytes
from runtime.spec import OnlineDeploymentSpec, ProbeSettings
from runtime.status import ModelStatus

log = logging.getLogger("modelyard.supervisor")


class WorkerInfo(msgspec.Struct, frozen=True):
    """What `online-deployment show` lists for one instance."""

    instance: int
    process: int  #: which of the instance's WORKER_COUNT scoring processes (0 unless WORKER_COUNT is set)
    state: str  #: Starting, Ready, Unready, Restarting, Failed, Draining (scaled in), Stopped
    pid: int | None
    cores: tuple[int, ...]
    gpus: tuple[int, ...]
    shared: bool
    restarts: int
    inflight: int
    last_exit: str
    rss_mib: float | None  #: resident memory of the worker process
    liveness_failures: int  #: liveness pings failed in a row (failure_threshold of them replace the worker)
    readiness_failures: int  #: readiness pings failed in a row (failure_threshold of them take it out of rotation)
    last_answer: str | None  #: when the worker last sent anything (a ping's answer, a result), UTC ISO 8601
    #: a Triton worker's per-model counts (Triton's metric names), as of its last answered ping
    models: tuple[ModelStatus, ...] = ()


class _Slot:
    def __init__(self, index: int, process: int, allocation: Allocation) -> None:
        self.index = index
        self.process = process
        self.allocation = allocation
        self.handle: WorkerHandle | None = None
        self.task: Task | None = None  #: the loop that keeps this slot's worker running
        self.state = "Starting"
        self.restarts = 0
        self.last_exit = ""
        self.liveness_failures = 0
        self.readiness_failures = 0


class DeploymentSupervisor:
    """Runs every instance of one deployment."""

    def __init__(
        self,
        *,
        name: str,
        plan: WorkerPlan,
        spec: OnlineDeploymentSpec,
        allocations: tuple[Allocation, ...],
        notes: tuple[str, ...],
        socket_dir: Path,
        log_dir: Path,
        on_change: Callable[[], None] = lambda: None,
        tasks: ServiceTasks | None = None,
    ) -> None:
        self.name = name
        #: where the slot loops run: the server's long-lived tasks, or on their own
        self._tasks = tasks if tasks is not None else ServiceTasks()
        self.plan = plan
        self.spec = spec
        self.allocations = allocations
        self.notes = notes
        self._liveness = spec.liveness_probe
        self._readiness = spec.readiness_probe
        self._socket_dir = socket_dir
        self._log_dir = log_dir
        self._on_change = on_change
        # Like gunicorn's workers in Azure's container, an instance's processes share its cores and its log.
        self._slots = [_Slot(i, p, a) for i, a in enumerate(allocations) for p in range(plan.processes)]
        self._draining: list[_Slot] = []  #: instances scaled away, finishing their requests
        self.ready_workers: list[WorkerHandle] = []
        self._stopping = False

    @property
    def start_timeout(self) -> float:
        """How long init() may take: as long as Azure's readiness probe would keep trying before giving up."""
        probe = self._readiness
        return float(probe.initial_delay + probe.period * probe.failure_threshold)

    def log_path(self, instance: int) -> Path:
        """The log file of one instance."""
        return self._log_dir / f"{self.name}-{instance}.log"

    @property
    def instance_count(self) -> int:
        """Instances running or starting (not those draining after a scale-in)."""
        return len(self.allocations)

    async def start(self) -> str | None:
        """Start every instance; return None when all loaded, or the first init failure message."""
        return await self._launch(self._slots)

    async def _launch(self, slots: list[_Slot]) -> str | None:
        loop = asyncio.get_running_loop()
        firsts: list[asyncio.Future[str | None]] = [loop.create_future() for _ in slots]
        for slot, first in zip(slots, firsts, strict=True):
            name = f"supervisor of {self.name} instance {slot.index}.{slot.process}"
            slot.task = self._tasks.start(name, self._run_slot, slot, first)
        for fut in asyncio.as_completed(firsts):
            error = await fut
            if error is not None:
                return error
        return None

    async def scale_out(self, more: tuple[Allocation, ...]) -> str | None:
        """Start one instance per allocation beside the running ones and wait until they serve; None, or the
        first init failure (the new instances are then stopped again, and the count is as before)."""
        first = len(self.allocations)
        slots = [_Slot(first + i, p, a) for i, a in enumerate(more) for p in range(self.plan.processes)]
        self._slots = [*self._slots, *slots]
        self.allocations = (*self.allocations, *more)
        self.spec = msgspec.structs.replace(self.spec, instance_count=len(self.allocations))
        error = await self._launch(slots)
        if error is not None:
            await self.scale_in(first, grace=0.0)
        return error

    async def scale_in(self, count: int, grace: float) -> None:
        """Keep the first `count` instances; drain the others: out of rotation at once, so no new request reaches
        them, then each finishes what it holds (up to `grace` seconds) and stops."""
        doomed = [s for s in self._slots if s.index >= count]
        self._slots = [s for s in self._slots if s.index < count]
        self.allocations = self.allocations[:count]
        self.spec = msgspec.structs.replace(self.spec, instance_count=count)
        self._draining.extend(doomed)
        for slot in doomed:
            slot.state = "Draining"
            if slot.handle is not None:
                self._set_ready(slot.handle, False)
        try:
            await self._stop_slots(doomed, grace)
        finally:
            self._draining = [s for s in self._draining if s not in doomed]
            self._on_change()

    async def _stop_slots(self, slots: list[_Slot], grace: float) -> None:
        tasks = [s.task for s in slots if s.task is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            await task.wait()
        # A worker takes Shutdown after the requests sent before it: those are answered, then it exits.
        handles = [s.handle for s in slots if s.handle is not None]
        await asyncio.gather(*(h.stop(grace) for h in handles), return_exceptions=True)
        for slot in slots:
            slot.state = "Stopped"

    async def stop(self, grace: float = 5.0) -> None:
        """Stop probing and replacing, then stop every worker."""
        self._stopping = True
        slots = [*self._slots, *self._draining]
        self.ready_workers = []
        await self._stop_slots(slots, grace)
        self._on_change()

    def workers(self, measure: bool = True) -> list[WorkerInfo]:
        """The live worker list; `measure=False` leaves rss_mib out (the sampler reads memory itself)."""
        out = []
        for s in [*self._slots, *self._draining]:
            pid = s.handle.pid if s.handle is not None and s.handle.alive else None
            rss = rss_bytes(pid) if pid is not None and measure else None
            answered = s.handle.last_answer if s.handle is not None else None
            out.append(
                WorkerInfo(
                    instance=s.index,
                    process=s.process,
                    state=s.state,
                    pid=pid,
                    cores=s.allocation.cores,
                    gpus=s.allocation.gpus,
                    shared=s.allocation.shared,
                    restarts=s.restarts,
                    inflight=s.handle.inflight if s.handle is not None else 0,
                    last_exit=s.last_exit,
                    rss_mib=round(rss / 2**20, 1) if rss is not None else None,
                    liveness_failures=s.liveness_failures,
                    readiness_failures=s.readiness_failures,
                    last_answer=_utc(answered) if answered is not None else None,
                    models=s.handle.model_stats if s.handle is not None else (),
                )
            )
        return out

    async def restart_worker(self, instance: int, process: int = 0) -> int:
        """Kill one worker's process so its slot loop starts a new one; return the pid that was killed."""
        slots = {(s.index, s.process): s for s in self._slots}
        slot = slots.get((instance, process))
        if slot is None:
            raise NotFound(
                f"deployment {self.name!r} has no worker instance={instance} process={process}; it has instances "
                f"0-{len(self.allocations) - 1}, processes 0-{self.plan.processes - 1} each"
            )
        handle = slot.handle
        if handle is None or not handle.alive or handle.pid is None:
            raise Conflict(f"worker {instance}.{process} of {self.name!r} has no running process (it is {slot.state})")
        pid = handle.pid
        log.info("%s (pid %s): restart asked for; killing it so it is replaced", handle.name, pid)
        await handle.kill()
        return pid

    async def _run_slot(self, slot: _Slot, first: asyncio.Future[str | None]) -> None:
        backoff = Backoff()
        ever_ready = False
        while not self._stopping:
            handle = self._new_handle(slot)
            slot.handle = handle
            slot.liveness_failures = slot.readiness_failures = 0
            slot.state = "Starting" if not ever_ready else "Restarting"
            try:
                await handle.start(self.start_timeout)
            except Exception as exc:
                # Whatever went wrong, this loop goes on (or, on a first start, reports): a loop that ended here
                # would leave the slot without a worker for good, and say nothing.
                message = await _start_failure(handle, exc)
                slot.last_exit = message
                if not ever_ready:
                    slot.state = "Failed"
                    if not first.done():
                        first.set_result(message)
                    return
                wait, backoff = backoff.failed()
                log.warning("%s: restart failed: %s; next try in %.1f s", handle.name, message, wait)
                await asyncio.sleep(wait)
                slot.restarts += 1
                continue
            if ever_ready:
                log.info("%s (pid %s) is back after %d restarts", handle.name, handle.pid, slot.restarts)
            ever_ready = True
            if not first.done():
                first.set_result(None)
            slot.state = "Ready"
            self._set_ready(handle, True)
            try:
                await self._watch(handle, slot)
            finally:
                self._set_ready(handle, False)
            slot.last_exit = handle.exit_message
            if self._stopping:
                return
            now = time.monotonic()
            up_for = now - handle.started_at
            log.warning("%s (pid %s) %s after %.1f s; replacing it", handle.name, handle.pid, slot.last_exit, up_for)
            wait, backoff = backoff.exited(handle.started_at, now)
            slot.state = "Restarting"
            slot.restarts += 1
            await asyncio.sleep(wait)

    def _new_handle(self, slot: _Slot) -> WorkerHandle:
        cores, gpus = slot.allocation.cores, slot.allocation.gpus
        return WorkerHandle(
            name=f"{self.name}-{slot.index}" + (f".{slot.process}" if self.plan.processes > 1 else ""),
            socket_path=self._socket_dir / f"{id(self):x}-{slot.index}-{slot.process}-{slot.restarts}.sock",
            log_path=self.log_path(slot.index),
            env=worker_env(self.plan, cores, gpus),
            cores=cores,
            load=load_message(self.plan, cores),
            python=self.plan.python,
        )

    async def _watch(self, handle: WorkerHandle, slot: _Slot) -> None:
        """Return when the worker has exited; kill it first if it fails liveness."""
        probes = [
            asyncio.create_task(self._liveness_probe(handle, slot)),
            asyncio.create_task(self._readiness_probe(handle, slot)),
        ]
        for probe in probes:
            probe.add_done_callback(_log_crash)
        try:
            await handle.exited.wait()
        finally:
            for probe in probes:
                probe.cancel()
            await asyncio.gather(*probes, return_exceptions=True)

    async def _liveness_probe(self, handle: WorkerHandle, slot: _Slot) -> None:
        """Kill the worker after failure_threshold failed pings in a row; the slot loop replaces it."""
        probe = self._liveness
        async for ok in _pings(handle, probe):
            slot.liveness_failures = 0 if ok else slot.liveness_failures + 1
            if slot.liveness_failures >= probe.failure_threshold:
                log.warning(
                    "%s (pid %s) failed %d liveness probes in a row (%d s timeout each); killing it",
                    handle.name,
                    handle.pid,
                    slot.liveness_failures,
                    probe.timeout,
                )
                await handle.kill()
                return

    async def _readiness_probe(self, handle: WorkerHandle, slot: _Slot) -> None:
        """Take the worker out of rotation after failure_threshold failed pings; back after success_threshold."""
        probe = self._readiness
        successes = 0
        async for ok in _pings(handle, probe):
            if ok:
                slot.readiness_failures, successes = 0, successes + 1
                if slot.state == "Unready" and successes >= probe.success_threshold:
                    slot.state = "Ready"
                    self._set_ready(handle, True)
            else:
                slot.readiness_failures, successes = slot.readiness_failures + 1, 0
                if slot.state == "Ready" and slot.readiness_failures >= probe.failure_threshold:
                    log.warning(
                        "%s failed %d readiness probes in a row; out of rotation", handle.name, slot.readiness_failures
                    )
                    slot.state = "Unready"
                    self._set_ready(handle, False)

    def _set_ready(self, handle: WorkerHandle, ready: bool) -> None:
        if ready and handle not in self.ready_workers:
            self.ready_workers = [*self.ready_workers, handle]
        elif not ready and handle in self.ready_workers:
            self.ready_workers = [w for w in self.ready_workers if w is not handle]
        try:
            self._on_change()
        except Exception:  # the router reads ready_workers directly; a failed rebuild must not stop supervising
            log.exception("%s: updating the routes failed", handle.name)


async def _pings(handle: WorkerHandle, probe: ProbeSettings) -> AsyncIterator[bool]:
    """Ping on the probe's settings: after initial_delay, one ping every period, each failing after timeout.

    As the kubelet does, `period` runs from the start of one probe to the start of the next, so a ping that times
    out does not stretch the interval (unless the timeout is longer than the period).
    """
    loop = asyncio.get_running_loop()
    await asyncio.sleep(probe.initial_delay)
    while True:
        started = loop.time()
        yield await handle.ping(probe.timeout)
        await asyncio.sleep(max(0.0, started + probe.period - loop.time()))


def _utc(stamp: float) -> str:
    moment = datetime.datetime.fromtimestamp(stamp, datetime.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


async def _start_failure(handle: WorkerHandle, exc: Exception) -> str:
    """What to report for a failed start; an unexpected error is logged with its traceback and its process killed."""
    if isinstance(exc, WorkerStartError):
        return exc.message
    log.error("%s: starting it failed unexpectedly", handle.name, exc_info=exc)
    with contextlib.suppress(Exception):
        await handle.kill()
    return f"worker {handle.name} could not be started: {exc}"


def _log_crash(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("a probe stopped unexpectedly; the worker is no longer probed", exc_info=task.exception())
