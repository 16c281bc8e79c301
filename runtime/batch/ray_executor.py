"""`RayExecutor`: a batch deployment's workers as actors on an existing Ray cluster (`settings.executor: ray`).

One actor per slot (instance x process): its constructor runs the script's init() once, as Azure runs it once per
worker process, and each mini-batch is one method call (runtime.worker.ray_actor). Each actor is driven by a small
local worker process (runtime.worker.ray_proxy) that the executor starts through WorkerHandle like any batch
worker, so timeouts, kills, WorkerLost and restarts are the local executor's, and Ray's own process rules (its
core worker ends a driver whose cluster went away) can end that worker but never serve, which does not import
Ray at all. The queue, the leases and the exactly-once bookkeeping stay in modelyard; Ray supplies the processes.

An actor asks for the instance's cores as `num_cpus` and gets the environment a local worker gets (worker_env);
it is not pinned (Ray's CPUs are a count). A run() past its timeout is answered with the stack it hung in, the
actor killed (`ray.kill`) and the worker replaced; one too stuck to answer is a TimeoutError and its worker is
killed, which ends the actor with it (Ray kills an actor whose owner died).
"""

from __future__ import annotations

import asyncio
import itertools
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec

from runtime.batch.executors import START_TIMEOUT_S, BatchTarget, BatchWorker, worker_env, worker_key
from runtime.batch.jobs import Job
from runtime.control.worker_handle import WorkerHandle
from runtime.ipc.messages import Failure, MiniBatchDone, RayPlacement
from runtime.spec import split_ray_address

#: For every process that talks to Ray: no usage reports leave the machine.
RAY_ENV = {"RAY_USAGE_STATS_ENABLED": "0"}
#: Ray rewrites a loopback address to the machine's network address unless it runs single-node; a cluster named
#: by a loopback address is on this machine, so it is reached (and reaches its drivers) on loopback only.
LOOPBACK_ENV = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
_LOOPBACK = ("127.", "localhost", "::1")

LogPath = Callable[[str, str, int], Path]


class RayExecutor:
    """Batch workers as Ray actors on the cluster at `address` (HOST:PORT of its head)."""

    def __init__(
        self,
        *,
        address: str,
        socket_dir: Path,
        log_path: LogPath,
        cores_per_instance: int = 1,
        start_timeout: float = START_TIMEOUT_S,
    ) -> None:
        host, _ = split_ray_address(address)
        self._address = address
        self._socket_dir = socket_dir
        self._log_path = log_path
        self._cores_per = cores_per_instance
        self._start_timeout = start_timeout
        self._ids = itertools.count()
        self._env = {**RAY_ENV, **(LOOPBACK_ENV if host.startswith(_LOOPBACK) else {})}

    async def start(self, target: BatchTarget, job: Job, instance: int, process: int) -> BatchWorker:
        """Start the slot's worker and its actor, and wait for the actor's init(); WorkerStartError when it fails."""
        cores = self._cores_per
        load, actor_env = worker_env(target, job, cores)
        name = f"{target.deployment}-{instance}" + (f".{process}" if process else "")
        log_path = self._log_path(target.endpoint, target.deployment, instance)
        placement = RayPlacement(self._address, cores, actor_env, str(log_path), name)
        handle = WorkerHandle(
            name=name,
            socket_path=self._socket_dir / f"r{os.getpid():x}-{next(self._ids)}.sock",
            log_path=log_path,
            env={**os.environ, **self._env},
            cores=(),
            load=msgspec.structs.replace(load, ray=placement),
        )
        try:
            await handle.start(self._start_timeout)
        except BaseException:
            await handle.kill()
            raise
        worker = BatchWorker(
            name=name,
            key=worker_key(target, job, instance, process),
            instance=instance,
            cores=tuple(range(cores)),  # Ray's CPUs are a count, not core ids: usage is counted from it
            handle=handle,
            endpoint=target.endpoint,
            deployment=target.deployment,
        )
        worker.pid = handle.pid
        return worker

    async def run(
        self, worker: BatchWorker, files: list[str], timeout_s: float, after: asyncio.Future[Any] | None = None
    ) -> MiniBatchDone | Failure:
        """run() on the worker's actor (mini-batches sent behind one another wait in the worker, which passes them
        to the actor in turn); see WorkerHandle.run_mini_batch."""
        return await _handle(worker).run_mini_batch(files, timeout_s, after=after)

    async def stop(self, worker: BatchWorker, *, kill: bool = False) -> None:
        """Stop the worker (at once with `kill`); its actor ends with it."""
        handle = _handle(worker)
        await (handle.kill() if kill else handle.stop())

    def alive(self, worker: BatchWorker) -> bool:
        """Whether the worker (and so its actor) can take another mini-batch."""
        return _handle(worker).alive


def _handle(worker: BatchWorker) -> WorkerHandle:
    handle = worker.handle
    assert isinstance(handle, WorkerHandle)
    return handle
