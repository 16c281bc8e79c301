"""Runs batch jobs: lists them, starts their deployment's workers, drives mini-batches through the queue.

One task (`BatchRunner.run`) watches the store. A job not yet listed is enumerated in a thread; a listed one
runs in its deployment's lane, one job at a time per deployment, in the store's claim order (priority, then age),
so more jobs than workers wait rather than being refused. A job runs on instance_count x
max_concurrency_per_instance workers (`runtime.batch.slots`), each claiming mini-batches under a lease it renews
while run() works. A Finalizing job's output file is written in a thread. Workers outlive their job by the idle
period, in case the next job can use them, then stop: no job, no worker process.

Low-priority jobs wait while a normal one is unfinished and give their cores back to online deployments under
load (`runtime.batch.priority`): the runner looks at the gate on every tick, and their slots stop at the next look.

On start every lease is released (each was held by a runner that stopped) and every unfinished job picked up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine, Iterable
from typing import Any

import msgspec

from runtime.batch import joblogs
from runtime.batch.executors import BatchWorker, Executor, Lookup
from runtime.batch.jobs import CLAIMABLE, TERMINAL, Job, JobState, Priority
from runtime.batch.priority import CALM_S, Gate, OnlineLoad, may_run, next_gate
from runtime.batch.slots import JobRun, Timing
from runtime.batch.store import BatchStore
from runtime.errors import ModelyardError

log = logging.getLogger("modelyard.batch")

#: How long a worker with no job waits for the next one before it stops.
IDLE_S = 60.0


class BatchOptions(msgspec.Struct, frozen=True, kw_only=True):
    """serve's batch options."""

    idle_s: float = IDLE_S  #: how long a worker with no job waits for the next one before it stops
    calm_s: float = CALM_S  #: how long the online load must stay calm before low-priority jobs resume
    ray_address: str | None = None  #: HOST:PORT of the Ray cluster `settings.executor: ray` deployments use


