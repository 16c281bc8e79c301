"""A batch worker whose mini-batches run on a Ray actor: this process is the actor's Ray driver and stands for it.

The control process starts it as any batch worker (WorkerHandle, the same socket and frames) with a Load that
carries a `RayPlacement`. It connects to the cluster, makes one actor (runtime.worker.ray_actor.BatchActor) whose
constructor runs init(), answers Ready, and passes each RunMiniBatch to the actor's run(). Ray lives here and not
in serve: Ray's core worker ends its driver process when the cluster's head has been gone for a minute, and a
process of Ray's may abort on an internal check; either ends this worker (WorkerLost, a failed attempt, a new
worker) and never the server. The actor's owner is this process, so when it ends, however it ends, Ray kills the
actor too.

A run() that overruns its timeout is answered by the actor's watchdog with the stack it hung in; the answer is
passed on, the actor is killed (`ray.kill`) and this process exits as a local batch worker does, so the runner
retries on a fresh worker and actor. An actor that died ends this process, which the runner sees as WorkerLost.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
from typing import Any, Final

import msgspec

from runtime.errors import Code
from runtime.ipc.framing import encode_frame
from runtime.ipc.messages import (
    Drain,
    Failure,
    Infer,
    Load,
    MiniBatchDone,
    Ping,
    Pong,
    Ready,
    RunMiniBatch,
    Shutdown,
    ToWorker,
)
from runtime.spec import split_ray_address
from runtime.worker.batch_loop import EXIT_RUN_TIMEOUT
from runtime.worker.loop import EXIT_LOAD_FAILED, Connection

logger = logging.getLogger("modelyard.worker")

#: How long the cluster's address may take to accept a connection before the worker says it cannot be reached.
CONNECT_TIMEOUT_S: Final = 5.0
#: How long an actor may take past a mini-batch's timeout to answer (its watchdog answers at the timeout).
ANSWER_GRACE_S: Final = 10.0
#: How long a stopping actor may take to let its run() end.
STOP_GRACE_S: Final = 5.0
#: Exit status after the actor died under a mini-batch.
EXIT_ACTOR_LOST: Final = 72


class _StartFailed(Exception):
    """The actor could not be made or its init() failed; the message is the one line the job reports."""


def serve_ray(conn: Connection, load: Load, pending: list[ToWorker]) -> int:
    """Make the actor, then pass mini-batches to it until Shutdown or EOF; return the exit status."""
    assert load.ray is not None
    try:
        ray, actor = _start(load)
    except _StartFailed as exc:
        logger.error("The Ray actor could not start: %s", exc)
        conn.idle()
        conn.send(encode_frame(Failure(0, Code.INVALID_ARGUMENT.value, str(exc))))
        return EXIT_LOAD_FAILED
    conn.idle()
    conn.send(encode_frame(Ready(os.getpid(), "batch", [])))
    try:
        return _serve(conn, ray, actor, pending)
    finally:
        _kill(ray, actor)


def _serve(conn: Connection, ray: Any, actor: Any, pending: list[ToWorker]) -> int:
    draining = False
    while True:
        if not pending:
            conn.idle()
            pending = conn.receive()
            if not pending:
                return 0  # the control process hung up: nobody is left to answer
        for index, message in enumerate(pending):
            match message:
                case RunMiniBatch() if draining:
                    conn.send(encode_frame(Failure(message.id, Code.UNAVAILABLE.value, "the worker is draining")))
                case RunMiniBatch():
                    answer = _run(ray, actor, message)
                    if answer is None:
                        return EXIT_ACTOR_LOST
                    conn.send(encode_frame(answer))
                    if isinstance(answer, Failure) and answer.code == Code.TIMEOUT.value:
                        conn.idle()
                        return EXIT_RUN_TIMEOUT  # its run() is stuck on a thread nobody can stop: the actor goes
                case Ping():
                    conn.send(encode_frame(Pong(message.id, 0)))
                case Infer():
                    why = "a batch worker takes mini-batches, not requests"
                    conn.send(encode_frame(Failure(message.id, Code.UNSUPPORTED.value, why)))
                case Drain():
                    draining = True
                case Shutdown():
                    for later in pending[index + 1 :]:
                        if isinstance(later, RunMiniBatch):
                            stopping = Failure(later.id, Code.UNAVAILABLE.value, "the worker is stopping")
                            conn.send(encode_frame(stopping))
                    try:
                        ray.get(actor.stop.remote(), timeout=STOP_GRACE_S)
                    except Exception as exc:  # dead or stuck: it is killed all the same
                        logger.warning("The Ray actor did not stop cleanly: %s", _first_line(exc))
                    conn.idle()
                    return 0
        pending = []


def _run(ray: Any, actor: Any, request: RunMiniBatch) -> MiniBatchDone | Failure | None:
    """The actor's answer to one mini-batch; None when the actor died or stopped answering (it is killed)."""
    try:
        data = ray.get(
            actor.run.remote(request.id, request.files, request.timeout_s), timeout=request.timeout_s + ANSWER_GRACE_S
        )
    except ray.exceptions.GetTimeoutError:
        logger.error("The Ray actor did not answer mini-batch %d within its timeout; it is killed", request.id)
        return None
    except ray.exceptions.RayError as exc:
        logger.error("The Ray actor died under mini-batch %d: %s", request.id, _first_line(exc))
        return None
    answer: MiniBatchDone | Failure = msgspec.msgpack.decode(data, type=MiniBatchDone | Failure)
    return answer


