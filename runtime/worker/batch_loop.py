"""The serve loop of a batch worker: the main thread reads frames and answers pings while run() works elsewhere.

Unlike an online worker, whose single thread answers a ping only after run() returns, a batch worker's main thread
never runs user code: it hands each RunMiniBatch to the script's thread (runtime.worker.batch_script) and answers
Ping at once, with the number of mini-batches it holds, so the runner can tell a long run() from a dead process.
A run() that outlives its mini-batch's timeout_s ends the process, as Azure's parallel-run worker exits on a task
timeout: the worker answers the mini-batch with a timeout Failure naming where run() was stuck, and exits with
EXIT_RUN_TIMEOUT; the runner starts a fresh worker (and init()) for the next attempt.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from typing import Final

import msgspec

from runtime.errors import Code
from runtime.ipc.framing import encode_frame
from runtime.ipc.messages import Drain, Failure, Infer, Load, Ping, Pong, Ready, RunMiniBatch, Shutdown, ToWorker
from runtime.worker import batch_script
from runtime.worker.adapters import LoadError
from runtime.worker.loop import EXIT_LOAD_FAILED, Connection

logger = logging.getLogger("modelyard.worker")

#: Exit status after a run() overran its timeout, as Azure's parallel-run worker exits on a task timeout.
EXIT_RUN_TIMEOUT: Final = 71


class _Sender:
    """Frames to the control process from either thread, one whole frame at a time."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._lock = threading.Lock()

    def __call__(self, message: msgspec.Struct) -> None:
        frame = encode_frame(message)
        with self._lock:
            self._conn.send(frame)  # False when the control process is gone: the main thread sees it hang up


def serve_batch(conn: Connection, load: Load, pending: list[ToWorker]) -> int:
    """Load the batch script, then take mini-batches until Shutdown or EOF; return the exit status."""
    send = _Sender(conn)

    def overran(request: RunMiniBatch, stack: str) -> None:
        send(batch_script.timeout_failure(request, stack))
        conn.idle()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(EXIT_RUN_TIMEOUT)  # the stuck thread cannot be stopped; only the process can

    try:
        script = batch_script.load(load, send, overran)
    except LoadError as exc:
        conn.idle()  # the log must be on disk before the control process reports the failure
        send(Failure(0, Code.INVALID_ARGUMENT.value, str(exc)))
        return EXIT_LOAD_FAILED
    conn.idle()
    send(Ready(os.getpid(), "batch", []))
    logger.info("Worker with pid %d ready for mini-batches", os.getpid())
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
                    send(Failure(message.id, Code.UNAVAILABLE.value, "the worker is draining"))
                case RunMiniBatch():
                    script.submit(message)
                case Ping():
                    send(Pong(message.id, script.inflight))
                case Infer():
                    send(Failure(message.id, Code.UNSUPPORTED.value, "a batch worker takes mini-batches, not requests"))
                case Drain():
                    draining = True
                case Shutdown():
                    for later in pending[index + 1 :]:
                        if isinstance(later, RunMiniBatch):
                            send(Failure(later.id, Code.UNAVAILABLE.value, "the worker is stopping"))
                    script.stop()  # the mini-batches taken before the Shutdown finish first
                    conn.idle()
                    return 0
        pending = []
