"""The management API's guard: a defect in a route still answers the API's JSON error shape, never plain text."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from runtime.api.app import _AdminGuard

TOKEN = "t" * 32


async def _broken(request: Request) -> Response:
    raise RuntimeError("a defect")


def _app() -> Starlette:
    routes = [Route("/api/broken", _broken)]
    return Starlette(routes=routes, middleware=[Middleware(_AdminGuard, token=TOKEN)])


async def _get(path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.get(path, headers={"Authorization": f"Bearer {TOKEN}"})


def test_a_defect_answers_json_500_and_logs_its_traceback(caplog: pytest.LogCaptureFixture) -> None:
    r = asyncio.run(_get("/api/broken"))
    assert r.status_code == 500 and r.headers["content-type"] == "application/json"
    assert r.json() == {
        "error": {"code": "internal", "message": "internal error (RuntimeError); serve's log has the details"}
    }
    assert any(rec.exc_info and "a defect" in str(rec.exc_info[1]) for rec in caplog.records)