def _start(load: Load) -> tuple[Any, Any]:
    """Connect to the cluster and make the actor; the `ray` module and the actor once its init() returned."""
    placement = load.ray
    assert placement is not None
    host, port = split_ray_address(placement.address)
    try:
        # ray.init would retry an unreachable cluster for minutes; say so now.
        socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as exc:
        why = os.strerror(exc.errno) if exc.errno else "no answer"
        raise _StartFailed(
            f"cannot reach the Ray cluster at {placement.address} ({why}); start it (`ray start --head`) "
            "or restart serve with the --ray-address of a running one"
        ) from None
    try:
        import ray
    except ImportError:
        raise _StartFailed(
            "settings.executor ray needs Ray in serve's environment: pip install 'modelyard[ray]'"
        ) from None

    from runtime.worker.ray_actor import BatchActor

    try:
        # log_to_driver off: the actor writes the instance's log file itself.
        ray.init(
            address=placement.address,
            namespace="modelyard",
            log_to_driver=False,
            logging_level=logging.WARNING,
            configure_logging=False,
        )
        cpus = _ray_any(ray).cluster_resources().get("CPU", 0)
    except Exception as exc:
        raise _StartFailed(f"cannot connect to the Ray cluster at {placement.address}: {_first_line(exc)}") from None
    if placement.num_cpus > cpus:
        raise _StartFailed(
            f"a worker asks for {placement.num_cpus} CPU(s) and the Ray cluster at {placement.address} has {cpus:g}"
        )
    name = placement.name or "batch worker"
    actor = (
        _ray_any(ray)
        .remote(BatchActor)
        .options(num_cpus=placement.num_cpus, runtime_env={"env_vars": placement.env}, max_restarts=0)
        .remote(name, msgspec.msgpack.encode(load), placement.log_path)
    )
    try:
        pid, error = ray.get(actor.ready.remote())
    except ray.exceptions.RayError as exc:
        _kill(ray, actor)
        raise _StartFailed(f"the Ray actor could not start: {_first_line(exc)}") from None
    if error is not None:
        _kill(ray, actor)
        raise _StartFailed(error)
    logger.info("Ray actor with pid %d ready for mini-batches on the cluster at %s", pid, placement.address)
    return ray, actor


def _ray_any(ray: object) -> Any:
    # Ray's annotations type remote classes as the class itself, so its methods' `.remote` does not check.
    return ray


def _kill(ray: Any, actor: Any) -> None:
    try:
        ray.kill(actor, no_restart=True)
    except Exception:  # already dead, or the cluster is gone: nothing is left to kill
        pass
    sys.stdout.flush()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
