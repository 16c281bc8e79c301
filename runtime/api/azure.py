"""The Azure data plane: `/endpoints/<name>/...` and `<name>.localhost`, as a bare ASGI app.

It reads the body and headers, lets the router authenticate and forward, and writes the answer. It stays a bare
ASGI callable (no Request object) because it is the hot path: everything here runs once per scoring request.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, MutableMapping
from time import monotonic
from typing import Any

from runtime.api.errors import data_plane_body, status_for
from runtime.api.limits import DEFAULT_MAX_BODY
from runtime.errors import Code, ModelyardError
from runtime.ipc.messages import Headers
from runtime.routing.admission import RETRY_AFTER_S
from runtime.routing.router import DEPLOYMENT_HEADER, EndpointRoute, Router

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

log = logging.getLogger("modelyard.api")

_JSON = [(b"content-type", b"application/json")]
_RETRY_AFTER = (b"retry-after", str(RETRY_AFTER_S).encode())
#: Framing headers are the server's to set: the body is always sent whole, with its own length.
_HOP_BY_HOP = frozenset({"content-length", "transfer-encoding", "connection", "keep-alive"})


class _ClientGone(Exception):
    """The client disconnected before its body was complete: there is nobody to answer."""


class DataPlane:
    """Scoring requests for every endpoint."""

    def __init__(self, router: Router, max_body: int = DEFAULT_MAX_BODY) -> None:
        self.router = router
        self.max_body = max_body
        # The request counts are kept by HTTP status; the code-to-status table stays the one in api/errors.py.
        router.status_of = status_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send, endpoint: str, path: str) -> None:
        """Serve one request for `endpoint`; `path` is the part after the endpoint (e.g. "/score")."""
        headers: Headers = []
        authorization = target = None
        for raw_name, raw_value in scope["headers"]:
            name = raw_name.decode("latin-1")
            value = raw_value.decode("latin-1")
            if name == "authorization":
                authorization = value
                continue  # the key is the front end's business; the scoring script never sees it
            if name == DEPLOYMENT_HEADER:
                target = value
            headers.append((name, value))
        started = monotonic()
        request_id = self.router.new_request_id()
        route: EndpointRoute | None = None
        try:
            route = self.router.route(endpoint)
            self.router.authenticate(route, authorization)
            body = await _read_body(receive, self.max_body)
        except ModelyardError as exc:
            self.router.refused(route, exc.code, monotonic() - started)
            await _refuse(send, exc, request_id)
            return
        except _ClientGone:
            return  # a partial body must never reach the scoring script
        try:
            query = scope["query_string"].decode("latin-1")
            response = await self.router.forward(
                route, scope["method"], path, query, headers, body, target, request_id, self.max_body, started
            )
        except ModelyardError as exc:  # counted by the router, which knows the deployment
            await _refuse(send, exc, request_id)
            return
        out = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in response.headers if k.lower() not in _HOP_BY_HOP]
        await _respond(send, response.status, out, response.body)


async def _refuse(send: Send, exc: ModelyardError, request_id: str) -> None:
    # The front end's own answers carry its request id too, so a refused request can be traced like any other.
    out = [*_JSON, (b"x-request-id", request_id.encode())]
    if exc.code is Code.OVERLOADED:
        out.append(_RETRY_AFTER)
    await _respond(send, status_for(exc.code), out, data_plane_body(exc.message))


async def _read_body(receive: Receive, limit: int) -> bytes:
    message = await receive()
    body: bytes = message.get("body", b"")
    if not message.get("more_body"):
        if message["type"] == "http.disconnect":
            raise _ClientGone
        _check_size(len(body), limit)
        return body
    parts = [body]
    size = len(body)
    while message.get("more_body"):
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _ClientGone
        chunk = message.get("body", b"")
        size += len(chunk)
        _check_size(size, limit)
        parts.append(chunk)
    return b"".join(parts)


def _check_size(size: int, limit: int) -> None:
    if size > limit:
        raise ModelyardError(
            f"the request body is over this server's limit of {limit // 2**20} MiB; "
            "start it with a larger --max-body-mib to allow more",
            code=Code.TOO_LARGE,
        )


async def _respond(send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
