"""The data plane as Azure's front end does it: auth, deployment choice, admission, worker choice, 424 wrapping.

The router never parses a payload: it forwards the request as received to a worker and relays the answer.
Routing tables are rebuilt by the controller on every change and swapped in whole, so a request always sees
one consistent version of an endpoint.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from random import getrandbits
from time import monotonic
from typing import Protocol

import msgspec

from runtime.errors import Code, ModelyardError, NotFound, Overloaded, Timeout, Unauthenticated, Unavailable
from runtime.ipc.messages import Failure, Headers, Result
from runtime.metrics.stats import DeploymentStats
from runtime.routing.admission import admits
from runtime.routing.balance import WeightedTable, least_loaded, mirror_hit
from runtime.routing.mirror import LiveOutcome, Mirror
from runtime.routing.tokens import Tokens
from runtime.spec.tolerance import Tolerances

log = logging.getLogger("modelyard.router")

DEPLOYMENT_HEADER = "azureml-model-deployment"
#: Azure's front end keeps only these characters of a client's x-ms-client-request-id, and at most 40 of them.
_CLIENT_ID_JUNK = re.compile(r"[^A-Za-z0-9_-]+")
CLIENT_ID_MAX = 40
#: The version (4) and variant (RFC 4122) bits of a random UUID, as uuid.UUID(version=4) sets them.
_UUID4_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))
_UUID4_SET = (0x4000 << 64) | (0x8000 << 48)


class Worker(Protocol):
    """What the router needs of a worker (a WorkerHandle, or a fake in tests)."""

    @property
    def inflight(self) -> int: ...

    @property
    def alive(self) -> bool: ...

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
        """The worker's answer; TimeoutError after `timeout`, and then `on_late` once the worker lets go of it."""
        ...


class DeploymentRoute:
    """One deployment as the router sees it."""

    WorkersFn = Callable[[], Sequence[Worker]]  #: returns the deployment's ready workers, read on every request

    __slots__ = ("name", "workers", "timeout_s", "max_inflight", "inflight", "kind", "stats")

    def __init__(
        self,
        name: str,
        workers: WorkersFn,
        timeout_ms: int,
        max_inflight: int,
        kind: str = "script",
        stats: DeploymentStats | None = None,
    ) -> None:
        self.name = name
        #: what the router counts for it; kept with the route, so counts survive routing-table rebuilds
        self.stats = stats if stats is not None else DeploymentStats("", name)
        self.workers = workers
        self.timeout_s = timeout_ms / 1000
        self.max_inflight = max_inflight
        self.inflight = 0
        self.kind = kind  #: "script" (Azure's scoring routes) or "triton" (Open Inference Protocol v2)

    def release(self) -> None:
        """A request that timed out got its late answer (or its worker ended): its admission slot is free."""
        self.inflight -= 1


class EndpointRoute(msgspec.Struct, frozen=True):
    """One endpoint as the router sees it: keys, traffic and mirror rules, deployments by name."""

    name: str
    keys: tuple[str, ...]  #: accepted keys; empty for token endpoints
    traffic: WeightedTable
    mirror: tuple[str, int] | None
    deployments: Mapping[str, DeploymentRoute]
    tokens: bool = False  #: auth by tokens (aml_token / aad_token) instead of keys
    uid: str = ""  #: which creation of the endpoint this is; tokens name it
    kubernetes: bool = False  #: a Kubernetes endpoint: 502 for script failures, 504 for timeouts, no 424
    #: requests refused before a deployment was chosen (bad key, no deployment takes traffic, ...)
    front: DeploymentStats = msgspec.field(default_factory=lambda: DeploymentStats("", ""))
    #: how far numbers in mirror answers may differ from the live ones (the modelyard-mirror-tolerance tag)
    tolerances: Tolerances = msgspec.field(default_factory=Tolerances)


class Response(msgspec.Struct):
    """An HTTP response produced by the data plane."""

    status: int
    headers: Headers
    body: bytes


