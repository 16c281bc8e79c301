"""The sampler loop in the controller's tasks, and the status snapshot built from what it read."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from runtime.batch.executors import BatchWorker
from runtime.batch.jobs import Job
from runtime.control.controller.jobs import JobOps
from runtime.control.monitor import BatchInput, EndpointInput, Monitor, OnlineInput
from runtime.control.registry import DeploymentRecord
from runtime.control.usage import UsageStore
from runtime.metrics.stats import DeploymentStats
from runtime.status import Status

log = logging.getLogger("modelyard.controller")


class StatusOps(JobOps):
    """Samples workers once a period and answers `GET /api/status`."""

    def __init__(self, *args: Any, sample_period_s: float = 1.0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.monitor = Monitor(
            UsageStore(self.state.db),
            cores=self._cores,
            gpus=self._gpus,
            notes=[self._gpu_note] if self._gpu_note else [],
            period_s=sample_period_s,
        )

    async def start(self) -> None:
        """Start as the rest does, then the sampler loop."""
        await super().start()
        self._loop("sampler", self._sample_loop)

    async def stop(self) -> None:
        """Stop everything, then save the cost basis."""
        await super().stop()
        self.monitor.close()

    async def _sample_loop(self) -> None:
        failures = 0
        while True:
            try:
                self.monitor.tick(self._online(), self._batch_inputs(with_jobs=False))
                self.mirrors.flush()
                failures = 0
            except Exception:  # a reading that fails must not end sampling for the life of the server
                failures += 1
                if failures == 1 or failures % 600 == 0:  # the traceback once, not once a second
                    log.exception("sampling the workers failed %d time(s) in a row; trying on", failures)
            await asyncio.sleep(self.monitor.period_s)

    def status(self) -> Status:
        """The snapshot of everything, from the last sample."""
        return self.monitor.snapshot(self._endpoint_inputs(), self._online(), self._batch_inputs(with_jobs=True))

    def request_stats(self) -> list[DeploymentStats]:
        """The router's counts: per deployment, per endpoint for refusals, and for endpoints that do not exist."""
        out = [self.router.unrouted]
        for route in self.router.endpoints.values():
            out.append(route.front)
            out.extend(d.stats for d in route.deployments.values())
        return out

    def _online(self) -> list[OnlineInput]:
        return [self._online_input(rec) for rec in self.registry.deployments()]

    def _online_input(self, rec: DeploymentRecord) -> OnlineInput:
        sup = self._sups.get((rec.endpoint, rec.name))
        table = self.router.endpoints.get(rec.endpoint.lower())
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
        deployments = self.batch.deployments()
        workers: dict[tuple[str, str], list[BatchWorker]] = {}
        running = self._runner.workers() if self._runner is not None else []
        jobs: dict[tuple[str, str], list[Job]] = {}
        if with_jobs:
            for job in self.jobs.jobs():
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
        for ep in self.registry.endpoints():
            table = self.router.endpoints.get(ep.name.lower())
            front = table.front if table is not None else None
            out.append(EndpointInput(name=ep.name, kind="online", traffic=ep.traffic, mirror=ep.mirror, front=front))
        for bep in self.batch.endpoints():
            default = bep.spec.defaults.deployment_name
            traffic = {default: 100} if default else {}
            out.append(EndpointInput(name=bep.name, kind="batch", traffic=traffic, mirror={}))
        return out
