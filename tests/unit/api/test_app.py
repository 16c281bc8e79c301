"""The real app (one route table, the admin guard, the data plane) against a Controller on tmp_path, over ASGI.

No worker runs: a deployment's answers come from a fake worker placed in the router's table, so the statuses
and bodies a client sees for a script's failure are those of the one Code -> HTTP table.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import pytest

from runtime.api.app import build_app
from runtime.api.limits import Limits
from runtime.control.controller import Controller
from runtime.ipc.messages import Failure, Headers, Result
from runtime.routing.balance import WeightedTable
from runtime.routing.router import DeploymentRoute, EndpointRoute
from runtime.statedir import StateDir

TOKEN = "a" * 32
ADMIN = {"Authorization": f"Bearer {TOKEN}"}
MAX_BODY = 1024


class Scripted:
    """A ready worker whose answer is fixed."""

    def __init__(self, status: int, body: bytes) -> None:
        self.answer = (status, body)
        self.inflight = 0
        self.alive = True

    async def infer(self, *args: object, **kwargs: object) -> Result | Failure:
        status, body = self.answer
        headers: Headers = [("content-type", "application/json")]
        return Result(1, status, headers, body)


Body = Callable[[httpx.AsyncClient, Controller], Awaitable[None]]


def with_app(tmp_path: Path, body: Body) -> None:
    async def main() -> None:
        ctl = Controller(StateDir(tmp_path / "state"), cores=[0, 1], gpus=[], random=lambda: 0.5)
        app = build_app(ctl, TOKEN, Limits(max_body=MAX_BODY))
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=("127.0.0.1", 40000))
        try:
            async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:5000") as client:
                await body(client, ctl)
        finally:
            await ctl.stop()

    asyncio.run(asyncio.wait_for(main(), 20))


def place(ctl: Controller, endpoint: str, worker: Scripted, *, kubernetes: bool = False) -> str:
    """Give `endpoint` a deployment `blue` served by `worker`, taking all traffic; return the endpoint's key."""
    keys = ctl.endpoints.keys(endpoint)
    dep = DeploymentRoute("blue", lambda: [worker], timeout_ms=5000, max_inflight=10)
    ctl.core.router.endpoints[endpoint] = EndpointRoute(
        name=endpoint,
        keys=(keys["primaryKey"], keys["secondaryKey"]),
        traffic=WeightedTable({"blue": 100}),
        mirror=None,
        deployments={"blue": dep},
        kubernetes=kubernetes,
    )
    return str(keys["primaryKey"])


def test_the_management_api_needs_the_admin_token(tmp_path: Path) -> None:
    async def body(client: httpx.AsyncClient, ctl: Controller) -> None:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
            r = await client.get("/api/endpoints", headers=headers)
            assert r.status_code == 401
            assert r.json() == {"error": {"code": "unauthenticated", "message": "missing or wrong admin token"}}
        r = await client.get("/api/endpoints", headers=ADMIN)
        assert r.status_code == 200 and r.json() == []

    with_app(tmp_path, body)


def test_endpoints_are_created_shown_in_any_case_and_refused_twice(tmp_path: Path) -> None:
    async def body(client: httpx.AsyncClient, ctl: Controller) -> None:
        r = await client.post("/api/endpoints", json={"name": "digits"}, headers=ADMIN)
        assert r.status_code == 201 and r.json()["name"] == "digits"
        r = await client.get("/api/endpoints/DIGITS", headers=ADMIN)
        assert r.status_code == 200 and r.json()["auth_mode"] == "key"
        r = await client.post("/api/endpoints", json={"name": "digits"}, headers=ADMIN)
        assert r.status_code == 409 and r.json()["error"]["code"] == "conflict"

    with_app(tmp_path, body)


@pytest.mark.parametrize(
    ("method", "path", "json", "status", "code", "message"),
    [
        ("GET", "/api/endpoints/nope", None, 404, "not_found", "endpoint 'nope' not found"),
        ("GET", "/api/nothing", None, 404, "not_found", "no such route: GET /api/nothing"),
        ("PUT", "/api/endpoints", {}, 405, "unsupported", "/api/endpoints does not take PUT"),
        ("POST", "/api/endpoints", {"nmae": "x"}, 400, "invalid_argument", "request body: Object contains unknown"),
        ("POST", "/api/endpoints", {}, 400, "invalid_argument", "no YAML given: pass the file with -f"),
        ("PATCH", "/api/endpoints/nope", {"traffic": "blue=100"}, 404, "not_found", "endpoint 'nope' not found"),
    ],
)
def test_management_errors_have_the_tables_status_and_the_api_error_shape(
    tmp_path: Path, method: str, path: str, json: object, status: int, code: str, message: str
) -> None:
    async def body(client: httpx.AsyncClient, ctl: Controller) -> None:
        r = await client.request(method, path, json=json, headers=ADMIN)
        assert r.status_code == status and r.headers["content-type"] == "application/json"
        assert r.json()["error"]["code"] == code and r.json()["error"]["message"].startswith(message)

    with_app(tmp_path, body)