class BatchRunner:
    """Runs every unfinished batch job of a store on an executor's workers."""

    def __init__(
        self,
        *,
        store: BatchStore,
        lookup: Lookup,
        executor: Executor,
        clock: Callable[[], float] = time.time,
        idle_s: float = IDLE_S,
        timing: Timing | None = None,
        online: Callable[[], Iterable[OnlineLoad]] = lambda: (),
        calm_s: float = CALM_S,
    ) -> None:
        self._store = store
        self._lookup = lookup
        self._executor = executor
        self._clock = clock
        self._idle_s = idle_s
        self._timing = timing or Timing()
        self._lanes: dict[tuple[str, str], asyncio.Task[None]] = {}
        self._chores: dict[str, asyncio.Task[None]] = {}  #: job name -> its enumerate or finalize
        self._current: dict[tuple[str, str], str] = {}  #: lane -> the job it runs
        self._finalizing: set[str] = set()
        self._idle: dict[str, tuple[BatchWorker, float, tuple[str, str]]] = {}  #: key -> worker, since, deployment
        self._busy: dict[int, BatchWorker] = {}
        self._stoppers: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self._online = online
        self._calm_s = calm_s
        self._gate = Gate()

    def workers(self) -> list[BatchWorker]:
        """Every worker started and not stopped: those serving a job and the idle ones."""
        return [*self._busy.values(), *(w for w, _, _ in self._idle.values())]

    def wake(self) -> None:
        """Look at the store now (a job was submitted or canceled) rather than at the next poll."""
        self._wake.set()

    async def run(self) -> None:
        """Pick up every unfinished job, then run jobs as they come until cancelled; stops every worker on exit."""
        released = self._store.release_all(self._clock())
        if released:
            log.info("released %d mini-batch leases of a runner that stopped", released)
        try:
            while True:
                self._tick()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._timing.poll_s):
                        await self._wake.wait()
                self._wake.clear()
        finally:
            await self._shutdown()

    async def _shutdown(self) -> None:
        tasks = [*self._lanes.values(), *self._chores.values()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        idle = [w for w, _, _ in self._idle.values()]
        self._idle.clear()
        await asyncio.gather(*(self._executor.stop(w, kill=True) for w in idle), return_exceptions=True)
        await asyncio.gather(*self._stoppers, return_exceptions=True)

    def _tick(self) -> None:
        now = self._clock()
        jobs = self._store.unfinished()
        gate = next_gate(self._gate, jobs, self._online(), now, self._calm_s)
        if gate.reason != self._gate.reason and any(j.priority is Priority.LOW for j in jobs):
            log.info("low-priority batch jobs %s", f"wait: {gate.reason}" if gate.reason else "may run")
        self._gate = gate
        for job in jobs:
            lane = (job.endpoint, job.deployment)
            if job.name in self._chores or job.name in self._finalizing:
                continue
            if job.state is JobState.QUEUED and not job.enumerated:
                self._chore(job.name, self._enumerate(job.name))
            elif job.state is JobState.FINALIZING and self._current.get(lane) != job.name:
                self._chore(job.name, self._finalize(job.name))
            elif job.state is JobState.CANCEL_REQUESTED and self._current.get(lane) != job.name:
                self._store.sweep(now)  # a job canceled before it ran holds no lease: it is Canceled now
                self._ended(self._store.job(job.name))
            elif job.state in CLAIMABLE and lane not in self._lanes and may_run(job, gate):
                task = asyncio.create_task(self._lane(lane), name=f"batch lane {lane[0]}/{lane[1]}")
                self._lanes[lane] = task
        for key, (worker, since, _) in list(self._idle.items()):
            if now - since >= self._idle_s:
                del self._idle[key]
                self._stop_later(worker)

    def _chore(self, name: str, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro, name=f"batch chore {name}")
        self._chores[name] = task

        def done(_: asyncio.Task[None]) -> None:
            self._chores.pop(name, None)
            self._wake.set()

        task.add_done_callback(done)

    async def _enumerate(self, name: str) -> None:
        job = await asyncio.to_thread(self._store.enumerate, name, self._clock())
        self._ended(job)

    async def _finalize(self, name: str) -> None:
        self._finalizing.add(name)
        try:
            job = await asyncio.to_thread(self._store.finalize, name, self._clock())
        except ModelyardError as exc:  # e.g. the disk is full: the job stays Finalizing and is tried again
            log.warning("job %s: writing its output failed: %s; it is tried again", name, exc.message)
            await asyncio.sleep(self._timing.poll_s * 10)
            return
        finally:
            self._finalizing.discard(name)
        self._ended(job)

    def _ended(self, job: Job) -> None:
        if job.state in TERMINAL:
            now = self._clock()
            joblogs.write_progress(job, now)
            joblogs.write_result(job, now)

    def _stop_later(self, worker: BatchWorker) -> None:
        task = asyncio.create_task(self._executor.stop(worker))
        self._stoppers.add(task)
        task.add_done_callback(self._stoppers.discard)

    async def _lane(self, lane: tuple[str, str]) -> None:
        try:
            while True:
                job = next(
                    (
                        j
                        for j in self._store.unfinished()
                        if (j.endpoint, j.deployment) == lane
                        and j.enumerated
                        and j.state in CLAIMABLE
                        and may_run(j, self._gate)
                    ),
                    None,
                )
                if job is None:
                    return
                self._current[lane] = job.name
                try:
                    await self._run_job(job)
                except Exception:  # a lane that ended here would leave the deployment's jobs waiting for good
                    log.exception("job %s: running it failed unexpectedly; it is tried again", job.name)
                    await asyncio.sleep(self._timing.poll_s * 10)
                if self._store.job(job.name).state in CLAIMABLE:  # its workers could not go on: pause first
                    await asyncio.sleep(self._timing.poll_s)
        finally:
            self._lanes.pop(lane, None)
            self._current.pop(lane, None)
            self._wake.set()

    async def _run_job(self, job: Job) -> None:
        try:
            target = self._lookup(job.endpoint, job.deployment)
        except ModelyardError as exc:
            self._ended(self._store.abort(job.name, self._clock(), f"cannot run the job: {exc.message}"))
            return
        lane = (job.endpoint, job.deployment)
        reusable = {k: w for k, (w, _, d) in self._idle.items() if d == lane}
        for key in reusable:
            del self._idle[key]
        run = JobRun(
            store=self._store,
            executor=self._executor,
            target=target,
            job=job,
            clock=self._clock,
            timing=self._timing,
            busy=self._busy,
            preempt=(lambda: self._gate.reason) if job.priority is Priority.LOW else (lambda: None),
        )
        kept = await run.run(reusable)
        now = self._clock()
        for worker in kept:
            self._idle[worker.key] = (worker, now, lane)
        self._store.sweep(now)
        ended = self._store.job(job.name)
        if ended.state is JobState.FINALIZING:
            await self._finalize(job.name)
        else:
            self._ended(ended)
