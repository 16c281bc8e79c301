"""The HTTP server seam: run the app on a bound socket with uvicorn (default) or hypercorn until told to stop.

uvicorn with httptools is the default because it serves the same app several times faster per core than
hypercorn's h11 (bench/ measures both); hypercorn stays selectable with `serve --server hypercorn`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Generator
from typing import Literal

from starlette.types import ASGIApp

from runtime.api.hypercorn_limits import head_guard, hypercorn_settings, install_hypercorn_protocol
from runtime.api.limits import Limits, httptools_protocol

ServerName = Literal["uvicorn", "hypercorn"]
SERVERS: tuple[ServerName, ...] = ("uvicorn", "hypercorn")


def bind(host: str, port: int) -> socket.socket:
    """Bind the listening socket up front so the real port (for --port 0) is known before serving."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.setblocking(False)
    return sock


async def serve(
    app: ASGIApp, sock: socket.socket, server: ServerName, stop: asyncio.Event, limits: Limits | None = None
) -> None:
    """Serve `app` on `sock` until `stop` is set, refusing heads and slow reads past `limits`."""
    limits = limits or Limits()
    if server == "uvicorn":
        await _uvicorn(app, sock, stop, limits)
    elif server == "hypercorn":
        await _hypercorn(app, sock, stop, limits)
    else:
        raise ValueError(f"unknown server {server!r}; choose one of {', '.join(SERVERS)}")


async def _uvicorn(app: ASGIApp, sock: socket.socket, stop: asyncio.Event, limits: Limits) -> None:
    import uvicorn

    class _Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Generator[None, None, None]:
            # The serve command owns signal handling: it stops the workers before the process exits.
            yield

    config = uvicorn.Config(
        app,
        lifespan="off",
        access_log=False,
        log_level="warning",
        http=httptools_protocol(limits),
        loop="none",
        timeout_keep_alive=30,
        server_header=False,  # do not advertise the server software to clients
    )
    srv = _Server(config)

    async def trigger() -> None:
        await stop.wait()
        srv.should_exit = True

    watcher = asyncio.ensure_future(trigger())
    try:
        await srv.serve(sockets=[sock])
    finally:
        watcher.cancel()


async def _hypercorn(app: ASGIApp, sock: socket.socket, stop: asyncio.Event, limits: Limits) -> None:
    from hypercorn.asyncio import serve as hyper_serve
    from hypercorn.config import Config

    install_hypercorn_protocol(limits)
    config = Config()
    for name, value in hypercorn_settings(limits).items():
        setattr(config, name, value)
    config.bind = [f"fd://{sock.fileno()}"]
    config.accesslog = None
    config.errorlog = logging.getLogger("hypercorn.error")
    config.keep_alive_timeout = 30
    await hyper_serve(head_guard(app, limits), config, shutdown_trigger=stop.wait)  # type: ignore[arg-type]
