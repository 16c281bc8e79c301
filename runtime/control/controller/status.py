"""The sampler loop in the controller's tasks, and the status snapshot built from what it read."""

from __future__ import annotations

import asyncio
import logging

from runtime.batch.executors import BatchWorker
from runtime.batch.jobs import Job
from runtime.control.controller.core import ControllerCore
from runtime.control.controller.jobs import JobOps
from runtime.control.monitor import BatchInput, EndpointInput, Monitor, OnlineInput
from runtime.control.registry import DeploymentRecord
from runtime.control.usage import UsageStore
from runtime.metrics.stats import DeploymentStats
from runtime.status import Status

log = logging.getLogger("modelyard.controller")


class StatusOps:
    """Samples workers once a period and answers `GET /api/status`."""

    def __init__(self, core: ControllerCore, jobs: JobOps, *, sample_period_s: float = 1.0) -> None:
        self._core = core
        self._jobs = jobs
        self.monitor = Monitor(
            UsageStore(core.state.db),
            cores=core.cores,
            gpus=core.gpus,
            notes=[core.gpu_note] if core.gpu_note else [],
            period_s=sample_period_s,
        )

    def start(self) -> None:
        """Start the sampler loop among the server's tasks."""
        self._core.loop("sampler", self._sample_loop)

    def close(self) -> None:
        """Save the cost basis (after the core has stopped)."""
        self.monitor.close()

    async def _sample_loop(self) -> None:
        failures = 0
        while True:
            try:
                self.monitor.tick(self._online(), self._batch_inputs(with_jobs=False))
                self._core.mirrors.flush()
                failures = 0
            except Exception:  # a reading that fails must not end sampling for the life of the server
                failures += 1
                if failures == 1 or failures % 600 == 0:  # the traceback once, not once a second
                    log.exception("sampling the workers failed %d time(s) in a row; trying on", failures)
            await asyncio.sleep(self.monitor.period_s)

    def snapshot(self) -> Status:
        """The snapshot of everything, from the last sample."""
        return self.monitor.snapshot(self._endpoint_inputs(), self._online(), self._batch_inputs(with_jobs=True))

    def request_stats(self) -> list[DeploymentStats]:
        """The router's counts: per deployment, per endpoint for refusals, and for endpoints that do not exist."""
        out = [self._core.router.unrouted]
        for route in self._core.router.endpoints.values():
            out.append(route.front)
            out.extend(d.stats for d in route.deployments.values())
        return out

    def _online(self) -> list[OnlineInput]:
        return [self.online_input(rec) for rec in self._core.registry.deployments()]

    def online_input(self, rec: DeploymentRecord) -> OnlineInput:
        """What the monitor reads of one online deployment: its record, workers and route."""
        sup = self._core.sups.get((rec.endpoint, rec.name))
        table = self._core.router.endpoints.get(rec.endpoint.lower())
        return OnlineInput(
            endpoint=rec.endpoint,
            name=rec.name,
            state=rec.state,
            instance_count=rec.spec.instance_count,
            created_at=rec.created_at,
            workers=tuple(sup.workers(measure=False)) if sup is not None else (),
            route=table.deployments.get(rec.name) if table is not None else None,
        )

    def _batch_inputs(self, *, with_jobs: bool) -> list[BatchInput]:
        deployments = self._core.batch.deployments()
        workers: dict[tuple[str, str], list[BatchWorker]] = {}
        runner = self._jobs.runner
        running = runner.workers() if runner is not None else []
        jobs: dict[tuple[str, str], list[Job]] = {}
        if with_jobs:
            for job in self._jobs.store.jobs():
                jobs.setdefault((job.endpoint, job.deployment), []).append(job)
        for worker in running:
            workers.setdefault((worker.endpoint, worker.deployment), []).append(worker)
        return [
            BatchInput(
                endpoint=d.endpoint,
                name=d.name,
                instance_count=d.spec.settings.instance_count,
                jobs=tuple(jobs.get((d.endpoint, d.name), ())),
                workers=tuple(workers.get((d.endpoint, d.name), ())),
            )
            for d in deployments
        ]

    def _endpoint_inputs(self) -> list[EndpointInput]:
        out = []
        for ep in self._core.registry.endpoints():
            table = self._core.router.endpoints.get(ep.name.lower())
            front = table.front if table is not None else None
            out.append(EndpointInput(name=ep.name, kind="online", traffic=ep.traffic, mirror=ep.mirror, front=front))
        for bep in self._core.batch.endpoints():
            default = bep.spec.defaults.deployment_name
            traffic = {default: 100} if default else {}
            out.append(EndpointInput(name=bep.name, kind="batch", traffic=traffic, mirror={}))
        return out
