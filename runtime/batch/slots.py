"""One batch job running on its workers: a loop per slot that claims, runs, renews and records mini-batches.

A slot is one worker process (instance_count x max_concurrency_per_instance of them). It claims the job's next
mini-batch under a lease, sends it to run() and renews the lease while run() works, with the next one claimed and
sent behind it so that the worker never waits on this process between mini-batches; a renewal refused (the job
is being canceled, or failed on its error threshold) kills the worker and gives the mini-batch back, so a cancel
takes effect within `Timing.renew_s`. A timed-out run() is a failed attempt and its worker (which exits, as
Azure's does) is replaced by a new one whose init() runs again; so is a worker that died under run().
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

import msgspec

from runtime.batch import joblogs
from runtime.batch.executors import BatchTarget, BatchWorker, Executor, worker_key
from runtime.batch.jobs import CLAIMABLE, Job, MiniBatch
from runtime.batch.store import BatchStore
from runtime.errors import ModelyardError, WorkerLost
from runtime.ipc.messages import Failure, MiniBatchDone

log = logging.getLogger("modelyard.batch")


class Timing(msgspec.Struct, frozen=True, kw_only=True):
    """How often the runner looks, and for how long it leases."""

    poll_s: float = 0.25  #: how often an idle slot and the runner look at the store
    lease_s: float = 30.0  #: a lease outlives a runner that stopped by this much
    renew_s: float = 0.5  #: renewing is also how a slot hears of a cancel: well under 2 s
    progress_s: float = 1.0  #: at most one progress line this often


class _Replace(Exception):
    """The slot's worker is gone or stuck; start another."""


class _Stop(Exception):
    """The job is over for the slot's worker (canceled, or failed on its threshold); stop it."""


class _Preempted(_Stop):
    """A low-priority job gives its cores back; the reason is the message."""


_Run = asyncio.Future[MiniBatchDone | Failure]
#: A mini-batch sent to a worker, and its run() call.
_Running = tuple[MiniBatch, _Run]


def _fit(run: _Run, alive: bool) -> bool:
    """Whether the worker can take the next mini-batch right after answering `run` (else it is replaced first)."""
    if run.cancelled() or run.exception() is not None:
        return False
    answer = run.result()
    return alive and (isinstance(answer, MiniBatchDone) or answer.code != "timeout")


