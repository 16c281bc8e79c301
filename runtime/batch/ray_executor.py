"""`RayExecutor`: a batch deployment's workers as actors on an existing Ray cluster (`settings.executor: ray`).

One actor per slot (instance x process), made from runtime.worker.ray_actor.BatchActor: its constructor runs the
script's init() once, as Azure runs it once per worker process, and each mini-batch is one `run` method call. The
queue, the leases and the exactly-once bookkeeping stay in modelyard; Ray only supplies the processes. An actor
asks for the instance's cores as `num_cpus` and gets the environment a local worker gets (load_for, thread counts).
A run() that overruns its timeout is answered by the actor's own watchdog, as a local worker answers it; one too
stuck to answer is killed (`ray.kill`) after a grace period and TimeoutError raised, so the runner retries on a new
actor. An actor that died is WorkerLost.

Ray is imported on the first start, never before: serve runs without it installed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec

from runtime.batch.executors import START_TIMEOUT_S, BatchTarget, BatchWorker, load_for, worker_key
from runtime.batch.jobs import Job
from runtime.control.plan import THREAD_VARS
from runtime.control.worker_handle import MINI_BATCH_GRACE_S, WorkerStartError
from runtime.errors import WorkerLost
from runtime.ipc.messages import Failure, MiniBatchDone

log = logging.getLogger("modelyard.batch")

#: How long the cluster's address may take to accept a connection before a job says it cannot be reached.
CONNECT_TIMEOUT_S = 5.0
#: How long a stopping actor may take to let its run() end before it is killed.
STOP_GRACE_S = 5.0
#: Set for serve's connection: no usage reports leave the machine.
RAY_ENV = {"RAY_USAGE_STATS_ENABLED": "0"}
#: Ray rewrites a loopback address to the machine's network address unless it runs single-node; a cluster named
#: by a loopback address is on this machine, so it is reached (and reaches serve) on loopback only.
LOOPBACK_ENV = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
_LOOPBACK = ("127.", "localhost", "::1", "[::1]")

LogPath = Callable[[str, str, int], Path]


def split_address(address: str) -> tuple[str, int]:
    """HOST:PORT of a Ray cluster's head (its GCS) as host and port; ValueError says the form."""
    if "://" in address:
        raise ValueError(
            f"{address!r}: give the Ray head's own HOST:PORT (as `ray start --head` prints it), not a client URL"
        )
    host, sep, port = address.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{address!r} is not HOST:PORT; give the Ray head's address, e.g. 127.0.0.1:6379")
    return host, int(port)


class _Actor:
    """What the executor keeps of one actor."""

    def __init__(self, actor: Any, pid: int) -> None:
        self.actor = actor
        self.pid = pid
        self.alive = True


