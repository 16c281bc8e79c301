"""Endpoint tokens belong to one creation of the endpoint: they survive a restart, not a delete and re-create."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
from live import Server, worker_pids


@pytest.fixture
def server(shared_server: Server) -> Server:
    """The session's shared server, as new for each test: none of these tests needs one of its own."""
    return shared_server


def _score(http: httpx.Client, token: str) -> int:
    return http.post("/endpoints/tok/score", json={"t": 1}, headers={"Authorization": f"Bearer {token}"}).status_code


def _token(server: Server) -> str:
    creds = server.json("online-endpoint", "get-credentials", "-n", "tok")
    assert isinstance(creds, dict)
    return str(creds["accessToken"])


def test_a_token_issued_before_a_delete_does_not_open_the_endpoint_created_again(
    server: Server, tmp_path: Path
) -> None:
    spec = tmp_path / "token-endpoint.yml"
    spec.write_text("name: tok\nauth_mode: aml_token\n")
    server.cli("online-endpoint", "create", "-f", str(spec))
    server.deploy_echo("-e", "tok", "--set", "endpoint_name=tok", "--all-traffic")
    old = _token(server)
    with server.client() as http:
        assert _score(http, old) == 200
    # The endpoint is the same one after a restart of serve: its tokens still work.
    server.stop()
    server.start()
    deadline = time.monotonic() + 30
    while not worker_pids(server, "tok", "echo", state="Ready"):
        assert time.monotonic() < deadline, "the deployment did not come back after the restart"
        time.sleep(0.1)
    with server.client() as http:
        assert _score(http, old) == 200

    server.cli("online-endpoint", "delete", "-n", "tok", "--yes")
    server.cli("online-endpoint", "create", "-f", str(spec))
    server.deploy_echo("-e", "tok", "--set", "endpoint_name=tok", "--all-traffic")
    with server.client() as http:
        r = http.post("/endpoints/tok/score", json={}, headers={"Authorization": f"Bearer {old}"})
        assert r.status_code == 401 and "token" in r.json()["message"]
        assert _score(http, _token(server)) == 200
