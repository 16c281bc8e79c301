"""The worker's socket loop: one thread reads frames, runs the model and answers, in arrival order.

Everything happens in the main thread, as in Azure's single sync gunicorn worker: run() can use SIGALRM for the
scoring timeout, and a worker busy in run() answers pings only once it is done (Azure's liveness probe waits the
same way). Frames that arrive together are read together and their answers written together, unless the next
run could hold a finished answer too long (pacing.py), and the log is flushed when the worker has nothing left to
do: on a machine where every sleep and wake-up costs a context switch, that keeps the cost per request down under
load without delaying a request that arrives alone.
"""

from __future__ import annotations

import logging
import os
import select
import socket
import time
import traceback
from collections.abc import Callable
from typing import Final

import msgspec

from runtime.errors import Code
from runtime.ipc.framing import FrameError, append_frame, encode_frame, worker_decoder
from runtime.ipc.messages import (
    Drain,
    Failure,
    Infer,
    Load,
    ModelStats,
    Ping,
    Pong,
    Ready,
    Result,
    Shutdown,
    ToWorker,
)
from runtime.worker.adapters import Adapter, LoadError, load_adapter
from runtime.worker.pacing import RunTimes, write_first

logger = logging.getLogger("modelyard.worker")

#: Exit status for a model that failed to load, as Azure's worker exits after init() raised.
EXIT_LOAD_FAILED: Final = 3


class Connection:
    """The worker's end of its Unix socket."""

    def __init__(self, sock: socket.socket, flush_logs: Callable[[], None] = lambda: None) -> None:
        self._sock = sock
        self._decoder = worker_decoder()
        self._flush_logs = flush_logs

    def receive(self) -> list[ToWorker]:
        """Block until at least one message arrives; [] means the control process hung up."""
        decoder = self._decoder
        while True:
            try:
                size = self._sock.recv_into(decoder.buffer())
            except OSError as exc:
                logger.error("Reading from the control socket failed: %s", exc)
                return []
            if not size:
                return []
            try:
                messages = decoder.advance(size)
            except FrameError as exc:
                logger.error("The control process sent an undecodable frame: %s", exc)
                return []
            if messages:
                return messages

    def poll(self, timeout: float) -> bool:
        """Wait at most `timeout` seconds for bytes to read; True when receive() will not wait long."""
        try:
            readable, _, _ = select.select([self._sock], [], [], timeout)
        except (OSError, ValueError):
            return True  # receive() meets the same error and reports it
        return bool(readable)

    def send(self, frames: bytes | bytearray) -> bool:
        """Write frames (see append_frame) in one call; False if the control process is gone."""
        try:
            self._sock.sendall(frames)
        except OSError as exc:
            logger.error("Writing to the control socket failed: %s", exc)
            return False
        return True

    def idle(self) -> None:
        """Called before blocking: write out buffered log lines."""
        self._flush_logs()


def serve(sock: socket.socket, flush_logs: Callable[[], None] = lambda: None) -> int:
    """Run the worker on a connected socket: Load, then requests until Shutdown or EOF; return the exit status."""
    conn = Connection(sock, flush_logs)
    messages = conn.receive()
    if not messages or not isinstance(messages[0], Load):
        logger.error("The control process sent no Load before closing or sending requests")
        conn.send(encode_frame(Failure(0, Code.INVALID_ARGUMENT.value, "the first message must be a Load")))
        return EXIT_LOAD_FAILED
    if messages[0].kind == "batch" and messages[0].ray is not None:
        from runtime.worker.ray_proxy import serve_ray  # here: it imports Ray, which only Ray deployments need

        return serve_ray(conn, messages[0], messages[1:])
    if messages[0].kind == "batch":
        from runtime.worker.batch_loop import serve_batch  # here: batch_loop builds on this module

        return serve_batch(conn, messages[0], messages[1:])
    try:
        adapter = load_adapter(messages[0])
    except LoadError as exc:
        # The log (with the traceback) must be on disk before the control process marks the deployment Failed,
        # since that is when a user runs get-logs.
        conn.idle()
        conn.send(encode_frame(Failure(0, Code.INVALID_ARGUMENT.value, str(exc))))
        return EXIT_LOAD_FAILED
    conn.idle()
    if not conn.send(encode_frame(Ready(os.getpid(), adapter.mode, list(adapter.models)))):
        return 0
    logger.info("Worker with pid %d ready for serving traffic", os.getpid())
    if getattr(adapter, "schedules", False):
        from runtime.worker.triton.dispatch import serve_scheduled  # here: dispatch builds on this module

        return serve_scheduled(conn, adapter, messages[1:])  # type: ignore[arg-type]
    return _run(conn, adapter, messages[1:])


def _run(conn: Connection, adapter: Adapter, pending: list[ToWorker]) -> int:
    draining = False
    runs = RunTimes()
    while True:
        if not pending:
            conn.idle()
            pending = conn.receive()
            if not pending:
                return 0  # the control process hung up: nobody is left to answer
        out = bytearray()
        held_since: float | None = None  # when the oldest answer in `out` was ready
        runs.batch_started()
        for index, message in enumerate(pending):
            match message:
                case Infer() if draining:
                    append_frame(out, Failure(message.id, Code.UNAVAILABLE.value, "the worker is draining"))
                    held_since = held_since or time.monotonic()
                case Infer():
                    started = time.monotonic()
                    if write_first(held_since, started, runs.longest()):
                        if not conn.send(out):
                            return 0
                        out, held_since = bytearray(), None
                    runs.run_started()
                    append_frame(out, _handle(adapter, message, started))
                    done = time.monotonic()
                    runs.add(done - started)
                    held_since = held_since or done
                case Ping():
                    append_frame(out, Pong(message.id, len(pending) - index - 1, _model_stats(adapter)))
                    held_since = held_since or time.monotonic()
                case Drain():
                    draining = True
                case Shutdown():
                    # Finish what arrived before the Shutdown, then exit.
                    stop(conn, out, pending[index + 1 :])
                    return 0
        pending = []
        if out and not conn.send(out):
            return 0


def stop(conn: Connection, out: bytearray, later: list[ToWorker]) -> None:
    """Refuse the requests that came after a Shutdown, send what is answered, and flush the log."""
    for message in later:
        if isinstance(message, Infer):
            append_frame(out, Failure(message.id, Code.UNAVAILABLE.value, "the worker is stopping"))
    if out:
        conn.send(out)
    conn.idle()


def _model_stats(adapter: Adapter) -> list[ModelStats]:
    # Only Triton repositories count per model (Triton's metrics); a scoring script has no models to name.
    stats: Callable[[], list[ModelStats]] | None = getattr(adapter, "model_stats", None)
    return stats() if stats is not None else []


def _handle(adapter: Adapter, req: Infer, started: float) -> msgspec.Struct:
    try:
        answer = adapter.handle(req)
    except Exception:
        logger.error("Handling request %d failed: %s", req.id, traceback.format_exc())
        return Failure(req.id, Code.INTERNAL.value, "the worker failed to handle the request; see its log")
    if type(answer) is Result:
        # When this request left the queue of those sent to this worker: the router's queue wait ends here.
        return msgspec.structs.replace(answer, started=started)
    return answer


def connect(path: str) -> socket.socket:
    """Connect to the control process's Unix socket."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(path)
    return sock