class JobRun:
    """The workers of one job and their slot loops."""

    def __init__(
        self,
        *,
        store: BatchStore,
        executor: Executor,
        target: BatchTarget,
        job: Job,
        clock: Callable[[], float],
        timing: Timing,
        busy: dict[int, BatchWorker],
        preempt: Callable[[], str | None] = lambda: None,
    ) -> None:
        self._store = store
        self._executor = executor
        self._target = target
        self._job = job
        self._clock = clock
        self._timing = timing
        self._busy = busy
        self._preempt = preempt  #: why the job must give its cores back now, or None
        self._preempted = False
        self._changed = asyncio.Event()
        self._last_progress = 0.0
        self._mine: dict[int, BatchWorker] = {}  #: workers this run started or took, not stopped yet

    async def run(self, reusable: dict[str, BatchWorker]) -> list[BatchWorker]:
        """Run the job until nothing is left for its workers; the workers still fit to serve again."""
        settings = self._target.spec.settings
        instances = self._job.settings.instance_count or settings.instance_count  # the job's --instance-count
        cap = self._target.max_instances
        if cap is not None and instances > cap:
            joblogs.write_note(
                self._job,
                f"the job asks for {instances} instances; its compute cluster has max_instances {cap}, so it runs "
                f"on {cap}",
                self._clock(),
            )
            instances = cap
        # Each instance's first process before any instance's second, so that fewer slots still spread out.
        slots = [(i, p) for p in range(settings.max_concurrency_per_instance) for i in range(instances)]
        job = self._store.job(self._job.name)
        # No more workers than mini-batches are left to run: a small job does not start idle processes.
        slots = slots[: max(1, job.mini_batches_total - job.mini_batches_done - job.mini_batches_failed)]
        workers: list[BatchWorker] = []
        try:
            if job.state not in CLAIMABLE:
                return [w for w in reusable.values() if self._executor.alive(w)]
            error = await self._start(slots, reusable, workers)
            for spare in reusable.values():
                await self._executor.stop(spare)
            if error is not None:
                for worker in workers:
                    await self._stop(worker)
                self._abort(error)
                return []
            joblogs.write_progress(self._store.job(self._job.name), self._clock())
            async with asyncio.TaskGroup() as group:
                loops = [group.create_task(self._slot(w, i, p)) for w, (i, p) in zip(workers, slots, strict=True)]
            return [w for w in (t.result() for t in loops) if w is not None]
        except BaseException:
            for worker in list(self._mine.values()):
                await self._stop(worker, kill=True)
            raise

    def _abort(self, error: str) -> None:
        job = self._store.abort(self._job.name, self._clock(), error)
        joblogs.write_job_error(job, error, self._clock())

    def _hold(self, worker: BatchWorker) -> None:
        self._busy[id(worker)] = worker
        self._mine[id(worker)] = worker

    async def _start(
        self, slots: list[tuple[int, int]], reusable: dict[str, BatchWorker], workers: list[BatchWorker]
    ) -> str | None:
        errors: list[str] = []

        async def one(instance: int, process: int) -> BatchWorker | None:
            key = worker_key(self._target, self._job, instance, process)
            found = reusable.pop(key, None)
            if found is not None and self._executor.alive(found):
                self._hold(found)
                return found
            try:
                worker = await self._executor.start(self._target, self._job, instance, process)
            except ModelyardError as exc:
                errors.append(exc.message)
                return None
            self._hold(worker)
            return worker

        started = await asyncio.gather(*(one(i, p) for i, p in slots))
        workers.extend(w for w in started if w is not None)
        if errors:
            return f"the deployment's workers could not start: {errors[0]}"
        return None

    async def _stop(self, worker: BatchWorker, *, kill: bool = False) -> None:
        self._busy.pop(id(worker), None)
        self._mine.pop(id(worker), None)
        with contextlib.suppress(Exception):
            await self._executor.stop(worker, kill=kill)

    def _account(self, worker: BatchWorker, since: float) -> float:
        # An instance's processes share its cores and GPUs: each adds its share of what the instance holds.
        now = self._clock()
        held = max(0.0, now - since) / self._target.spec.settings.max_concurrency_per_instance
        self._store.add_usage(self._job.name, max(1, len(worker.cores)) * held, len(worker.gpus) * held)
        return now

    def _claim(self, worker: BatchWorker) -> MiniBatch | None:
        return self._store.claim(
            worker.name,
            self._clock(),
            self._timing.lease_s,
            endpoint=self._job.endpoint,
            deployment=self._job.deployment,
            job=self._job.name,
        )

    def _send(self, worker: BatchWorker, mb: MiniBatch, after: _Run | None = None) -> _Running:
        timeout = self._job.settings.timeout_s
        run = asyncio.ensure_future(self._executor.run(worker, list(mb.files), timeout, after=after))
        return mb, run

    def _give_back(self, running: _Running | MiniBatch | None) -> None:
        if running is None:
            return
        if isinstance(running, tuple):
            running[1].cancel()
            running = running[0]
        self._store.requeue(running, self._clock())

    async def _slot(self, worker: BatchWorker, instance: int, process: int) -> BatchWorker | None:
        """Claim and run mini-batches until the job has none left; the worker, or None once it is stopped.

        The slot keeps two mini-batches in its worker: the next is claimed and sent as soon as the current one is,
        and waits in the worker's queue, so the worker goes from one run() to the next without waiting for this
        process to record the answer and claim again.
        """
        mark = self._clock()
        current: BatchWorker | None = worker
        sent: _Running | None = None
        try:
            while current is not None:
                if sent is None:
                    if (reason := self._preempt()) is not None:
                        raise _Preempted(reason)
                    mb = self._claim(current)
                    if mb is None:
                        if self._store.job(self._job.name).state not in CLAIMABLE:
                            break
                        # The rest are leased by other slots; one may come back for a retry.
                        self._changed.clear()
                        with contextlib.suppress(TimeoutError):
                            async with asyncio.timeout(self._timing.poll_s):
                                await self._changed.wait()
                        continue
                    sent = self._send(current, mb)
                (mb, run), sent = sent, None
                if (ahead := self._claim(current)) is not None:
                    sent = self._send(current, ahead, after=run)
                try:
                    if not await self._wait(mb, run, sent):
                        sent = None  # it lost its lease and was given back
                    if (reason := self._preempt()) is not None:
                        self._give_back(sent)
                        sent = None
                        self._record(current, mb, run)
                        raise _Preempted(reason)
                    fit = _fit(run, self._executor.alive(current))
                    if not fit:
                        self._give_back(sent)  # it waited in a worker that is being replaced: no attempt counted
                        sent = None
                    self._record(current, mb, run)
                    if not fit:
                        raise _Replace  # the worker ended after it answered
                except _Stop as stop:  # the job is over for this worker: canceled, failed or pre-empted
                    sent = None  # given back already
                    if isinstance(stop, _Preempted):
                        self._note_preempted(str(stop))
                    await self._stop(current, kill=True)
                    mark = self._account(current, mark)
                    current = None
                except _Replace:
                    self._give_back(sent)
                    sent = None
                    await self._stop(current, kill=True)
                    mark = self._account(current, mark)
                    current = None
                    if self._store.job(self._job.name).state in CLAIMABLE:
                        current = await self._replacement(instance, process)
                    continue
                finally:
                    self._changed.set()
                    self._progress()
                if current is not None:  # as it goes, so a job's usage is current while it runs and survives a crash
                    mark = self._account(current, mark)
        except _Preempted as stop:  # between mini-batches: nothing is held
            self._note_preempted(str(stop))
            if current is not None:
                await self._stop(current, kill=True)
                mark = self._account(current, mark)
                current = None
        except BaseException:
            self._give_back(sent)
            if current is not None:
                await self._stop(current, kill=True)
            raise
        finally:
            if current is not None:
                self._account(current, mark)
        self._busy.pop(id(current), None)
        self._mine.pop(id(current), None)
        return current

    async def _replacement(self, instance: int, process: int) -> BatchWorker | None:
        try:
            worker = await self._executor.start(self._target, self._job, instance, process)
        except ModelyardError as exc:
            self._abort(f"a worker could not be restarted: {exc.message}")
            return None
        self._hold(worker)
        return worker

    async def _wait(self, mb: MiniBatch, run: _Run, ahead: _Running | None) -> bool:
        """Wait for run() on `mb`, renewing its lease and that of the mini-batch sent after it; False when the one
        after it lost its lease (it was given back; the worker's answer for it will be ignored).

        Raises _Stop, both mini-batches given back, when a renewal is refused: the job was canceled or failed on its
        threshold (or the lease went to another worker), and the worker, which cannot be interrupted inside run(),
        goes; _Preempted likewise when the job must give its cores back.
        """
        kept = True
        try:
            while True:
                done, _ = await asyncio.wait({run}, timeout=self._timing.renew_s)
                if done:
                    return kept
                now = self._clock()
                if (reason := self._preempt()) is not None:
                    self._give_back((mb, run))
                    self._give_back(ahead)
                    raise _Preempted(reason)
                if not self._store.renew(mb, now, self._timing.lease_s):
                    self._give_back((mb, run))
                    self._give_back(ahead)
                    raise _Stop
                if kept and ahead is not None and not self._store.renew(ahead[0], now, self._timing.lease_s):
                    # Lost to another worker, or the job is ending (the next renewal of mb says which).
                    self._give_back(ahead)
                    kept = False
        except _Stop:
            raise
        except BaseException:
            self._give_back((mb, run))
            self._give_back(ahead)
            raise

    def _record(self, worker: BatchWorker, mb: MiniBatch, run: _Run) -> None:
        """Record the answer of run() on `mb`; _Replace when the worker is gone or stuck after a failed attempt."""
        settings = self._job.settings
        now = self._clock()
        try:
            answer = run.result()
        except TimeoutError:
            error = (
                f"run() did not return within the mini-batch timeout of {settings.timeout_s:g} s and the worker "
                "did not answer; it was killed\n"
            )
            self._failed(worker, mb, error, now)
            raise _Replace from None
        except WorkerLost as exc:
            self._failed(worker, mb, f"{exc.message} (while run() worked on this mini-batch)\n", now)
            raise _Replace from None
        if isinstance(answer, MiniBatchDone):
            self._store.complete(mb, answer.text, answer.rows, now)
            return
        self._failed(worker, mb, answer.message, now)
        if answer.code == "timeout" or not self._executor.alive(worker):
            raise _Replace

    def _note_preempted(self, reason: str) -> None:
        if not self._preempted:
            self._preempted = True
            note = f"pre-empted: {reason}; its mini-batches in progress go back to the queue, and it resumes later"
            log.info("job %s %s", self._job.name, note)
            joblogs.write_note(self._job, note, self._clock())

    def _failed(self, worker: BatchWorker, mb: MiniBatch, error: str, now: float) -> None:
        outcome = self._store.fail(mb, error, now)
        if outcome is not None:
            joblogs.write_error(self._store.job(self._job.name), mb, worker.name, error, now)
            log.info("job %s: mini-batch %d failed on %s (%s)", self._job.name, mb.index, worker.name, outcome)

    def _progress(self) -> None:
        now = self._clock()
        if now - self._last_progress >= self._timing.progress_s:
            self._last_progress = now
            joblogs.write_progress(self._store.job(self._job.name), now)
