"""`DispatchExecutor`: each deployment's workers on the executor its `settings.executor` names.

`local` deployments run on the local executor; `ray` ones on a Ray executor made on first use (Ray itself is
imported only by the worker processes that drive its actors, so serve starts and works without it). A Ray
deployment on a server that names no Ray cluster fails its jobs up front, saying how to name one: serve never
starts a Ray of its own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from runtime.batch.executors import BatchTarget, BatchWorker, Executor
from runtime.batch.jobs import Job
from runtime.errors import WorkerLost, WorkerStartError
from runtime.ipc.messages import Failure, MiniBatchDone
from runtime.spec import ExecutorKind

#: Makes the Ray executor for the cluster at an address (HOST:PORT).
RayFactory = Callable[[str], Executor]


def ray_factory(socket_dir: Path, log_path: Callable[[str, str, int], Path]) -> RayFactory:
    """Ray executors whose workers log to `log_path(endpoint, deployment, instance)`, as local ones do."""

    def make(address: str) -> Executor:
        from runtime.batch.ray_executor import RayExecutor

        return RayExecutor(address=address, socket_dir=socket_dir, log_path=log_path)

    return make


def no_cluster(deployment: str) -> str:
    """Why a Ray deployment's job cannot run on a server without --ray-address, and what to do."""
    return (
        f"batch deployment {deployment!r} runs on Ray (settings.executor: ray), but this server names no Ray "
        "cluster: restart it with `modelyard serve --ray-address HOST:PORT` (the head of a running cluster), "
        "or set settings.executor=local"
    )


class DispatchExecutor:
    """The Executor the runner holds: local or Ray per deployment; a worker goes back to the one that made it."""

    def __init__(self, *, local: Executor, ray_address: str | None, ray_factory: RayFactory) -> None:
        self._local = local
        self._ray_address = ray_address
        self._ray_factory = ray_factory
        self._ray: Executor | None = None
        self._owners: dict[int, Executor] = {}

    def _for(self, target: BatchTarget) -> Executor:
        if target.spec.settings.executor is not ExecutorKind.RAY:
            return self._local
        if self._ray_address is None:
            raise WorkerStartError(no_cluster(target.deployment))
        if self._ray is None:
            self._ray = self._ray_factory(self._ray_address)
        return self._ray

    async def start(self, target: BatchTarget, job: Job, instance: int, process: int) -> BatchWorker:
        """Start the slot's worker on the deployment's executor."""
        executor = self._for(target)
        worker = await executor.start(target, job, instance, process)
        self._owners[id(worker)] = executor
        return worker

    async def run(
        self, worker: BatchWorker, files: list[str], timeout_s: float, after: asyncio.Future[Any] | None = None
    ) -> MiniBatchDone | Failure:
        """run() on the worker, through the executor that started it."""
        return await self._owner(worker).run(worker, files, timeout_s, after=after)

    async def stop(self, worker: BatchWorker, *, kill: bool = False) -> None:
        """Stop the worker through the executor that started it."""
        executor = self._owners.pop(id(worker), None)
        if executor is not None:
            await executor.stop(worker, kill=kill)

    def alive(self, worker: BatchWorker) -> bool:
        """Whether the worker can take another mini-batch; a stopped one cannot."""
        executor = self._owners.get(id(worker))
        return executor is not None and executor.alive(worker)

    def _owner(self, worker: BatchWorker) -> Executor:
        executor = self._owners.get(id(worker))
        if executor is None:
            raise WorkerLost(f"worker {worker.name} was stopped")
        return executor
