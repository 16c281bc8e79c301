"""Batch job operations: invoke, show, list, cancel; and the batch runner that runs the jobs, for the server's life.

The runner (`runtime.batch.runner.BatchRunner`) starts with the controller and stops with it, on the controller's
own queue (`BatchStore` over the state database) and a lookup over the batch registry. On start it releases every
lease a stopped server held and picks every unfinished job up again, so a restart resumes them.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any

import msgspec

from runtime.batch.dispatch import DispatchExecutor, ray_factory
from runtime.batch.executors import BatchTarget, LocalExecutor
from runtime.batch.jobs import TERMINAL, Job, JobSettings, Priority, new_job_name
from runtime.batch.priority import OnlineLoad
from runtime.batch.runner import BatchOptions, BatchRunner
from runtime.batch.store import BatchStore
from runtime.control.controller.access import AccessTokens
from runtime.control.controller.assets import AssetOps
from runtime.control.controller.core import ControllerCore
from runtime.control.controller.job_view import job_view
from runtime.control.plan import environment_python
from runtime.control.tasks import Task
from runtime.errors import Conflict, NotFound, SpecError
from runtime.spec import (
    BatchSettings,
    ComputeTier,
    DataAssetInput,
    DataType,
    load_instance_types,
    local_path,
    override_settings,
    parse_job_input,
    resolve_instance_type,
)

log = logging.getLogger("modelyard.jobs")


class InvokeRequest(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """`batch-endpoint invoke`: one input, where the output goes, and per-job settings."""

    input: str  #: a local path (absolute), a file:// URL, azureml:<name>:<version> or azureml:<name>@latest
    input_type: str | None = None  #: uri_folder or uri_file
    deployment_name: str | None = None  #: default: the endpoint's default deployment
    output_path: str | None = None  #: a local folder; default: <state>/jobs/<job>/outputs/score
    mini_batch_size: int | None = None
    instance_count: int | None = None
    priority: Priority | None = None  #: default: low on a cluster of tier low_priority, else normal
    set: list[str] = []  #: per-job overrides of the deployment's settings (override_settings)
    job_name: str | None = None


class JobOps:
    """The job verbs, and the runner that runs every job."""

    def __init__(self, core: ControllerCore, assets: AssetOps, *, batch: BatchOptions | None = None) -> None:
        self._core = core
        self._assets = assets
        self._batch_options = batch or BatchOptions()
        #: the queue of jobs and their mini-batches
        self.store = BatchStore(core.state.db)
        self._runner: BatchRunner | None = None
        self._runner_task: Task | None = None
        lifetime = self._core.router.tokens.lifetime_s if self._core.router.tokens is not None else 3600
        #: Bearer tokens of `POST /batch-endpoints/<e>/jobs`, as `account get-access-token` issues them
        self.access = AccessTokens(self._core.state.token_secret(), lifetime, time.time)

    def start(self) -> None:
        """Start the runner among the server's tasks; it resumes every unfinished job."""
        local = LocalExecutor(
            socket_dir=self._core.socket_dir,
            log_dir=self._core.state.root / "batch-logs",
            machine_cores=self._core.cores,
            machine_gpus=self._core.gpus,
            taken=self._core.taken,
        )
        executor = DispatchExecutor(
            local=local,
            ray_address=self._batch_options.ray_address,
            ray_factory=ray_factory(self._core.socket_dir, local.log_path),
        )
        self._runner = BatchRunner(
            store=self.store,
            lookup=self._batch_target,
            executor=executor,
            idle_s=self._batch_options.idle_s,
            online=self._online_load,
            calm_s=self._batch_options.calm_s,
        )
        self._runner_task = self._core.tasks.start("batch runner", self._runner.run)

    async def stop(self) -> None:
        """Stop the runner: its workers are killed, their mini-batches given back."""
        if self._runner_task is not None:
            self._runner_task.cancel()
            await self._runner_task.wait()

    def close(self) -> None:
        """Close the queue's connection (after the core has stopped)."""
        self.store.close()

    @property
    def runner(self) -> BatchRunner | None:
        """The runner, once started."""
        return self._runner

    def refuse_unfinished(self, endpoint: str, deployment: str | None) -> None:
        """Conflict while a job of the batch endpoint (or of one deployment of it) is unfinished."""
        # Its workers read the snapshot a delete removes, and its rows are owed to the job's output file.
        running = [j for j in self.store.jobs(endpoint, deployment) if j.state not in TERMINAL]
        if running:
            what = f"batch deployment {deployment!r}" if deployment else f"batch endpoint {endpoint!r}"
            names = ", ".join(j.name for j in running[:5]) + (" ..." if len(running) > 5 else "")
            raise Conflict(
                f"{what} has {len(running)} unfinished job(s) ({names}); wait for them or cancel them first "
                f"with `modelyard job cancel -n <job>`"
            )

    def _batch_target(self, endpoint: str, deployment: str) -> BatchTarget:
        rec = self._core.batch.deployment(endpoint, deployment)
        compute = self._core.batch.compute(rec.spec.compute).spec  # a compute in use cannot be deleted
        try:
            gpus = resolve_instance_type(compute.size, load_instance_types(self._core.state.instance_types)).gpus
        except SpecError:  # a size this machine does not know: its instances get no GPU
            gpus = 0
        env: dict[str, str] = {}
        python, _ = environment_python(env, Path(rec.snapshot), self._core.envs)
        return BatchTarget(
            endpoint=rec.endpoint,
            deployment=rec.name,
            spec=rec.spec,
            snapshot=Path(rec.snapshot),
            max_instances=compute.max_instances,
            gpus_per_instance=gpus,
            python=python,
            pythonpath=env.get("PYTHONPATH", ""),
        )

    def _online_load(self) -> list[OnlineLoad]:
        """Each online deployment's requests in flight and ready workers, for low-priority batch jobs to yield to."""
        return [
            OnlineLoad(endpoint=ep.name, deployment=d.name, inflight=d.inflight, workers=len(d.workers()))
            for ep in self._core.router.endpoints.values()
            for d in ep.deployments.values()
        ]

    def _wake(self) -> None:
        if self._runner is not None:
            self._runner.wake()

    # --- verbs -------------------------------------------------------------------------------------------------

    async def invoke_batch_endpoint(self, endpoint: str, req: InvokeRequest) -> dict[str, Any]:
        """batch-endpoint invoke: queue a job on the named or default deployment; it is returned at once."""
        ep = self._core.batch.endpoint(endpoint)
        if req.deployment_name is not None:
            deployment = self._core.batch.spelling("deployment", req.deployment_name, ep.name)
        elif ep.spec.defaults.deployment_name is not None:
            deployment = ep.spec.defaults.deployment_name
        else:
            raise SpecError(
                f"batch endpoint {ep.name!r} has no default deployment: name one with --deployment-name, or make "
                f"one the default with `modelyard batch-endpoint update -n {ep.name} --set "
                "defaults.deployment_name=<deployment>`"
            )
        dep = self._core.batch.deployment(ep.name, deployment)
        path = self._input_path(req)
        overrides = list(req.set)
        if req.mini_batch_size is not None:
            overrides.append(f"mini_batch_size={req.mini_batch_size}")
        if req.instance_count is not None:
            overrides.append(f"instance_count={req.instance_count}")
        settings = _job_settings(override_settings(dep.spec.settings, overrides))
        priority = req.priority
        if priority is None:
            tier = self._core.batch.compute(dep.spec.compute).spec.tier
            priority = Priority.LOW if tier is ComputeTier.LOW_PRIORITY else Priority.NORMAL
        settings = msgspec.structs.replace(settings, priority=priority)
        name = req.job_name if req.job_name is not None else new_job_name()
        if req.output_path is not None:
            try:
                output = local_path(req.output_path)
            except SpecError as exc:
                raise SpecError(f"--output-path: {exc.message}") from None
            if not os.path.isabs(output):
                raise SpecError(f"--output-path {req.output_path!r} is relative; give an absolute folder")
        else:
            output = str(self._core.state.root / "jobs" / name / "outputs" / "score")
        job = self.store.submit(
            endpoint=ep.name,
            deployment=dep.name,
            inputs=[path],
            output_folder=output,
            settings=settings,
            now=time.time(),
            name=name,
        )
        log.info("job %s queued on %s/%s", job.name, ep.name, dep.name)
        self._wake()
        return job_view(job, time.time())

    def _input_path(self, req: InvokeRequest) -> str:
        """The local file or folder a job reads, checked against its type."""
        parsed = parse_job_input(req.input, input_type=req.input_type)
        kind = parsed.type
        if isinstance(parsed, DataAssetInput):
            rec = self._assets.find_data(parsed.name, parsed.version, parsed.label)
            path = rec.spec.path
            if kind is not None and kind is not rec.spec.type:
                raise SpecError(
                    f"--input-type {kind} does not match data asset {rec.name}:{rec.version}, which is {rec.spec.type}"
                )
            kind = rec.spec.type
        else:
            path = parsed.path
            if not os.path.isabs(path):
                raise SpecError(f"--input {req.input!r} is relative; give an absolute path")
        if not os.path.exists(path):
            raise NotFound(f"input {path} does not exist; give a file or folder that exists")
        if kind is DataType.URI_FOLDER and not os.path.isdir(path):
            raise SpecError(f"input {path} is not a folder; use --input-type uri_file for a file")
        if kind is DataType.URI_FILE and not os.path.isfile(path):
            raise SpecError(f"input {path} is not a file; use --input-type uri_folder for a folder")
        return path

    def get_job(self, name: str) -> dict[str, Any]:
        """job show."""
        return job_view(self.store.job(name), time.time())

    def list_jobs(self, endpoint: str | None = None, deployment: str | None = None) -> list[dict[str, Any]]:
        """job list (every job), batch-endpoint list-jobs, batch-deployment list-jobs; oldest first."""
        if endpoint is not None:
            self._core.batch.endpoint(endpoint)
            if deployment is not None:
                self._core.batch.deployment(endpoint, deployment)
        now = time.time()
        return [job_view(j, now) for j in self.store.jobs(endpoint, deployment)]

    def cancel_job(self, name: str) -> dict[str, Any]:
        """job cancel: CancelRequested, then Canceled once its workers let go; a finished job is a conflict."""
        job: Job = self.store.cancel(name, time.time())
        self._wake()
        return job_view(job, time.time())


def _job_settings(s: BatchSettings) -> JobSettings:
    """What the queue keeps of a job's settings (the deployment's, with the job's overrides)."""
    return JobSettings(
        mini_batch_size=s.mini_batch_size,
        instance_count=s.instance_count,
        max_retries=s.retry_settings.max_retries,
        timeout_s=float(s.retry_settings.timeout),
        error_threshold=s.error_threshold,
        output_action=s.output_action,
        output_file_name=s.output_file_name,
    )