class Router:
    """Routes data-plane requests to workers."""

    def __init__(
        self, random: Callable[[], float], bits: Callable[[int], int] = getrandbits, tokens: Tokens | None = None
    ) -> None:
        self.tokens = tokens
        self._random = random
        self._bits = bits  #: request ids; the default avoids a urandom syscall per request
        self.endpoints: dict[str, EndpointRoute] = {}
        #: sends the mirror copies and compares their answers with the live ones
        self.mirror = Mirror(self._send)
        #: requests for endpoints that do not exist (one bucket, so unknown names cannot grow the metrics)
        self.unrouted = DeploymentStats("", "")
        #: the HTTP status of an error code, for relayed model errors and the request counts; the HTTP layer sets
        #: its one table here
        self.status_of: Callable[[Code], int] = lambda code: 500

    def refused(self, route: EndpointRoute | None, code: Code, seconds: float) -> None:
        """Count a request the front end refused before `forward` (no such endpoint, bad key, body too large)."""
        (route.front if route is not None else self.unrouted).finished(self.status_of(code), seconds)

    def new_request_id(self) -> str:
        """A GUID for one request, as Azure's front end gives each request in x-request-id."""
        # str(uuid.UUID(int=..., version=4)) spelled out: the same string in half the time, once per request.
        h = f"{self._bits(128) & _UUID4_CLEAR | _UUID4_SET:032x}"
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    def authenticate(self, route: EndpointRoute, authorization: str | None) -> None:
        """Check `Authorization: Bearer <key or token>` for the endpoint's auth mode; Unauthenticated otherwise."""
        what = "token" if route.tokens else "key"
        if not authorization:
            raise Unauthenticated(f"missing Authorization header: send `Authorization: Bearer <endpoint {what}>`")
        scheme, _, token = authorization.partition(" ")
        token = token.strip()
        ok = False
        if scheme.lower() == "bearer" and token:
            if route.tokens:
                ok = self.tokens is not None and self.tokens.valid(token, route.name, route.uid)
            else:
                encoded = token.encode()
                for key in route.keys:
                    ok |= hmac.compare_digest(encoded, key.encode())
        if not ok:
            hint = "; get a new one with `online-endpoint get-credentials`" if route.tokens else ""
            raise Unauthenticated(f"invalid or expired {what} in the Authorization header{hint}")

    def route(self, endpoint: str) -> EndpointRoute:
        """The endpoint's routing table; NotFound if there is no such endpoint."""
        route = self.endpoints.get(endpoint.lower())
        if route is None:
            raise NotFound(f"endpoint {endpoint!r} not found")
        return route

    async def forward(
        self,
        route: EndpointRoute,
        method: str,
        path: str,
        query: str,
        headers: Headers,
        body: bytes,
        target: str | None,
        request_id: str | None = None,
        max_body: int = 0,
        started: float | None = None,
    ) -> Response:
        """Send an authenticated request to a deployment (the named `target`, or by traffic) and relay the answer.

        `request_id` is the front end's id for the request (see `new_request_id`); one is made when it is not given.
        `max_body` is the server's body limit, which a compressed body may not inflate past in the worker.
        `started` is the request's arrival (time.monotonic), from which its duration and queue wait are counted.
        """
        if started is None:
            started = monotonic()
        dep: DeploymentRoute | None = None
        # The live outcome for the mirror copy to compare with; None (and nothing allocated) without a mirror.
        live: asyncio.Future[LiveOutcome | None] | None = None
        try:
            dep, shadow = self._choose(route, path, target)
            # Azure's front end replaces the client's x-request-id with its own GUID before the container sees it,
            # and sanitises the client's own id.
            fwd = [(k, v) for k, v in headers if k != "x-request-id"]
            if any(k == "x-ms-client-request-id" for k, _ in fwd):
                fwd = _sanitised_client_id(fwd)
            rid = request_id or self.new_request_id()
            fwd.append(("x-request-id", rid))
            if shadow is not None:
                # The copy is the request the live deployment sees, cleaned headers included.
                copy = (method, path, query, list(fwd), body, max_body)
                # Counted under the endpoint's uid: copies in flight when it is deleted never count for one created
                # again under its name.
                live = self.mirror.start(route.uid or route.name, route.tolerances, shadow, *copy, rid)
            try:
                answer = await self._send(dep, method, path, query, fwd, body, max_body, started)
            except Timeout as exc:
                if route.kubernetes:
                    raise ModelyardError(exc.message, code=Code.UPSTREAM_TIMEOUT) from None
                raise
            if live is not None:
                live.set_result(self._outcome(answer, started))
            response = _relayed(route, dep, answer, self.status_of)
        except ModelyardError as exc:
            if live is not None and not live.done():
                live.set_result((self.status_of(exc.code), exc.message.encode(), _ms_since(started)))
            (dep.stats if dep is not None else route.front).finished(self.status_of(exc.code), monotonic() - started)
            raise
        finally:
            if live is not None and not live.done():
                live.set_result(None)  # the client went away: there is nothing to compare with
        dep.stats.finished(response.status, monotonic() - started)
        return response

    def _choose(
        self, route: EndpointRoute, path: str, target: str | None
    ) -> tuple[DeploymentRoute, DeploymentRoute | None]:
        """The deployment that takes the request (the header's `target`, or by traffic) and its mirror, if any."""
        shadow: DeploymentRoute | None = None
        if target:
            dep = route.deployments.get(target)
            if dep is None:  # Azure's names ignore case; the exact spelling is the fast path
                dep = next((d for n, d in route.deployments.items() if n.lower() == target.lower()), None)
            if dep is None:
                raise NotFound(
                    f"deployment {target!r} named by the {DEPLOYMENT_HEADER} header is not running in endpoint "
                    f"{route.name!r} (there is no such deployment, or it failed to start)"
                )
            _check_path(dep, path)
        else:
            name = route.traffic.pick(self._random)
            if name is None:
                raise NotFound(
                    f"endpoint {route.name!r} has no deployment with positive traffic; set it with "
                    f'`online-endpoint update -n {route.name} --traffic "<deployment>=100"`'
                )
            dep = route.deployments.get(name)
            if dep is None:
                # Its traffic outlived it: it failed to come back at a restart, or a failed create was given traffic.
                raise Unavailable(
                    f"deployment {name!r} takes traffic but is not running; "
                    f"see `online-deployment show -n {name} -e {route.name}` and its get-logs"
                )
            _check_path(dep, path)
            if route.mirror is not None and mirror_hit(route.mirror[1], self._random):
                shadow = route.deployments.get(route.mirror[0])
        return dep, shadow

    async def _send(
        self,
        dep: DeploymentRoute,
        method: str,
        path: str,
        query: str,
        headers: Headers,
        body: bytes,
        max_body: int,
        started: float | None = None,
    ) -> Result | Failure:
        if not admits(dep.inflight, dep.max_inflight):
            raise Overloaded(
                f"Too many pending requests: deployment {dep.name!r} already holds {dep.inflight} "
                f"(2 x max_concurrent_requests_per_instance x instance_count = {dep.max_inflight})"
            )
        worker = least_loaded(dep.workers(), self._random)
        if worker is not None and not worker.alive:
            # It died a moment ago and is listed until its supervisor sees the exit. Nothing was sent to it, so the
            # request goes to a live sibling (or gets 503) rather than a 502 that says it may have run.
            worker = least_loaded([w for w in dep.workers() if w.alive], self._random)
        if worker is None:
            raise Unavailable(f"deployment {dep.name!r} has no ready instance")
        dep.inflight += 1
        sent = monotonic()
        late = False
        try:
            answer = await worker.infer(method, path, query, headers, body, dep.timeout_s, max_body, dep.release)
            if started is not None:  # mirror copies are not the client's requests and count apart
                # The worker took it when it began it (a request sent to a busy worker waits there), or, when the
                # answer does not say, when it was sent.
                took = answer.started if type(answer) is Result and answer.started else sent
                dep.stats.took(max(0.0, took - started))
            return answer
        except TimeoutError:
            # The worker still runs it: its slot stays taken until the late answer, when the worker calls release.
            late = True
            raise Timeout(
                f"request to deployment {dep.name!r} exceeded request_timeout_ms ({int(dep.timeout_s * 1000)} ms)"
            ) from None
        finally:
            if not late:
                dep.inflight -= 1

    def _outcome(self, answer: Result | Failure, started: float) -> LiveOutcome:
        """What the client is given, for the comparison: the worker's status (before any 424) and body."""
        if isinstance(answer, Failure):
            return (self.status_of(_code(answer.code)), answer.message.encode(), _ms_since(started))
        return (answer.status, answer.body, _ms_since(started))


