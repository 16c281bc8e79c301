"""The one route table: data plane by path or Host header, management API, and a root page.

/endpoints/<name>/<rest>      Azure data plane (score; OIP v2 for Triton deployments)
Host: <name>.localhost        the same, with the whole path as <rest>
/batch-endpoints/<name>/jobs  Azure's batch invoke (Bearer token from `account get-access-token`)
/api/...                      management API (admin token); /api/status is the whole status snapshot
/metrics                      Prometheus text (no token from loopback clients, the admin token from others)
/                             liveness of the server itself
"""

from __future__ import annotations

import hmac
import ipaddress
import logging

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from runtime import __version__
from runtime.api import admin, autoscale, batch_admin, batch_jobs, environments, jobs, mirror
from runtime.api.azure import DataPlane
from runtime.api.errors import admin_body, status_for
from runtime.api.limits import Limits
from runtime.control.controller import Controller
from runtime.errors import Code, ModelyardError, storage_error
from runtime.metrics import prometheus

_PREFIX = "/endpoints/"

log = logging.getLogger("modelyard.api")


class _AdminGuard:
    """Admin token check and error rendering for /api."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.token = token.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/api"):
            await self.app(scope, receive, send)
            return
        auth = dict(scope["headers"]).get(b"authorization", b"")
        if not hmac.compare_digest(auth, b"Bearer " + self.token):
            await _error(send, Code.UNAUTHENTICATED, "missing or wrong admin token")
            return
        if b"%2f" in (scope.get("raw_path") or b"").lower():
            # Routing sees the decoded path, where an encoded '/' inside a name would select another route.
            message = "a name in the path contains '/' (%2F); names are letters, digits and '-'"
            await _error(send, Code.INVALID_ARGUMENT, message)
            return
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except ModelyardError as exc:
            await _error(send, exc.code, exc.message)
        except Exception as exc:
            # A state directory that cannot be written (a full disk, say) is the server's trouble, not the
            # client's: a JSON 507 or 500 in the API's error shape, and a line in serve's log.
            error = storage_error(exc)
            if error is not None:
                log.warning("%s %s failed: %s", scope["method"], scope["path"], error.message)
                await _error(send, error.code, error.message)
                return
            # Anything else is a defect: its traceback goes to serve's log, and the client still gets the API's
            # JSON error shape rather than a plain-text page.
            log.exception("%s %s failed", scope["method"], scope["path"])
            if started:
                raise
            await _error(send, Code.INTERNAL, f"internal error ({type(exc).__name__}); serve's log has the details")


#: Starlette's own routing errors (no such route, wrong method), as error codes.
_ROUTING_CODES = {404: Code.NOT_FOUND, 405: Code.UNSUPPORTED}


async def _routing_error(request: Request, exc: Exception) -> Response:
    # Starlette answers these in plain text; API clients expect the same JSON error shape as every other error.
    assert isinstance(exc, HTTPException)
    code = _ROUTING_CODES.get(exc.status_code, Code.INVALID_ARGUMENT)
    if code is Code.NOT_FOUND:
        message = f"no such route: {request.method} {request.url.path}; see the README for the management API"
    elif code is Code.UNSUPPORTED:
        message = f"{request.url.path} does not take {request.method}; it takes {(exc.headers or {}).get('Allow', '?')}"
    else:
        message = exc.detail
    return Response(admin_body(code, message), status_for(code), headers=exc.headers, media_type="application/json")


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


async def _error(send: Send, code: Code, message: str) -> None:
    body = admin_body(code, message)
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status_for(code), "headers": headers})
    await send({"type": "http.response.body", "body": body})


def build_app(ctl: Controller, admin_token: str, limits: Limits | None = None) -> ASGIApp:
    """The whole HTTP surface of one server; scoring bodies over `limits.max_body` bytes get 413."""

    async def root(request: Request) -> Response:
        return Response(f"modelyard {__version__}\n", media_type="text/plain")

    scraped = prometheus.registry(ctl.status.snapshot, ctl.status.request_stats)

    async def metrics(request: Request) -> Response:
        # Scrapers (Prometheus, as Triton's and Ray's /metrics are scraped) send no credentials; a client that is
        # not on this machine must show the admin token, since the names of endpoints and deployments show.
        client = request.client.host if request.client is not None else ""
        auth = request.headers.get("authorization", "").encode()
        if not _loopback(client) and not hmac.compare_digest(auth, b"Bearer " + admin_token.encode()):
            body = admin_body(Code.UNAUTHENTICATED, "/metrics from another machine needs the admin token")
            return Response(body, status_for(Code.UNAUTHENTICATED), media_type="application/json")
        return Response(prometheus.render(scraped), headers={"content-type": prometheus.CONTENT_TYPE})

    management = Starlette(
        routes=[
            Route("/", root, methods=["GET"]),
            Route("/metrics", metrics, methods=["GET"]),
            *admin.routes(ctl),
            *batch_admin.routes(ctl),
            *jobs.routes(ctl),
            *autoscale.routes(ctl),
            *environments.routes(ctl),
            *mirror.routes(ctl),
        ],
        middleware=[Middleware(_AdminGuard, token=admin_token)],
        exception_handlers={HTTPException: _routing_error},
    )
    data = DataPlane(ctl.core.router, (limits or Limits()).max_body)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            if path.startswith(_PREFIX):
                name, _, rest = path[len(_PREFIX) :].partition("/")
                await data(scope, receive, send, name, "/" + rest)
                return
            if path.startswith(batch_jobs.PREFIX):
                response = await batch_jobs.invoke(ctl, Request(scope, receive))
                await response(scope, receive, send)
                return
            for key, value in scope["headers"]:
                if key == b"host":
                    host = value.decode("latin-1").rsplit(":", 1)[0] if not value.startswith(b"[") else ""
                    if host.endswith(".localhost") and host.count(".") == 1:
                        await data(scope, receive, send, host[: -len(".localhost")], path)
                        return
                    break
        await management(scope, receive, send)

    return app
