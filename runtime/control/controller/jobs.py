"""The batch runner that runs the jobs, for the server's life.

The runner (`runtime.batch.runner.BatchRunner`) starts with the controller and stops with it, on the controller's
own queue (`BatchStore` over the state database) and a lookup over the batch registry. On start it releases every
lease a stopped server held and picks every unfinished job up again, so a restart resumes them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path
from typing import Any

from runtime.batch.executors import BatchTarget, LocalExecutor
from runtime.batch.runner import BatchRunner
from runtime.batch.store import BatchStore
from runtime.control.controller.batch import BatchOps

log = logging.getLogger("modelyard.jobs")


class JobOps(BatchOps):
    """The queue and the runner that runs every job."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.jobs = BatchStore(self.state.db)
        self._runner: BatchRunner | None = None
        self._runner_task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start as the batch resources do, then the runner, which resumes every unfinished job."""
        await super().start()
        executor = LocalExecutor(
            socket_dir=self._socket_dir,
            log_dir=self.state.root / "batch-logs",
            machine_cores=self._cores,
            taken=self._taken,
        )
        self._runner = BatchRunner(store=self.jobs, lookup=self._batch_target, executor=executor)
        self._runner_task = asyncio.get_running_loop().create_task(self._runner.run(), name="batch runner")

    async def stop(self) -> None:
        """Stop the runner (its workers are killed, their mini-batches given back), then everything else."""
        if self._runner_task is not None:
            self._runner_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._runner_task
        await super().stop()
        self.jobs.close()

    def _batch_target(self, endpoint: str, deployment: str) -> BatchTarget:
        rec = self.batch.deployment(endpoint, deployment)
        return BatchTarget(endpoint=rec.endpoint, deployment=rec.name, spec=rec.spec, snapshot=Path(rec.snapshot))

    def _wake(self) -> None:
        if self._runner is not None:
            self._runner.wake()
