"""`modelyard serve`: one process holding the HTTP server, the controller and every worker's supervisor.

Its long-lived tasks run in one task group (runtime.control.tasks): SIGINT or SIGTERM stops them in order, and a
task that fails stops them the same way, after one line in the log, and serve exits with status 1.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import random
import signal
import sqlite3
import sys
from typing import IO

import anyio

from runtime.api.app import build_app
from runtime.api.limits import Limits
from runtime.api.server import ServerName, bind, serve
from runtime.batch.runner import BatchOptions
from runtime.control.controller import Controller
from runtime.control.tasks import Task
from runtime.envs.cache import EnvSettings
from runtime.errors import Conflict, storage_error
from runtime.metrics.sampler import gpu_indices, usable_cores
from runtime.statedir import ServerInfo, StateDir

log = logging.getLogger("modelyard.serve")


def run(
    state: StateDir,
    host: str,
    port: int,
    server: ServerName,
    token_lifetime_s: int = 3600,
    limits: Limits | None = None,
    batch: BatchOptions | None = None,
    sample_period_s: float = 1.0,
    scale_down_stabilization_s: float = 300.0,
    envs: EnvSettings | None = None,
) -> int:
    """Run the server in the foreground until SIGINT or SIGTERM; return the exit status."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    state.ensure()
    lock = _lock(state)
    try:
        sock = bind(host, port)
    except OSError as exc:
        raise Conflict(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover - uvloop is a dependency on every platform serve supports
        pass
    try:
        return asyncio.run(
            _main(
                state,
                sock,
                server,
                token_lifetime_s,
                limits or Limits(),
                batch or BatchOptions(),
                sample_period_s,
                scale_down_stabilization_s,
                envs or EnvSettings(),
            )
        )
    finally:
        lock.close()


async def _main(
    state: StateDir,
    sock: object,
    server: ServerName,
    token_lifetime_s: int,
    limits: Limits,
    batch: BatchOptions,
    sample_period_s: float,
    scale_down_stabilization_s: float,
    envs: EnvSettings,
) -> int:
    import socket

    assert isinstance(sock, socket.socket)
    token = state.admin_token(create=True)
    gpus, gpu_note = gpu_indices()
    try:
        ctl = Controller(
            state,
            cores=usable_cores(),
            gpus=gpus,
            random=random.random,
            gpu_note=gpu_note,
            token_lifetime_s=token_lifetime_s,
            batch=batch,
            sample_period_s=sample_period_s,
            scale_down_stabilization_s=scale_down_stabilization_s,
            envs=envs.cache(state.environments),
        )
    except (OSError, sqlite3.Error) as exc:  # the state database cannot be opened: one line, not a traceback
        error = storage_error(exc)
        if error is None:
            raise
        raise error from None
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    ctl.core.base_url = f"http://{shown}:{port}"
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    app = build_app(ctl, token, limits)

    async def http() -> None:
        try:
            await serve(app, sock, server, stop, limits)
        finally:
            stop.set()  # the server ended on its own: the rest stops too

    listening: Task | None = None
    try:
        async with ctl.core.tasks.group():
            await ctl.start()
            try:
                state.write_server(ServerInfo(url=ctl.core.base_url, pid=os.getpid(), server=server))
                log.info("modelyard serving on %s (state in %s, %s)", ctl.core.base_url, state.root, server)
                listening = ctl.core.tasks.start("the HTTP server", http)
                await stop.wait()  # a signal, or `modelyard stop`; a failed task cancels this wait instead
            finally:
                # The same stop in either case, shielded from the group's cancellation so it runs to the end.
                with anyio.CancelScope(shield=True):
                    stop.set()
                    if listening is not None:
                        await listening.wait()
                    log.info("stopping workers")
                    await ctl.stop()
                    info = state.read_server(strict=False)
                    if info is not None and info.pid == os.getpid():
                        state.server_file.unlink(missing_ok=True)
    except Exception as exc:
        if ctl.core.tasks.failed is None:
            raise _alone(exc) from None  # the start's own error (the state database refused, say), as it was
        return 1  # the task's failure is in the log already
    return 0


def _alone(exc: Exception) -> Exception:
    """The one error a task group wrapped, or the group itself when it holds more."""
    while isinstance(exc, ExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc


def _lock(state: StateDir) -> IO[str]:
    try:
        f = open(state.serve_lock, "w")  # noqa: SIM115 - held for the life of the server
    except OSError as exc:
        raise state.cannot_create(state.serve_lock, exc) from None
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        f.close()
        info = state.read_server(strict=False)
        where = f" at {info.url} (pid {info.pid})" if info else ""
        raise Conflict(f"a modelyard server is already running{where} for state directory {state.root}") from None
    return f


if __name__ == "__main__":  # pragma: no cover
    sys.exit(run(StateDir(), "127.0.0.1", 0, "uvicorn"))