def _ms_since(started: float) -> float:
    return (monotonic() - started) * 1000


def _relayed(
    route: EndpointRoute, dep: DeploymentRoute, answer: Result | Failure, status_of: Callable[[Code], int]
) -> Response:
    """The client's response for a worker's answer, as Azure's front end relays it."""
    if isinstance(answer, Failure):
        raise ModelyardError(answer.message, code=_code(answer.code))
    out = answer.headers
    out.append((DEPLOYMENT_HEADER, dep.name))
    if answer.status == 200:
        return Response(200, out, answer.body)
    if route.kubernetes:
        # Azure's Kubernetes front end reports a failing scoring script as 502 and passes other codes through.
        status = status_of(Code.UPSTREAM_MODEL_ERROR) if answer.status >= 500 else answer.status
        return Response(status, out, answer.body)
    # Azure's front end turns every non-200 from the container into 424 and reports the original status.
    out.append(("ms-azureml-model-error-statuscode", str(answer.status)))
    out.append(("ms-azureml-model-error-reason", "model_error"))
    return Response(status_of(Code.MODEL_ERROR), out, answer.body)


#: What Azure's front end passes to a scoring-script container; any other URL is its 404 "Bad URL".
_SCRIPT_PATHS = frozenset({"/score", "/swagger.json"})


def _check_path(dep: DeploymentRoute, path: str) -> None:
    if dep.kind == "triton":
        if path == "/v2" or path.startswith("/v2/"):
            return
        served = "the Open Inference Protocol routes under /v2/ (a triton_model deployment has no /score)"
    elif path in _SCRIPT_PATHS:
        return
    else:
        served = "/score and /swagger.json"
    raise NotFound(f"no route {path!r} in deployment {dep.name!r}: it serves {served}")


def _sanitised_client_id(headers: Headers) -> Headers:
    """Headers with x-ms-client-request-id cut to the characters and length Azure's front end keeps, or dropped."""
    out: Headers = []
    for name, value in headers:
        if name == "x-ms-client-request-id":
            value = _CLIENT_ID_JUNK.sub("", value)[:CLIENT_ID_MAX]
            if not value:
                continue
        out.append((name, value))
    return out


def _code(value: str) -> Code:
    try:
        return Code(value)
    except ValueError:
        return Code.INTERNAL
