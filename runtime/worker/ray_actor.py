"""A batch worker as a Ray actor: init() when the actor is made, then run(mini_batch) per method call.

Made by runtime.worker.ray_proxy, the local worker process that stands for it. The same scoring-script contract
as the subprocess worker (runtime.worker.batch_script runs init() and run() on a thread of their own under the
timeout watchdog, runtime.worker.batch_rows turns results into append_row lines), in a process Ray started.
Answers leave as msgpack bytes of `MiniBatchDone` or `Failure`, as they leave the worker socket: errors cross as
data, never as pickled exceptions. Ray is not imported here: the proxy wraps the class with `ray.remote`, and Ray
imports this module by name in its worker.
"""

from __future__ import annotations

import faulthandler
import logging
import os
import queue
import socket
import sys
import time
from collections.abc import Callable

import msgspec

from runtime.errors import Code
from runtime.ipc.messages import Failure, Load, MiniBatchDone, RunMiniBatch
from runtime.worker import batch_script
from runtime.worker.adapters import LoadError
from runtime.worker.logsetup import log_to_stdio

logger = logging.getLogger("modelyard.worker")

Answer = MiniBatchDone | Failure


class BatchActor:
    """One slot's worker: the user's script loaded once, mini-batches run one at a time."""

    def __init__(self, name: str, load: bytes, log_path: str) -> None:
        self._name = name
        self._flush = _log_to(name, log_path)
        self._answers: queue.SimpleQueue[msgspec.Struct] = queue.SimpleQueue()
        self._overran = False
        self._error: str | None = None
        self._script: batch_script.BatchScript | None = None
        try:
            self._script = batch_script.load(msgspec.msgpack.decode(load, type=Load), self._answers.put, self._timeout)
        except LoadError as exc:
            self._error = str(exc)  # the traceback is in the log; the runner fails the job with this line
        else:
            logger.info("Worker with pid %d ready for mini-batches (Ray actor)", os.getpid())
        self._flush()

    def ready(self) -> tuple[int, str | None]:
        """This process's id, and why init() failed (None when it returned)."""
        return os.getpid(), self._error

    def run(self, request_id: int, files: list[str], timeout_s: float) -> bytes:
        """run() on `files`: msgpack of MiniBatchDone, or Failure (code "timeout" when run() overran)."""
        if self._script is None or self._overran:
            why = "its run() overran and is still stuck" if self._overran else "its init() failed"
            message = f"worker {self._name} cannot run: {why}"
            answer: msgspec.Struct = Failure(request_id, Code.UNAVAILABLE.value, message)
        else:
            self._script.submit(RunMiniBatch(request_id, files, timeout_s))
            answer = self._answers.get()
        self._flush()
        return msgspec.msgpack.encode(answer)

    def stop(self) -> None:
        """Let a run() in progress end; the executor then kills the actor's process."""
        if self._script is not None and not self._overran:
            self._script.stop()
        self._flush()

    def _timeout(self, request: RunMiniBatch, stack: str) -> None:
        # From the watchdog thread. The stuck thread cannot be stopped: the actor answers and takes no more, and
        # the runner has it killed, as the subprocess worker exits.
        self._overran = True
        self._answers.put(batch_script.timeout_failure(request, stack))


def _log_to(name: str, log_path: str) -> Callable[[], None]:
    """Point fds 1 and 2 at the instance's log file, as a local worker's are; the log handler's flush."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
    try:
        os.makedirs(os.path.dirname(log_path), exist_ok=True)
        fd = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    except OSError as exc:
        # A node that does not share the state directory: the lines stay in Ray's own log of this worker.
        sys.stderr.write(f"modelyard: cannot open the log {log_path} ({exc.strerror}); logging here instead\n")
    else:
        with os.fdopen(fd, "wb", buffering=0) as log:
            host = socket.gethostname()
            log.write(f"==== {stamp} modelyard: starting worker {name} as a Ray actor on {host} ====\n".encode())
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(log.fileno(), 1)
            os.dup2(log.fileno(), 2)
    handler = log_to_stdio(name)
    faulthandler.enable()  # on fd 2, the log: a segfault in native model code leaves a stack there
    return handler.flush
