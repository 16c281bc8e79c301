"""WORKER_COUNT runs that many scoring processes per instance, as Azure's server runs that many gunicorn workers."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import pytest
from live import FIXTURES, Server


@pytest.fixture
def server(shared_server: Server) -> Server:
    """The session's shared server, as new for each test: none of these tests needs one of its own."""
    return shared_server


def test_worker_count_processes_share_an_instance_and_serve_requests_side_by_side(
    server: Server, tmp_path: Path
) -> None:
    seen, go = tmp_path / "seen.txt", tmp_path / "go"
    server.cli("online-endpoint", "create", "-f", str(FIXTURES / "endpoint.yml"))
    shown = server.json(
        "online-deployment",
        "create",
        "-f",
        str(FIXTURES / "echo-deployment.yml"),
        "--all-traffic",
        "--set",
        "environment_variables.WORKER_COUNT=2",
        f"environment_variables.SEEN_FILE={seen}",
    )
    assert isinstance(shown, dict)
    workers = shown["workers"]
    assert [(w["instance"], w["process"], w["state"]) for w in workers] == [(0, 0, "Ready"), (0, 1, "Ready")]
    assert workers[0]["cores"] == workers[1]["cores"] and workers[0]["pid"] != workers[1]["pid"]
    auth = {"Authorization": f"Bearer {server.key('fix')}"}
    answers: list[httpx.Response] = []

    def call() -> None:
        with server.client() as http:
            answers.append(http.post("/endpoints/fix/score", json={"wait_for": str(go)}, headers=auth))

    calls = [threading.Thread(target=call) for _ in range(2)]
    for thread in calls:
        thread.start()
    # Both requests are inside run() at once, which one process (one request at a time) could never do.
    deadline = time.monotonic() + 30
    while not (seen.exists() and seen.read_text().count("\n") == 2):
        assert time.monotonic() < deadline, "the two requests were not served side by side"
        time.sleep(0.05)
    go.touch()
    for thread in calls:
        thread.join()
    assert [r.status_code for r in answers] == [200, 200]
    assert {r.json()["pid"] for r in answers} == {w["pid"] for w in workers}
    table = server.cli("online-deployment", "show", "-n", "echo", "-e", "fix", "-o", "table").stdout
    assert "#0:Ready" in table and "#0.1:Ready" in table
    logs = server.cli("online-deployment", "get-logs", "-n", "echo", "-e", "fix").stdout
    assert "echo-0.0 " in logs and "echo-0.1 " in logs  # both processes log into the instance's one log
