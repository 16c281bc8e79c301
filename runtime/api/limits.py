"""What one client may cost the server: head size and header count, head and body read timeouts, body size.

uvicorn's httptools protocol has no limit on a request head (httptools joins a header's pieces by copying, so one
huge header costs time quadratic in its size, in the event loop every client shares) and no read timeouts, so
the server runs a subclass of it that counts and times the head and the body as they arrive. hypercorn gets
the same limits in runtime.api.hypercorn_limits.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import msgspec

from runtime.api.errors import data_plane_body

#: The default cap on a scoring request's body. Bodies are held in memory (the worker gets them whole), so without
#: a cap one client could exhaust the machine; 100 MiB is far above what a JSON or image request needs.
DEFAULT_MAX_BODY = 100 * 2**20


class Limits(msgspec.Struct, frozen=True):
    """The per-request limits of one server (serve options)."""

    max_body: int = DEFAULT_MAX_BODY  #: bytes of a scoring request's body (413 past it)
    #: Bytes of the request line plus headers: nginx's default buffers hold 4 x 8 KiB and Azure Front Door takes
    #: 32 KB per header, so 32 KiB passes anything those pass.
    max_header_bytes: int = 32 * 2**10
    max_headers: int = 100  #: header fields per request, as gunicorn (Azure's inference server) and Envoy allow
    header_timeout_s: float = 10.0  #: from a request's first byte to the end of its headers
    body_timeout_s: float = 30.0  #: the longest wait for the next piece of a body that has not all arrived


def head_too_large(limits: Limits) -> str:
    """The 431 message: what was wrong and what is allowed."""
    return (
        f"the request line and headers are over this server's limit of {limits.max_header_bytes // 1024} KiB or "
        f"{limits.max_headers} header fields; send fewer or shorter headers"
    )


def _raw_answer(status: int, reason: str, message: str) -> tuple[bytes, bytes]:
    """A whole response with Azure's error body, as the bytes before and after its x-request-id (one per answer)."""
    body = data_plane_body(message)
    head = (
        f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n"
        "connection: close\r\nx-request-id: "
    )
    return head.encode(), b"\r\n\r\n" + body


def request_id_header() -> tuple[bytes, bytes]:
    """A fresh x-request-id, as every answer of the front end carries one, those refused by the limits included."""
    return b"x-request-id", str(uuid.uuid4()).encode()


class _Refused(Exception):
    """Raised inside a parser callback to stop parsing a request the limits refuse."""


def httptools_protocol(limits: Limits) -> type[asyncio.Protocol]:
    """uvicorn's httptools protocol with `limits` enforced before the app sees the request."""
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    too_large = _raw_answer(431, "Request Header Fields Too Large", head_too_large(limits))
    head_timeout = _raw_answer(
        408,
        "Request Timeout",
        f"the request headers did not arrive within this server's limit of {limits.header_timeout_s:g} s",
    )
    body_timeout = _raw_answer(
        408,
        "Request Timeout",
        f"the request body stalled: nothing arrived for {limits.body_timeout_s:g} s (this server's limit)",
    )

    class LimitedHttpTools(HttpToolsProtocol):
        """Counts the bytes and fields of each request head and times the head and the body."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._phase = "idle"  # "head" from a request's first byte, "body" after its headers, "idle" once read
            self._head_bytes = 0  # bytes of this head seen whole by the parser (URL and fields)
            self._head_reads = 0  # bytes read while this head was incomplete, a coarse bound checked between reads
            self._fields = 0
            self._message = 0  # counts requests, so bytes of the read where one began are not charged to its head
            self._since = 0.0  # when the head began, or when the body last made progress
            self._timer: asyncio.TimerHandle | None = None
            self._refused = False

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            # A connection that never sends a byte would otherwise be held until the client gives up.
            self._phase = "head"
            self._since = self.loop.time()
            self._arm(limits.header_timeout_s)

        def data_received(self, data: bytes) -> None:
            phase, message = self._phase, self._message
            super().data_received(data)
            if self.transport.is_closing():
                return
            if self._phase == "head" and phase == "head" and message == self._message:
                self._head_reads += len(data)
                if self._head_reads > limits.max_header_bytes:
                    self._refuse(too_large)
                    return
            if self._phase == "body":
                self._since = self.loop.time()
            if self._phase != "idle" and self._timer is None:
                self._arm(limits.header_timeout_s if self._phase == "head" else limits.body_timeout_s)

        def send_400_response(self, msg: str) -> None:
            # A callback below raised _Refused: the parser reports it as a parse error, answered here.
            if self._refused:
                self._refuse(too_large)
            else:
                super().send_400_response(msg)

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._message += 1
            self._phase = "head"
            self._head_bytes = self._head_reads = self._fields = 0
            self._since = self.loop.time()

        def on_url(self, url: bytes) -> None:
            self._charge(len(url))
            super().on_url(url)

        def on_header(self, name: bytes, value: bytes) -> None:
            self._fields += 1
            self._charge(len(name) + len(value) + 4)
            super().on_header(name, value)

        def on_headers_complete(self) -> None:
            self._phase = "body"
            self._since = self.loop.time()
            super().on_headers_complete()

        def on_message_complete(self) -> None:
            self._phase = "idle"
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            super().on_message_complete()

        def connection_lost(self, exc: Exception | None) -> None:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            super().connection_lost(exc)

        def _charge(self, size: int) -> None:
            self._head_bytes += size
            if self._head_bytes > limits.max_header_bytes or self._fields > limits.max_headers:
                self._refused = True
                raise _Refused

        def _arm(self, delay: float) -> None:
            self._timer = self.loop.call_later(delay, self._expire)

        def _expire(self) -> None:
            self._timer = None
            if self._phase == "idle" or self.transport.is_closing():
                return
            limit = limits.header_timeout_s if self._phase == "head" else limits.body_timeout_s
            if self._phase == "body" and self.flow.read_paused:
                self._since = self.loop.time()  # the server stopped reading, not the client: not the client's stall
            left = self._since + limit - self.loop.time()
            if left > 0:
                self._arm(left)
                return
            self._refuse(head_timeout if self._phase == "head" else body_timeout)

        def _refuse(self, answer: tuple[bytes, bytes]) -> None:
            # Nothing may be written into another answer: a head is refused only once the previous response is
            # complete, a body only before its app began answering. Otherwise the connection just ends.
            cycle = self.cycle
            if self._phase == "head":
                writable = self._message > 0 and (cycle is None or cycle.response_complete)
            else:
                writable = cycle is not None and not cycle.response_started
            if writable:
                self.transport.write(answer[0] + request_id_header()[1] + answer[1])
            self._phase = "idle"
            self.transport.close()

    return LimitedHttpTools
