"""The control process's brain: applies management requests to the registry, supervisors and router tables.

`Controller` is composed of parts, each a class of its own verbs that is handed, in its constructor, the shared
`ControllerCore` (registry, supervisors, lock, routes, stores, tasks) and the other parts it calls: `models`,
`endpoints`, `deployments` and `scaling`, `autoscale` (Azure Monitor settings) and `autoscaling` (the loop that
applies them), `environments`, for batch `assets` (data, computes), `batch` and `jobs` (with the batch runner),
and `status` (the sampler loop and the status snapshot). The API calls the parts (`ctl.endpoints.create_endpoint`).
"""

from __future__ import annotations

from collections.abc import Callable

from runtime.batch.runner import BatchOptions
from runtime.control.controller.assets import AssetOps
from runtime.control.controller.autoscale import AutoscaleOps
from runtime.control.controller.autoscaling import SCALE_DOWN_STABILIZATION_S, AutoscalingOps
from runtime.control.controller.batch import BatchOps
from runtime.control.controller.core import ControllerCore
from runtime.control.controller.deployments import DeploymentOps
from runtime.control.controller.endpoints import EndpointOps
from runtime.control.controller.environments import EnvironmentOps, EnvironmentRequest
from runtime.control.controller.jobs import InvokeRequest, JobOps
from runtime.control.controller.models import ModelOps
from runtime.control.controller.scaling import ScaleOps
from runtime.control.controller.status import StatusOps
from runtime.envs.cache import EnvCache
from runtime.statedir import StateDir

__all__ = ["Controller", "EnvironmentRequest", "InvokeRequest"]


class Controller:
    """Owns the registry, one supervisor per deployment, and the router's tables, through its parts."""

    def __init__(
        self,
        state: StateDir,
        *,
        cores: list[int],
        gpus: list[int],
        random: Callable[[], float],
        gpu_note: str = "",
        token_lifetime_s: int = 3600,
        envs: EnvCache | None = None,
        batch: BatchOptions | None = None,
        sample_period_s: float = 1.0,
        scale_down_stabilization_s: float = SCALE_DOWN_STABILIZATION_S,
    ) -> None:
        self.core = ControllerCore(
            state,
            cores=cores,
            gpus=gpus,
            random=random,
            gpu_note=gpu_note,
            token_lifetime_s=token_lifetime_s,
            envs=envs,
        )
        core = self.core
        # In dependency order: each part is handed those it calls.
        self.models = ModelOps(core)
        self.endpoints = EndpointOps(core)
        self.environments = EnvironmentOps(core)
        self.scaling = ScaleOps(core)
        self.autoscale = AutoscaleOps(core)
        self.assets = AssetOps(core)
        self.jobs = JobOps(core, self.assets, batch=batch)
        self.batch = BatchOps(core, self.jobs)
        self.status = StatusOps(core, self.jobs, sample_period_s=sample_period_s)
        self.autoscaling = AutoscalingOps(
            core, self.scaling, self.autoscale, self.status, scale_down_stabilization_s=scale_down_stabilization_s
        )
        self.deployments = DeploymentOps(core, self.scaling, self.autoscaling)

    async def start(self) -> None:
        """Bring back every endpoint and deployment, then start the batch runner, the sampler and the autoscaler."""
        await self.core.start()
        self.jobs.start()
        self.status.start()
        self.autoscaling.start()

    async def stop(self) -> None:
        """Stop the batch runner, then every worker; then close the parts' tables and save the cost basis."""
        await self.jobs.stop()
        await self.core.stop()
        self.autoscale.close()
        self.jobs.close()
        self.status.close()
