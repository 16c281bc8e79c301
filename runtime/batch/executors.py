"""Where a batch job's workers run: the `Executor` seam, and `LocalExecutor`, pinned worker subprocesses here.

The runner asks an executor to start one worker per slot (instance_count x max_concurrency_per_instance of them),
to run mini-batches on it and to stop it; what a worker is (a local process here, a Ray actor in
runtime.batch.ray_executor) is the executor's business. A worker serves one job's output folder and one deployment
snapshot: its identity (`BatchWorker.key`) says which, so the runner can hand an idle one to the next job that
matches.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, Protocol

import msgspec

from runtime.batch.jobs import Job
from runtime.control.allocator import Allocation, allocate
from runtime.control.plan import MLFLOW_SCRIPTS, THREAD_VARS, mlflow_folder, model_location, runtime_pythonpath
from runtime.control.worker_handle import WorkerHandle
from runtime.errors import SpecError
from runtime.ipc.messages import Failure, Load, MiniBatchDone
from runtime.spec import BatchDeploymentSpec

#: How long a batch worker's init() may take before its start counts as failed.
START_TIMEOUT_S = 300.0


class BatchTarget(msgspec.Struct, frozen=True, kw_only=True):
    """A batch deployment as the runner needs it: its spec and the snapshot folder of its code and model."""

    endpoint: str
    deployment: str
    spec: BatchDeploymentSpec
    snapshot: Path  #: laid out as online snapshots are: code/<code folder>, azureml-models/<name>/<version>/...
    max_instances: int | None = None  #: the compute cluster's max_instances: no job runs on more instances
    gpus_per_instance: int = 0  #: GPUs of the cluster's size (each instance gets them where the machine has them)
    python: str | None = None  #: the deployment environment's interpreter; None for modelyard's own
    pythonpath: str = ""  #: modelyard's package for a worker on another interpreter


#: (endpoint, deployment) -> the deployment; raises NotFound when there is none.
Lookup = Callable[[str, str], BatchTarget]


class BatchWorker:
    """One started worker of a job's slot; `handle` is the executor's own object."""

    def __init__(
        self,
        *,
        name: str,
        key: str,
        instance: int,
        cores: tuple[int, ...],
        handle: object,
        gpus: tuple[int, ...] = (),
        endpoint: str = "",
        deployment: str = "",
    ) -> None:
        self.name = name
        self.endpoint = endpoint  #: the batch deployment it serves
        self.deployment = deployment
        self.key = key  #: same deployment, snapshot, spec, output folder and slot: one worker can serve the job
        self.instance = instance
        self.cores = cores
        self.gpus = gpus
        self.handle = handle
        self.pid: int | None = None


class Executor(Protocol):
    """Starts, drives and stops batch workers."""

    async def start(self, target: BatchTarget, job: Job, instance: int, process: int) -> BatchWorker:
        """Start a worker for the slot and wait until its init() returned; WorkerStartError when it failed."""
        ...

    async def run(
        self, worker: BatchWorker, files: list[str], timeout_s: float, after: asyncio.Future[Any] | None = None
    ) -> MiniBatchDone | Failure:
        """run() on `files`; TimeoutError when the worker cannot answer, WorkerLost when it ended.

        The frame is on its way once the coroutine has taken its first step. With `after` (the worker's previous
        mini-batch, not answered yet) it waits behind that one, and its timeout counts from when that is answered.
        """
        ...

    async def stop(self, worker: BatchWorker, *, kill: bool = False) -> None:
        """Stop the worker (at once with `kill`) and free what it held."""
        ...

    def alive(self, worker: BatchWorker) -> bool:
        """Whether the worker can take another mini-batch."""
        ...


def worker_key(target: BatchTarget, job: Job, instance: int, process: int) -> str:
    """What a worker is bound to; a worker is reused only by a slot with the same key."""
    blob = msgspec.json.encode((target.endpoint, target.deployment, str(target.snapshot), target.spec))
    digest = hashlib.sha256(blob).hexdigest()[:16]
    return f"{digest}:{job.output_folder}:{instance}.{process}"


def load_for(target: BatchTarget, job: Job, threads: int) -> tuple[Load, dict[str, str]]:
    """The Load frame and the environment additions of one batch worker of `target` serving `job`."""
    spec, snap = target.spec, target.snapshot
    env: dict[str, str] = {}
    folder, _ = model_location(spec, snap)
    model_dir = str(folder) if folder is not None else None
    code = spec.code_configuration
    if code is None or not code.scoring_script:
        mlflow = mlflow_folder(spec, snap)
        if mlflow is None or folder is None:
            raise SpecError(
                f"batch deployment {target.deployment}: code_configuration with a scoring script is required "
                "unless the model is an MLflow model"
            )
        # Azure's MLflow batch driver, here modelyard's own, over $AZUREML_MODEL_DIR/$MLFLOW_MODEL_FOLDER.
        env["MLFLOW_MODEL_FOLDER"] = str(mlflow.relative_to(folder))
        app_root, script = str(MLFLOW_SCRIPTS), Path("batch_driver.py")
    else:
        root = snap / "code" / Path(code.code).resolve().name
        script = Path(code.scoring_script)
        app_root = str(root / script.parent) if str(script.parent) != "." else str(root)
    env["AML_APP_ROOT"] = app_root
    env["AZUREML_ENTRY_SCRIPT"] = script.name
    if model_dir is not None:
        env["AZUREML_MODEL_DIR"] = model_dir
    env["AZUREML_BI_OUTPUT_PATH"] = job.output_folder
    env["PYTHONUNBUFFERED"] = "1"
    env.update(spec.settings.environment_variables)
    if target.pythonpath:  # after the deployment's own variables, as online: they add to it, never hide it
        given = env.get("PYTHONPATH", os.environ.get("PYTHONPATH", ""))
        env["PYTHONPATH"] = runtime_pythonpath(target.pythonpath, given)
    load = Load(
        "batch",
        app_root=app_root,
        entry_script=script.name,
        model_dir=model_dir,
        threads=threads,
        output_path=job.output_folder,
        logging_level=spec.settings.logging_level.value,
    )
    return load, env


def worker_env(target: BatchTarget, job: Job, cores: int, gpus: Sequence[int] = ()) -> tuple[Load, dict[str, str]]:
    """load_for, with the thread-pool variables sized to `cores` (unless the deployment sets them) and only `gpus`
    visible (none: every GPU hidden)."""
    load, env = load_for(target, job, max(1, cores))
    user = target.spec.settings.environment_variables
    for var in THREAD_VARS:
        if var not in user:
            env[var] = str(max(1, cores))
    env["CUDA_VISIBLE_DEVICES"] = ",".join(str(g) for g in gpus)
    return load, env


class LocalExecutor:
    """Batch workers as pinned local subprocesses, through WorkerHandle, on cores the allocator gives.

    Each instance of a deployment gets one allocation, shared by its max_concurrency_per_instance processes (as an
    online instance's WORKER_COUNT processes share theirs), placed next to `taken()` (the online deployments') and
    the other batch instances running; the machine is shared rather than a job refused when it is full. A cluster
    size with GPUs gives each instance that many of `machine_gpus` (CUDA_VISIBLE_DEVICES); none hides them all.
    """

    def __init__(
        self,
        *,
        socket_dir: Path,
        log_dir: Path,
        machine_cores: Sequence[int],
        machine_gpus: Sequence[int] = (),
        taken: Callable[[], Iterable[Allocation]] = lambda: (),
        cores_per_instance: int = 1,
        start_timeout: float = START_TIMEOUT_S,
    ) -> None:
        self._socket_dir = socket_dir
        self._log_dir = log_dir
        self._machine_cores = tuple(machine_cores)
        self._machine_gpus = tuple(machine_gpus)
        self._taken = taken
        self._cores_per = cores_per_instance
        self._start_timeout = start_timeout
        self._ids = itertools.count()
        #: (endpoint, deployment, instance) -> its allocation and how many live workers use it
        self._allocs: dict[tuple[str, str, int], tuple[Allocation, int]] = {}
        self._held: dict[int, tuple[str, str, int]] = {}

    def log_path(self, endpoint: str, deployment: str, instance: int) -> Path:
        """The log file of one batch instance."""
        return self._log_dir / endpoint / deployment / f"{deployment}-{instance}.log"

    def _place(self, target: BatchTarget, instance: int) -> Allocation:
        key = (target.endpoint, target.deployment, instance)
        if key in self._allocs:
            alloc, users = self._allocs[key]
            self._allocs[key] = (alloc, users + 1)
            return alloc
        taken = [*self._taken(), *(a for a, _ in self._allocs.values())]
        result = allocate(
            count=1,
            cores_per=self._cores_per,
            gpus_per=target.gpus_per_instance,
            machine_cores=self._machine_cores,
            machine_gpus=self._machine_gpus,
            taken=taken,
            deployment=target.deployment,
        )
        alloc = result.allocations[0]
        self._allocs[key] = (alloc, 1)
        return alloc

    def _release(self, worker: BatchWorker) -> None:
        key = self._held.pop(id(worker), None)
        if key is not None:
            self._unplace(key)

    def _unplace(self, key: tuple[str, str, int]) -> None:
        alloc, users = self._allocs[key]
        if users <= 1:
            del self._allocs[key]
        else:
            self._allocs[key] = (alloc, users - 1)

    async def start(self, target: BatchTarget, job: Job, instance: int, process: int) -> BatchWorker:
        """Spawn a pinned batch worker for the slot and wait for its init(); WorkerStartError when it fails."""
        alloc = self._place(target, instance)
        slot = (target.endpoint, target.deployment, instance)
        try:
            load, extra = worker_env(target, job, len(alloc.cores), alloc.gpus)
        except BaseException:
            self._unplace(slot)
            raise
        env = {**os.environ, **extra}
        name = f"{target.deployment}-{instance}" + (f".{process}" if process else "")
        handle = WorkerHandle(
            name=name,
            socket_path=self._socket_dir / f"b{os.getpid():x}-{next(self._ids)}.sock",
            log_path=self.log_path(target.endpoint, target.deployment, instance),
            env=env,
            cores=alloc.cores,
            load=load,
            python=target.python,
        )
        worker = BatchWorker(
            name=name,
            key=worker_key(target, job, instance, process),
            instance=instance,
            cores=alloc.cores,
            gpus=alloc.gpus,
            handle=handle,
            endpoint=target.endpoint,
            deployment=target.deployment,
        )
        self._held[id(worker)] = slot
        try:
            await handle.start(self._start_timeout)
        except BaseException:
            await handle.kill()
            self._release(worker)
            raise
        worker.pid = handle.pid
        return worker

    async def run(
        self, worker: BatchWorker, files: list[str], timeout_s: float, after: asyncio.Future[Any] | None = None
    ) -> MiniBatchDone | Failure:
        """run() on the worker's process; see WorkerHandle.run_mini_batch."""
        return await _handle(worker).run_mini_batch(files, timeout_s, after=after)

    async def stop(self, worker: BatchWorker, *, kill: bool = False) -> None:
        """Shut the worker down (SIGKILL with `kill`) and free its cores once its instance has no other worker."""
        handle = _handle(worker)
        try:
            if kill:
                await handle.kill()
            else:
                await handle.stop()
        finally:
            self._release(worker)

    def alive(self, worker: BatchWorker) -> bool:
        """Whether the worker's process runs and its socket is open."""
        return _handle(worker).alive


def _handle(worker: BatchWorker) -> WorkerHandle:
    handle = worker.handle
    assert isinstance(handle, WorkerHandle)
    return handle
