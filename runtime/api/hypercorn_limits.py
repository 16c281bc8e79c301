"""The server's limits (runtime.api.limits) for hypercorn.

h11 limits a head only while it is still incomplete after a read and counts no fields, and hypercorn's own
read timeout times every read, also while an answer is still being computed, and then drops that answer. So
hypercorn gets h11's size limit, a check of each finished head, and an HTTP/1.1 protocol subclass that times
heads and bodies as the uvicorn one does.
"""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from runtime.api.errors import data_plane_body
from runtime.api.limits import Limits, head_too_large, request_id_header


def hypercorn_settings(limits: Limits) -> dict[str, Any]:
    """hypercorn Config attributes for `limits`: h11's own limit on a head still incomplete after a read (431)."""
    # Not hypercorn's read_timeout: it times every read, also while a long request is being answered, and then
    # drops the answer.
    return {"h11_max_incomplete_size": limits.max_header_bytes}


def head_guard(app: ASGIApp, limits: Limits) -> ASGIApp:
    """`app` behind a 431 for heads over `limits`, for hypercorn: h11 checks the size only of a head still
    incomplete after a read, and never counts fields."""
    body = data_plane_body(head_too_large(limits))
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]

    async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            fields = scope["headers"]
            size = len(scope.get("raw_path") or b"") + len(scope.get("query_string") or b"")
            size += sum(len(name) + len(value) + 4 for name, value in fields)
            if len(fields) > limits.max_headers or size > limits.max_header_bytes:
                await send({"type": "http.response.start", "status": 431, "headers": [*headers, request_id_header()]})
                await send({"type": "http.response.body", "body": body})
                return
        await app(scope, receive, send)

    return guarded


def install_hypercorn_protocol(limits: Limits) -> None:
    """Make hypercorn's HTTP/1.1 protocol time heads and bodies by `limits` and answer its errors as Azure does."""
    import h11
    import hypercorn.protocol
    from hypercorn.events import Closed, Event, RawData
    from hypercorn.protocol.h11 import H11Protocol

    messages = {
        431: head_too_large(limits),
        408: "the request did not arrive in time: its headers must be complete within "
        f"{limits.header_timeout_s:g} s and its body may pause at most {limits.body_timeout_s:g} s",
    }

    class Limited(H11Protocol):
        _timer: asyncio.TimerHandle | None = None
        _phase = "idle"
        _since = 0.0

        async def handle(self, event: Event) -> None:
            await super().handle(event)
            if isinstance(event, Closed):
                self._stop()
                # The read loop ended (the client left): close now, not when the keep-alive timer next fires.
                await self.send(Closed())
            elif isinstance(event, RawData):
                self._watch()

        def _watch(self) -> None:
            connection = self.connection
            if not isinstance(connection, h11.Connection):
                return self._stop()
            state = connection.their_state
            now = asyncio.get_running_loop().time()
            if state is h11.SEND_BODY:
                self._phase, self._since = "body", now
            elif state is h11.IDLE and connection.trailing_data[0]:
                if self._phase != "head":
                    self._phase, self._since = "head", now
            else:
                return self._stop()
            if self._timer is None:
                self._arm()

        def _arm(self) -> None:
            limit = limits.header_timeout_s if self._phase == "head" else limits.body_timeout_s
            loop = asyncio.get_running_loop()
            self._timer = loop.call_at(self._since + limit, self._expire)

        def _expire(self) -> None:
            self._timer = None
            if self._phase == "idle":
                return
            limit = limits.header_timeout_s if self._phase == "head" else limits.body_timeout_s
            if self._since + limit > asyncio.get_running_loop().time():
                self._arm()  # it made progress since the timer was set
                return
            self._phase = "idle"
            self.task_group.spawn(self._give_up)

        async def _give_up(self) -> None:
            connection = self.connection
            if isinstance(connection, h11.Connection) and connection.our_state in {h11.IDLE, h11.SEND_RESPONSE}:
                await self._send_error_response(408)  # nothing was answered yet on this request
            await self.send(Closed())

        def _stop(self) -> None:
            self._phase = "idle"
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None

        async def _send_error_response(self, status_code: int) -> None:
            body = data_plane_body(messages.get(status_code, "the request is not valid HTTP/1.1"))
            headers = [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
                request_id_header(),
                *self.config.response_headers("h11"),
            ]
            await self._send_h11_event(h11.Response(status_code=status_code, headers=headers))
            await self._send_h11_event(h11.Data(data=body))
            await self._send_h11_event(h11.EndOfMessage())

    # The wrapper that picks the HTTP/1.1 protocol looks the class up in this module at each connection.
    setattr(hypercorn.protocol, "H11Protocol", Limited)  # noqa: B010 - not an exported name
