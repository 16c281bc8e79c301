"""POST .../instances/{n}/restart: the worker's process is killed and the supervisor starts a new one."""

from __future__ import annotations

import time

import pytest
from live import Server, alive, worker_pids


@pytest.fixture
def server(shared_server: Server) -> Server:
    """The session's shared server, as new for each test: none of these tests needs one of its own."""
    return shared_server


PATH = "/api/endpoints/fix/deployments/echo/instances"


def test_restart_replaces_the_worker_and_refuses_unknown_ones(server: Server) -> None:
    server.cli("online-endpoint", "create", "-n", "fix")
    server.deploy_echo("--all-traffic")
    (old,) = worker_pids(server, "fix", "echo", "Ready")
    token = (server.state / "admin-token").read_text().strip()
    with server.client() as http:
        http.headers["Authorization"] = f"Bearer {token}"
        answer = http.post(f"{PATH}/0/restart")
        assert answer.status_code == 200, answer.text
        assert answer.json()["killed_pid"] == old
        assert not alive(old)
        deadline = time.monotonic() + 30
        while worker_pids(server, "fix", "echo", "Ready") in ([old], []):
            assert time.monotonic() < deadline, "no new worker"
            time.sleep(0.1)

        missing = http.post(f"{PATH}/3/restart")
        assert missing.status_code == 404
        assert "instances 0-0" in missing.json()["error"]["message"]
        bad = http.post(f"{PATH}/x/restart")
        assert bad.status_code == 400
        assert "must be integers" in bad.json()["error"]["message"]
        gone = http.post("/api/endpoints/fix/deployments/nope/instances/0/restart")
        assert gone.status_code == 404
