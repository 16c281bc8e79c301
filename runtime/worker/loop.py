"""The worker's socket loop: a reader thread for the wire, the main thread for the model.

run() executes in the main thread so Azure's SIGALRM scoring timeout works; the reader thread answers Ping and
refuses work after Drain on its own, so the control process hears from a busy worker. Requests run one at a
time in arrival order, like Azure's single sync gunicorn worker.
"""

from __future__ import annotations

import logging
import os
import queue
import socket
import threading
import traceback
from typing import Final

import msgspec

from runtime.errors import Code
from runtime.ipc.framing import FrameError, encode_frame, worker_decoder
from runtime.ipc.messages import Drain, Failure, Infer, Load, Ping, Pong, Ready, Shutdown
from runtime.worker.adapters import Adapter, LoadError, load_adapter

logger = logging.getLogger("modelyard.worker")

#: Exit status for a model that failed to load, as Azure's worker exits after init() raised.
EXIT_LOAD_FAILED: Final = 3
_RECV_SIZE = 1 << 18


class _End:
    """Queue sentinel: no more work will arrive."""


_END: Final = _End()


class Connection:
    """The worker's end of its Unix socket: serialised writes, a reader thread, and the work queue."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._write_lock = threading.Lock()
        self._count_lock = threading.Lock()
        self.work: queue.SimpleQueue[Load | Infer | _End] = queue.SimpleQueue()
        self.inflight = 0  #: Infers received and not yet answered
        self.draining = False
        self.hung_up = False  #: the control process closed the socket: nobody reads answers any more

    def send(self, message: msgspec.Struct) -> None:
        """Write one frame; safe from any thread."""
        frame = encode_frame(message)
        with self._write_lock:
            self._sock.sendall(frame)

    def done(self, message: msgspec.Struct) -> None:
        """Send the answer to an Infer and count it as no longer in flight."""
        try:
            self.send(message)
        finally:
            with self._count_lock:
                self.inflight -= 1

    def start_reader(self) -> None:
        """Start the daemon thread that reads frames until EOF."""
        threading.Thread(target=self._read, name="worker-reader", daemon=True).start()

    def _read(self) -> None:
        decoder = worker_decoder()
        try:
            while True:
                data = self._sock.recv(_RECV_SIZE)
                if not data:
                    self.hung_up = True
                    break
                for message in decoder.feed(data):
                    if not self._dispatch(message):
                        return
        except (OSError, FrameError) as exc:
            logger.error("Reading from the control socket failed: %s", exc)
            self.hung_up = True
        finally:
            self.work.put(_END)

    def _dispatch(self, message: object) -> bool:
        """Route one control message; False once no more work may be taken."""
        if isinstance(message, Infer):
            with self._count_lock:
                self.inflight += 1
            if self.draining:
                self.done(Failure(message.id, Code.UNAVAILABLE.value, "the worker is draining"))
            else:
                self.work.put(message)
        elif isinstance(message, Ping):
            self.send(Pong(message.id, self.inflight))
        elif isinstance(message, Load):
            self.work.put(message)
        elif isinstance(message, Drain):
            self.draining = True
        elif isinstance(message, Shutdown):
            return False
        return True


def serve(sock: socket.socket) -> int:
    """Run the worker on a connected socket: Load, then requests until Shutdown or EOF; return the exit status."""
    conn = Connection(sock)
    conn.start_reader()
    first = conn.work.get()
    if not isinstance(first, Load):
        logger.error("The control process sent no Load before closing or sending requests")
        _send_quietly(conn, Failure(0, Code.INVALID_ARGUMENT.value, "the first message must be a Load"))
        return EXIT_LOAD_FAILED
    try:
        adapter = load_adapter(first)
    except LoadError as exc:
        _send_quietly(conn, Failure(0, Code.INVALID_ARGUMENT.value, str(exc)))
        return EXIT_LOAD_FAILED
    conn.send(Ready(os.getpid(), adapter.mode, list(adapter.models)))
    logger.info("Worker with pid %d ready for serving traffic", os.getpid())
    _run_requests(conn, adapter)
    return 0


def _run_requests(conn: Connection, adapter: Adapter) -> None:
    while True:
        item = conn.work.get()
        if not isinstance(item, Infer):
            if isinstance(item, _End):
                return
            continue  # a second Load is meaningless; the model is loaded once per process
        if conn.hung_up:
            continue  # the answer would go nowhere; only the request already running is finished
        try:
            result: msgspec.Struct = adapter.handle(item)
        except Exception:
            logger.error("Handling request %d failed: %s", item.id, traceback.format_exc())
            result = Failure(item.id, Code.INTERNAL.value, "the worker failed to handle the request; see its log")
        try:
            conn.done(result)
        except OSError as exc:
            logger.error("Writing to the control socket failed: %s", exc)
            return


def _send_quietly(conn: Connection, message: msgspec.Struct) -> None:
    try:
        conn.send(message)
    except OSError as exc:
        logger.error("Writing to the control socket failed: %s", exc)


def connect(path: str) -> socket.socket:
    """Connect to the control process's Unix socket."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(path)
    return sock