def test_scoring_refusals_are_json_messages_with_the_front_ends_request_id(tmp_path: Path) -> None:
    async def body(client: httpx.AsyncClient, ctl: Controller) -> None:
        r = await client.post("/endpoints/nope/score", content=b"{}")
        assert r.status_code == 404 and r.json() == {"message": "endpoint 'nope' not found"}
        assert len(r.headers["x-request-id"]) == 36
        await client.post("/api/endpoints", json={"name": "digits"}, headers=ADMIN)
        r = await client.post("/endpoints/digits/score", content=b"{}")
        assert r.status_code == 401 and r.json()["message"].startswith("missing Authorization header")
        r = await client.post("/endpoints/digits/score", content=b"{}", headers={"Authorization": "Bearer nope"})
        assert r.status_code == 401 and r.json()["message"].startswith("invalid or expired key")
        key = ctl.endpoints.keys("digits")["primaryKey"]
        r = await client.post("/endpoints/digits/score", content=b"{}", headers={"Authorization": f"Bearer {key}"})
        assert r.status_code == 404 and "has no deployment with positive traffic" in r.json()["message"]

    with_app(tmp_path, body)


def test_a_body_over_the_limit_is_413_before_any_worker_sees_it(tmp_path: Path) -> None:
    async def body(client: httpx.AsyncClient, ctl: Controller) -> None:
        await client.post("/api/endpoints", json={"name": "digits"}, headers=ADMIN)
        worker = Scripted(200, b"[1]")
        auth = {"Authorization": f"Bearer {place(ctl, 'digits', worker)}"}
        r = await client.post("/endpoints/digits/score", content=b"x" * MAX_BODY, headers=auth)
        assert r.status_code == 200 and r.content == b"[1]"
        r = await client.post("/endpoints/digits/score", content=b"x" * (MAX_BODY + 1), headers=auth)
        assert r.status_code == 413 and "over this server's limit" in r.json()["message"]

    with_app(tmp_path, body)


def test_a_scripts_error_is_424_with_its_status_or_502_on_kubernetes(tmp_path: Path) -> None:
    async def body(client: httpx.AsyncClient, ctl: Controller) -> None:
        for name in ("managed", "edge"):
            await client.post("/api/endpoints", json={"name": name}, headers=ADMIN)
        failing = Scripted(500, b'{"message": "boom"}')
        managed = {"Authorization": f"Bearer {place(ctl, 'managed', failing)}"}
        edge = {"Authorization": f"Bearer {place(ctl, 'edge', failing, kubernetes=True)}"}
        r = await client.post("/endpoints/managed/score", content=b"{}", headers=managed)
        assert r.status_code == 424 and r.content == b'{"message": "boom"}'
        assert r.headers["ms-azureml-model-error-statuscode"] == "500"
        assert r.headers["azureml-model-deployment"] == "blue"
        r = await client.post("/endpoints/edge/score", content=b"{}", headers=edge)
        assert r.status_code == 502 and "ms-azureml-model-error-statuscode" not in r.headers
        failing.answer = (422, b'{"message": "bad input"}')  # Kubernetes passes a client error through
        r = await client.post("/endpoints/edge/score", content=b"{}", headers=edge)
        assert r.status_code == 422

    with_app(tmp_path, body)


def test_the_host_header_form_reaches_the_same_endpoint(tmp_path: Path) -> None:
    async def body(client: httpx.AsyncClient, ctl: Controller) -> None:
        await client.post("/api/endpoints", json={"name": "digits"}, headers=ADMIN)
        auth = {"Authorization": f"Bearer {place(ctl, 'digits', Scripted(200, b'[7]'))}"}
        r = await client.post("/score", content=b"{}", headers={**auth, "Host": "digits.localhost:5000"})
        assert r.status_code == 200 and r.content == b"[7]"

    with_app(tmp_path, body)
