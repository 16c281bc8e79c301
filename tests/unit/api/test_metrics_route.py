"""/metrics: Prometheus text for scrapers on this machine without a token; others need the admin token."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from runtime.api.app import build_app
from runtime.metrics.stats import DeploymentStats
from runtime.routing.router import Router
from runtime.status import MachineStatus, Status

TOKEN = "t" * 32


class FakeStatus:
    def __init__(self) -> None:
        self.stats = DeploymentStats("ep", "blue")

    def snapshot(self) -> Status:
        return Status(taken_at=0.0, sample_period_s=1.0, window_s=10.0, machine=MachineStatus(cores=(0, 1), notes=()))

    def request_stats(self) -> list[DeploymentStats]:
        return [self.stats]


class FakeCore:
    def __init__(self) -> None:
        self.router = Router(lambda: 0.5)


class FakeController:
    def __init__(self) -> None:
        self.core = FakeCore()
        self.status = FakeStatus()


async def _get(client: str, headers: dict[str, str] | None = None) -> httpx.Response:
    ctl: Any = FakeController()
    ctl.status.stats.finished(200, 0.001)
    transport = httpx.ASGITransport(app=build_app(ctl, TOKEN), client=(client, 5000))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        return await http.get("/metrics", headers=headers or {})


def test_a_loopback_scraper_needs_no_token() -> None:
    for host in ("127.0.0.1", "::1"):
        r = asyncio.run(_get(host))
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain; version=")
        families = {f.name: f for f in text_string_to_metric_families(r.text)}
        (sample,) = families["modelyard_requests"].samples
        assert sample.labels == {"endpoint": "ep", "deployment": "blue", "status": "200"} and sample.value == 1


def test_another_machine_needs_the_admin_token() -> None:
    r = asyncio.run(_get("10.1.2.3"))
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthenticated"
    assert asyncio.run(_get("10.1.2.3", {"Authorization": "Bearer wrong"})).status_code == 401
    assert asyncio.run(_get("10.1.2.3", {"Authorization": f"Bearer {TOKEN}"})).status_code == 200
