"""The serve loop of a Triton worker whose models batch dynamically or run several instances.

Requests are decoded as they are read (a bad one is answered at once, alone) and wait in a queue. Before
anything runs, whatever is already in the socket is read, so requests that came in together (or during the last
run) join one batch; then whatever can run runs (see batching.plan). When only batches that may still grow are
left, the loop waits for the socket at most until the oldest of them has waited max_queue_delay. Pings are
answered as they are read, with the per-model counts. Metadata requests and models that do not batch are
answered in arrival order as the plain loop answers them.
"""

from __future__ import annotations

import time

from runtime.errors import Code
from runtime.ipc.framing import append_frame
from runtime.ipc.messages import Drain, Failure, Infer, Ping, Pong, Result, Shutdown, ToWorker
from runtime.worker.loop import Connection, stop
from runtime.worker.triton.batching import Pending, plan
from runtime.worker.triton.executor import Executor
from runtime.worker.triton.server import TritonAdapter

#: Requests read ahead before running what waits: a client that never stops sending still gets answers.
_READ_AHEAD = 256


def serve_scheduled(conn: Connection, adapter: TritonAdapter, pending: list[ToWorker]) -> int:
    """Serve until Shutdown or EOF; return the exit status."""
    executor = adapter.executor
    assert executor is not None, "serve_scheduled needs an adapter with scheduled models"
    try:
        return _loop(conn, adapter, executor, pending)
    finally:
        executor.close()


def _loop(conn: Connection, adapter: TritonAdapter, executor: Executor, pending: list[ToWorker]) -> int:
    waiting: list[Pending] = []
    draining = False
    while True:
        if not pending and waiting:
            # First read what is already in the socket: a large body comes in several reads, and the requests
            # behind it belong in this batch (Triton's delay 0 batches whatever has arrived, too).
            if len(waiting) < _READ_AHEAD and conn.poll(0.0):
                pending = conn.receive()
                if not pending:
                    return 0
                continue
            ready, waiting, wait_s = plan(waiting, time.monotonic())
            for answers in executor.run(ready):
                if not conn.send(_frames(answers)):
                    return 0
            if not ready and wait_s is not None and conn.poll(wait_s):
                pending = conn.receive()
                if not pending:
                    return 0
            continue
        if not pending:
            conn.idle()
            pending = conn.receive()
            if not pending:
                return 0
        out = bytearray()
        for index, message in enumerate(pending):
            match message:
                case Infer() if draining:
                    append_frame(out, Failure(message.id, Code.UNAVAILABLE.value, "the worker is draining"))
                case Infer():
                    admitted = adapter.admit(message, time.monotonic())
                    if isinstance(admitted, Pending):
                        waiting.append(admitted)
                    else:
                        append_frame(out, admitted)
                case Ping():
                    held = len(waiting) + sum(isinstance(m, Infer) for m in pending[index + 1 :])
                    append_frame(out, Pong(message.id, held, adapter.model_stats()))
                case Drain():
                    draining = True
                case Shutdown():
                    # Finish what arrived before the Shutdown, without waiting for more, then exit.
                    ready, _, _ = plan(waiting, time.monotonic(), flush=True)
                    for answers in executor.run(ready):
                        out += _frames(answers)
                    stop(conn, out, pending[index + 1 :])
                    return 0
        pending = []
        if out and not conn.send(out):
            return 0


def _frames(answers: list[Result | Failure]) -> bytearray:
    out = bytearray()
    for answer in answers:
        append_frame(out, answer)
    return out
