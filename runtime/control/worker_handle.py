"""The one place that starts, signals and kills processes: worker subprocesses, and a detached `serve`.

The control process listens on a Unix socket per worker, spawns `python -m runtime.worker`, and the worker connects.
Frames travel over an asyncio Protocol rather than a stream wrapper: `data_received` resolves request futures
directly, which keeps the per-request cost in the control process to a dict lookup and a frame decode.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

from runtime.errors import Code, WorkerLost, WorkerStartError
from runtime.ipc.framing import FrameError, append_frame, control_decoder, encode_frame
from runtime.ipc.messages import (
    Failure,
    FromWorker,
    Headers,
    Infer,
    Load,
    MiniBatchDone,
    ModelStats,
    Ping,
    Pong,
    Ready,
    Result,
    RunMiniBatch,
    Shutdown,
)
from runtime.ipc.outstanding import Abandoned
from runtime.status import ModelStatus


class _Channel(asyncio.BufferedProtocol):
    """The control side of one worker socket; the event loop reads into the decoder's buffer."""

    def __init__(self, on_message: Callable[[FromWorker], None], on_lost: Callable[[], None]) -> None:
        self.transport: asyncio.Transport | None = None
        self.connected: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._decoder = control_decoder()
        self._on_message = on_message
        self._on_lost = on_lost

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self.transport = cast(asyncio.Transport, transport)
        if not self.connected.done():
            self.connected.set_result(None)

    def get_buffer(self, sizehint: int) -> memoryview:
        return self._decoder.buffer()

    def buffer_updated(self, nbytes: int) -> None:
        try:
            messages = self._decoder.advance(nbytes)
        except FrameError:
            # A worker that writes garbage on its protocol socket is broken; dropping the connection makes the
            # supervisor replace it, and its in-flight requests fail with WorkerLost.
            if self.transport is not None:
                self.transport.abort()
            return
        for message in messages:
            self._on_message(message)

    def connection_lost(self, exc: Exception | None) -> None:
        self._on_lost()


def spawn_detached(cmd: list[str], log_path: Path) -> subprocess.Popen[bytes]:
    """Start `cmd` in its own session with output appended to `log_path` (for `serve --detach`)."""
    with open(log_path, "ab") as log:
        return subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )


def terminate(pid: int) -> bool:
    """Send SIGTERM to `pid`; False if there is no such process."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    return True


def _why(exc: OSError) -> str:
    return exc.strerror or str(exc)


#: How long run_mini_batch waits past the mini-batch's timeout for the worker's own timeout answer, which says where
#: run() was stuck, before it gives up on the worker.
MINI_BATCH_GRACE_S = 5.0

#: What a worker answers a request with.
Answer = Result | MiniBatchDone | Failure


def _model_status(m: ModelStats) -> ModelStatus:
    return ModelStatus(
        model=m.model,
        version=m.version,
        success=m.success,
        failure=m.failure,
        inferences=m.inferences,
        executions=m.executions,
        batch_sizes=dict(sorted(m.batch_sizes.items())),
        max_batch_size=m.max_batch_size,
    )


def _expire(fut: asyncio.Future[Answer]) -> None:
    if not fut.done():
        fut.set_exception(TimeoutError())


class WorkerHandle:
    """One worker subprocess: spawn, handshake, multiplexed requests, liveness ping, stop."""

    def __init__(
        self,
        *,
        name: str,
        socket_path: Path,
        log_path: Path,
        env: dict[str, str],
        cores: tuple[int, ...],
        load: Load,
        python: str | None = None,
    ) -> None:
        self.name = name
        self._python = python or sys.executable  #: the deployment environment's interpreter, or modelyard's
        self.cores = cores
        self._socket_path = socket_path
        self._log_path = log_path
        self._env = env
        self._load = load
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[Answer]] = {}
        self._abandoned = Abandoned()  #: timed out, still held by the worker
        self._pings: dict[int, asyncio.Future[Pong]] = {}
        self._hello: asyncio.Future[Ready | Failure] | None = None
        self._channel: _Channel | None = None
        self._loop: asyncio.AbstractEventLoop | None = None  #: the event loop start() ran on
        self._proc: asyncio.subprocess.Process | None = None
        self._exit_message = ""
        self.exited: asyncio.Event = asyncio.Event()
        self.pid: int | None = None
        self.started_at = 0.0
        self.ready: Ready | None = None
        #: wall-clock time of the last frame from the worker; show reports it, so a hung worker can be told apart
        self.last_answer: float | None = None
        self._watcher: asyncio.Future[None] | None = None
        self._outbox = bytearray()  #: frames of this event-loop turn, sent together
        #: a Triton worker's per-model counts, from its last Pong (since it started)
        self.model_stats: tuple[ModelStatus, ...] = ()

    @property
    def inflight(self) -> int:
        """Requests sent to this worker and not yet answered, those whose caller timed out included."""
        return len(self._pending) + len(self._abandoned)

    @property
    def alive(self) -> bool:
        """True while the process runs and its socket is open."""
        return not self.exited.is_set() and self._channel is not None and self._channel.transport is not None

    async def start(self, timeout: float) -> Ready:
        """Spawn the worker and wait until its model is loaded; WorkerStartError on any failure.

        An OSError on the way (a full disk, no more processes) is a WorkerStartError too, with nothing left behind:
        the supervisor retries restarts with backoff, so a worker comes back once the cause is gone.
        """
        loop = self._loop = asyncio.get_running_loop()
        self._hello = loop.create_future()
        self._channel = _Channel(self._on_message, self._on_lost)
        try:
            with contextlib.suppress(FileNotFoundError):
                self._socket_path.unlink()
            server = await loop.create_unix_server(lambda: self._channel, str(self._socket_path))  # type: ignore[arg-type,return-value]
        except OSError as exc:
            raise WorkerStartError(f"worker {self.name}: cannot listen on {self._socket_path}: {_why(exc)}") from None
        try:
            await self._spawn()
            hello = await self._handshake(server, timeout)
        finally:
            server.close()
            with contextlib.suppress(FileNotFoundError):
                self._socket_path.unlink()
        if isinstance(hello, Failure):
            await self.kill()
            raise WorkerStartError(hello.message)
        self.ready = hello
        return hello

    async def _spawn(self) -> None:
        cmd = [self._python, "-m", "runtime.worker", "--socket", str(self._socket_path), "--name", self.name]
        if self.cores:
            cmd += ["--cores", ",".join(map(str, self.cores))]
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
        cores = ",".join(map(str, self.cores)) or "any"
        try:
            self._log_path.parent.mkdir(parents=True, exist_ok=True)
            log = open(self._log_path, "ab", buffering=0)  # noqa: ASYNC230, SIM115 - a local append, once per start
        except OSError as exc:
            raise WorkerStartError(f"worker {self.name}: cannot open its log {self._log_path}: {_why(exc)}") from None
        with log:
            # The first line doubles as the check that the log takes writes: a running worker drops the lines a
            # full disk refuses, but a new one would start with no record of its init(), so it waits for room,
            # and serve's log says why meanwhile.
            try:
                log.write(f"==== {stamp} modelyard: starting worker {self.name} on cores {cores} ====\n".encode())
            except OSError as exc:
                raise WorkerStartError(
                    f"worker {self.name}: cannot write its log {self._log_path}: {_why(exc)}"
                ) from None
            try:
                self._proc = await asyncio.create_subprocess_exec(
                    *cmd,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=self._env,
                    start_new_session=True,
                )
            except OSError as exc:
                raise WorkerStartError(f"worker {self.name}: cannot start a process: {_why(exc)}") from None
        self.pid = self._proc.pid
        self.started_at = time.monotonic()
        self._watcher = asyncio.ensure_future(self._watch_exit())

    async def _handshake(self, server: asyncio.AbstractServer, timeout: float) -> Ready | Failure:
        assert self._channel is not None and self._hello is not None
        exited: asyncio.Future[object] = asyncio.ensure_future(self.exited.wait())
        try:
            async with asyncio.timeout(timeout):
                connected: asyncio.Future[object] = self._channel.connected  # type: ignore[assignment]
                await asyncio.wait([connected, exited], return_when=asyncio.FIRST_COMPLETED)
                if not self._channel.connected.done():
                    raise WorkerStartError(f"worker {self.name} {self._exit_message or 'exited'} before connecting")
                server.close()
                self._send(self._load)
                return await self._hello
        except TimeoutError:
            await self.kill()
            raise WorkerStartError(f"worker {self.name} did not load within {timeout:.0f} s; see its log") from None
        except WorkerLost as exc:  # the socket closed between connecting and the Load
            await self.kill()
            raise WorkerStartError(exc.message) from None
        finally:
            exited.cancel()

    async def infer(
        self,
        method: str,
        path: str,
        query: str,
        headers: Headers,
        body: bytes,
        timeout: float,
        max_body: int = 0,
        on_late: Callable[[], None] | None = None,
    ) -> Result | Failure:
        """Send one HTTP request to the worker and wait for its answer.

        Raises TimeoutError after `timeout` seconds, WorkerLost if the worker ends first. A request that timed out
        still counts in `inflight` until the worker answers it or ends; then `on_late` is called, exactly once.
        """
        if not self.alive:
            raise WorkerLost(f"worker {self.name} is not running")
        rid = next(self._ids)
        # The loop it was started on, not asyncio.get_running_loop(): on Python 3.11 that is a getpid() system
        # call, once per request.
        loop = self._loop
        assert loop is not None, "alive implies started"
        fut: asyncio.Future[Answer] = loop.create_future()
        self._pending[rid] = fut
        # A bare timer on the future costs a fraction of asyncio.timeout(), which matters once per request.
        timer = loop.call_later(timeout, _expire, fut)
        try:
            self._queue(Infer(rid, method, path, query, headers, body, max_body), loop)
            return await fut  # type: ignore[return-value]  # an Infer is answered by Result or Failure only
        except TimeoutError:
            self._abandoned.add(rid, on_late)
            raise
        except asyncio.CancelledError:
            self._abandoned.add(rid, None)  # the worker still runs it, whoever stopped waiting
            raise
        finally:
            timer.cancel()
            del self._pending[rid]

    async def run_mini_batch(
        self,
        files: list[str],
        timeout_s: float,
        grace_s: float = MINI_BATCH_GRACE_S,
        after: asyncio.Future[Any] | None = None,
    ) -> MiniBatchDone | Failure:
        """Have a batch worker call run() on `files` and wait for its rows (MiniBatchDone) or its Failure.

        The worker gives up on a run() that outlives `timeout_s` itself: it answers a Failure with code "timeout"
        and the stack run() was stuck in, then exits. TimeoutError comes only if no answer arrives `grace_s`
        seconds after that (a worker too stuck to answer: kill it); WorkerLost if the worker ends first. A
        mini-batch sent while the worker still works on `after` waits in the worker's queue: its time counts from
        when `after` is answered.
        """
        if not self.alive:
            raise WorkerLost(f"worker {self.name} is not running")
        rid = next(self._ids)
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Answer] = loop.create_future()
        self._pending[rid] = fut
        timers: list[asyncio.TimerHandle] = []

        def arm(_: object = None) -> None:
            if not fut.done():
                timers.append(loop.call_later(timeout_s + grace_s, _expire, fut))

        if after is None or after.done():
            arm()
        else:
            after.add_done_callback(arm)
        try:
            transport = self._open_transport()
            if transport is None:
                raise WorkerLost(f"worker {self.name} is not connected")
            transport.write(encode_frame(RunMiniBatch(rid, files, timeout_s)))  # at once: nothing to coalesce
            return cast(MiniBatchDone | Failure, await fut)
        except (TimeoutError, asyncio.CancelledError):
            self._abandoned.add(rid, None)  # the worker still holds it until it answers or ends
            raise
        finally:
            if after is not None:
                after.remove_done_callback(arm)
            for timer in timers:
                timer.cancel()
            del self._pending[rid]

    async def ping(self, timeout: float) -> bool:
        """True when the worker answers a Ping within `timeout` seconds."""
        if not self.alive:
            return False
        rid = next(self._ids)
        fut: asyncio.Future[Pong] = asyncio.get_running_loop().create_future()
        self._pings[rid] = fut
        try:
            self._send(Ping(rid))
            async with asyncio.timeout(timeout):
                await fut
            return True
        except (TimeoutError, WorkerLost):  # no answer in time, or the socket is closing: a failed probe
            return False
        finally:
            self._pings.pop(rid, None)

    async def stop(self, grace: float = 5.0) -> None:
        """Ask the worker to finish its requests and exit; kill it after `grace` seconds."""
        if self._proc is None or self.exited.is_set():
            return
        with contextlib.suppress(Exception):
            if self._outbox:  # requests queued this turn go first: the worker answers them before it exits
                self._flush()
            self._send(Shutdown())
        try:
            async with asyncio.timeout(grace):
                await self.exited.wait()
        except TimeoutError:
            await self.kill()

    async def kill(self) -> None:
        """SIGKILL the worker's process group and wait for it to be reaped."""
        if self._proc is None:
            return
        if self._proc.returncode is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self._proc.pid, signal.SIGKILL)
        await self.exited.wait()

    @property
    def exit_message(self) -> str:
        """How the process ended, e.g. 'exited with status 3' or 'was killed by SIGKILL'."""
        return self._exit_message

    def _queue(self, message: Infer, loop: asyncio.AbstractEventLoop) -> None:
        # Requests that arrive in the same event-loop turn go to the worker in one write: under load the worker
        # then wakes once for several requests instead of once each. They are encoded into that write's buffer.
        if not self._outbox:
            loop.call_soon(self._flush)
        append_frame(self._outbox, message)

    def _flush(self) -> None:
        # A new buffer for the next turn: the transport may still hold this one.
        frames, self._outbox = self._outbox, bytearray()
        transport = self._open_transport()
        if transport is not None:  # otherwise the requests fail through _fail_pending when the exit is seen
            transport.write(frames)

    def _send(self, message: Load | Infer | Ping | Shutdown) -> None:
        transport = self._open_transport()
        if transport is None:
            raise WorkerLost(f"worker {self.name} is not connected")
        transport.write(encode_frame(message))

    def _open_transport(self) -> asyncio.Transport | None:
        channel = self._channel
        if channel is None or channel.transport is None or channel.transport.is_closing():
            return None
        return channel.transport

    def _on_message(self, message: FromWorker) -> None:
        self.last_answer = time.time()
        match message:
            case Result() | MiniBatchDone():
                self._answered(message)
            case Failure() if message.id:  # id 0: the worker's load failed, answering the handshake
                self._answered(message)
            case Pong():
                if message.models:
                    self.model_stats = tuple(_model_status(m) for m in message.models)
                ping = self._pings.get(message.id)
                if ping is not None and not ping.done():
                    ping.set_result(message)
            case _ if self._hello is not None and not self._hello.done():
                self._hello.set_result(message)

    def _answered(self, message: Result | MiniBatchDone | Failure) -> None:
        fut = self._pending.get(message.id)
        if fut is not None and not fut.done():
            fut.set_result(message)
        elif fut is None:
            self._abandoned.answered(message.id)

    def _on_lost(self) -> None:
        if self._channel is not None:
            self._channel.transport = None
        # The socket usually closes a moment before the process is reaped; waiting briefly lets the failed
        # requests say how the worker ended (e.g. "was killed by SIGKILL") rather than just "closed its socket".
        asyncio.get_running_loop().call_later(1.0, self._fail_pending)

    def _fail_pending(self) -> None:
        reason = self._exit_message or "closed its socket"
        error = WorkerLost(f"worker {self.name} (pid {self.pid}) {reason} while handling the request")
        for fut in list(self._pending.values()):
            if not fut.done():
                fut.set_exception(error)
        self._abandoned.clear()
        if self._hello is not None and not self._hello.done():
            self._hello.set_result(Failure(0, Code.UNAVAILABLE.value, f"worker {self.name} {reason} while loading"))

    async def _watch_exit(self) -> None:
        assert self._proc is not None
        rc = await self._proc.wait()
        if rc < 0:
            try:
                self._exit_message = f"was killed by {signal.Signals(-rc).name}"
            except ValueError:
                self._exit_message = f"was killed by signal {-rc}"
        else:
            self._exit_message = f"exited with status {rc}"
        if self._channel is not None and self._channel.transport is not None:
            self._channel.transport.abort()
        self._fail_pending()
        self.exited.set()
