"""Overload and timeouts with a slow scoring script: 429 with Retry-After, and a request that timed out keeps its
worker counted as busy until the worker answers it."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from live import FIXTURES, Server, wait_for_state, worker_pids


@pytest.fixture
def server(shared_server: Server) -> Server:
    """The session's shared server, as new for each test: none of these tests needs one of its own."""
    return shared_server


def _create(server: Server, *settings: str) -> dict[str, str]:
    server.cli("online-endpoint", "create", "-f", str(FIXTURES / "endpoint.yml"))
    sets = [arg for setting in settings for arg in ("--set", setting)]
    server.deploy_echo("--all-traffic", *sets)
    wait_for_state(server, "fix", "echo", "Succeeded")
    return {"Authorization": f"Bearer {server.key('fix')}"}


def test_under_ten_times_the_admission_bound_every_request_ends_by_its_deadline(server: Server) -> None:
    headers = _create(
        server,
        "request_settings.request_timeout_ms=1000",
        "request_settings.max_concurrent_requests_per_instance=1",
    )  # one instance: 2 in flight admitted

    def call(_: int) -> tuple[int, str | None, float]:
        started = time.monotonic()
        with httpx.Client(base_url=server.url, timeout=30) as http:
            r = http.post("/endpoints/fix/score", json={"sleep": 0.4}, headers=headers)
        return r.status_code, r.headers.get("retry-after"), time.monotonic() - started

    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(call, range(20)))
    statuses = [status for status, _, _ in results]
    assert set(statuses) <= {200, 408, 429}, statuses
    assert 200 in statuses and 429 in statuses
    assert all(retry == "1" for status, retry, _ in results if status == 429)
    assert all(retry is None for status, retry, _ in results if status != 429)
    # The behaviour under test is a bound on time: request_timeout_ms (1 s) plus a margin for a shared 2-core CI box.
    slowest = max(took for _, _, took in results)
    assert slowest < 1.0 + 3.0, results


def test_a_timed_out_request_keeps_its_worker_busy_until_the_late_answer(server: Server, tmp_path: Path) -> None:
    headers = _create(
        server,
        "instance_count=2",
        "request_settings.request_timeout_ms=500",
        "request_settings.max_concurrent_requests_per_instance=4",
    )
    assert len(worker_pids(server, "fix", "echo", "Ready")) == 2
    hold = tmp_path / "release"
    with server.client() as http:
        stuck = http.post("/endpoints/fix/score", json={"wait_for": str(hold)}, headers=headers)
        assert stuck.status_code == 408
        # The worker that timed out still runs that request: every request goes to the other one meanwhile.
        answered = [http.post("/endpoints/fix/score", json={}, headers=headers) for _ in range(8)]
        assert [r.status_code for r in answered] == [200] * 8
        (free,) = {r.json()["pid"] for r in answered}
        hold.touch()  # the stuck run() returns; its late answer frees the worker
        pids = set()
        for _ in range(60):
            r = http.post("/endpoints/fix/score", json={}, headers=headers)
            assert r.status_code == 200
            pids.add(r.json()["pid"])
            if len(pids) == 2:
                break
        assert len(pids) == 2 and free in pids