class RayExecutor:
    """Batch workers as Ray actors on the cluster at `address` (HOST:PORT of its head)."""

    def __init__(
        self,
        *,
        address: str,
        log_path: LogPath,
        cores_per_instance: int = 1,
        start_timeout: float = START_TIMEOUT_S,
        grace_s: float = MINI_BATCH_GRACE_S,
    ) -> None:
        self._address = address
        self._log_path = log_path
        self._cores_per = cores_per_instance
        self._start_timeout = start_timeout
        self._grace_s = grace_s
        self._ray: Any = None
        self._remote: Any = None
        self._lock = asyncio.Lock()

    async def _connect(self) -> Any:
        """The `ray` module, connected to the cluster (once per server)."""
        async with self._lock:
            if self._ray is None:
                host, port = split_address(self._address)
                try:
                    async with asyncio.timeout(CONNECT_TIMEOUT_S):
                        _, writer = await asyncio.open_connection(host, port)
                    writer.close()
                except (OSError, TimeoutError) as exc:
                    # ray.init would retry an unreachable cluster for minutes; say so now.
                    errno = getattr(exc, "errno", None)
                    why = os.strerror(errno) if errno else "no answer"
                    raise WorkerStartError(
                        f"cannot reach the Ray cluster at {self._address} ({why}); start it (`ray start --head`) "
                        "or restart serve with the --ray-address of a running one"
                    ) from None
                self._ray, self._remote = await asyncio.to_thread(_init, self._address, host)
                log.info("connected to the Ray cluster at %s", self._address)
            return self._ray

    async def start(self, target: BatchTarget, job: Job, instance: int, process: int) -> BatchWorker:
        """Make the slot's actor and wait for its init(); WorkerStartError when it failed or did not fit."""
        ray = await self._connect()
        cores = self._cores_per
        total = await asyncio.to_thread(lambda: ray.cluster_resources().get("CPU", 0))
        if cores > total:
            raise WorkerStartError(
                f"a worker asks for {cores} CPU(s) and the Ray cluster at {self._address} has {total:g}"
            )
        load, extra = load_for(target, job, cores)
        env = dict(extra)
        user = target.spec.settings.environment_variables
        for var in THREAD_VARS:
            if var not in user:
                env[var] = str(cores)
        env["CUDA_VISIBLE_DEVICES"] = ""
        name = f"{target.deployment}-{instance}" + (f".{process}" if process else "")
        log_path = self._log_path(target.endpoint, target.deployment, instance)
        actor = self._remote.options(
            num_cpus=cores, runtime_env={"env_vars": env}, max_restarts=0, max_task_retries=0
        ).remote(name, msgspec.msgpack.encode(load), str(log_path))
        try:
            async with asyncio.timeout(self._start_timeout):
                pid, error = await actor.ready.remote()
        except TimeoutError:
            _kill(ray, actor)
            raise WorkerStartError(
                f"worker {name} did not load within {self._start_timeout:.0f} s on the Ray cluster "
                "(waiting for a free CPU, or a slow init()); see its log"
            ) from None
        except ray.exceptions.RayError as exc:
            _kill(ray, actor)
            raise WorkerStartError(f"worker {name}: the Ray actor could not start: {_first_line(exc)}") from None
        except BaseException:
            _kill(ray, actor)
            raise
        if error is not None:
            _kill(ray, actor)
            raise WorkerStartError(error)
        worker = BatchWorker(
            name=name,
            key=worker_key(target, job, instance, process),
            instance=instance,
            cores=tuple(range(cores)),  # Ray's CPUs are a count, not core ids: usage is counted from it
            handle=_Actor(actor, pid),
        )
        worker.pid = pid
        return worker

    async def run(self, worker: BatchWorker, files: list[str], timeout_s: float) -> MiniBatchDone | Failure:
        """run() on the worker's actor; TimeoutError (the actor killed) when it does not answer, WorkerLost."""
        ray, handle = self._ray, _handle(worker)
        if not handle.alive:
            raise WorkerLost(f"worker {worker.name} (Ray actor, pid {handle.pid}) is not running")
        ref = handle.actor.run.remote(files, timeout_s)
        try:
            async with asyncio.timeout(timeout_s + self._grace_s):
                data = await ref
        except TimeoutError:
            handle.alive = False
            _kill(ray, handle.actor)
            raise
        except ray.exceptions.RayError as exc:
            handle.alive = False
            _kill(ray, handle.actor)
            raise WorkerLost(f"worker {worker.name} (Ray actor, pid {handle.pid}) ended: {_first_line(exc)}") from None
        answer: MiniBatchDone | Failure = msgspec.msgpack.decode(data, type=MiniBatchDone | Failure)
        if isinstance(answer, Failure) and answer.code == "timeout":
            handle.alive = False  # its run() is stuck on a thread no one can stop: the runner has it killed
        return answer

    async def stop(self, worker: BatchWorker, *, kill: bool = False) -> None:
        """Let the actor's run() end (at once with `kill`), then kill it: its process is Ray's to reuse."""
        handle = _handle(worker)
        if not kill and handle.alive:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(STOP_GRACE_S):
                    await handle.actor.stop.remote()
        handle.alive = False
        _kill(self._ray, handle.actor)

    def alive(self, worker: BatchWorker) -> bool:
        """Whether the actor can take another mini-batch, as far as its last answer told."""
        return _handle(worker).alive


def _init(address: str, host: str) -> tuple[Any, Any]:
    """Import Ray with serve's settings and connect; the module and the remote actor class."""
    os.environ.update(RAY_ENV)
    if host.startswith(_LOOPBACK):
        os.environ.update(LOOPBACK_ENV)
    try:
        import ray
    except ImportError:
        raise WorkerStartError(
            "settings.executor ray needs Ray in serve's environment: pip install 'modelyard[ray]'"
        ) from None

    from runtime.worker.ray_actor import BatchActor

    try:
        # log_to_driver off: an actor writes its instance's log file itself, as a local worker does.
        ray.init(
            address=address,
            namespace="modelyard",
            log_to_driver=False,
            logging_level=logging.WARNING,
            configure_logging=False,
        )
    except Exception as exc:
        raise WorkerStartError(f"cannot connect to the Ray cluster at {address}: {_first_line(exc)}") from None
    return ray, ray.remote(BatchActor)


def _kill(ray: Any, actor: Any) -> None:
    with contextlib.suppress(Exception):  # already dead, or the cluster is gone: nothing is left to kill
        ray.kill(actor, no_restart=True)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _handle(worker: BatchWorker) -> _Actor:
    handle = worker.handle
    assert isinstance(handle, _Actor)
    return handle
