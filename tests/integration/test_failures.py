"""What users see when things go wrong: bad keys, killed workers, failing init(), bad YAML."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import httpx
import pytest
from live import FIXTURES, Server, worker_pids


@pytest.fixture
def server(shared_server: Server) -> Server:
    """The session's shared server, as new for each test: none of these tests needs one of its own."""
    return shared_server


def test_the_management_api_needs_the_admin_token_kept_private(server: Server) -> None:
    assert (server.state / "admin-token").stat().st_mode & 0o777 == 0o600
    with server.client() as http:
        assert http.get("/api/endpoints").status_code == 401
        assert http.get("/api/endpoints", headers={"Authorization": "Bearer wrong"}).status_code == 401
        token = (server.state / "admin-token").read_text().strip()
        assert http.get("/api/endpoints", headers={"Authorization": f"Bearer {token}"}).json() == []
    assert server.url.startswith("http://127.0.0.1:")


def test_wrong_or_missing_key_is_401_and_never_reaches_the_worker(server: Server, tmp_path: Path) -> None:
    seen = tmp_path / "seen.txt"
    server.cli("online-endpoint", "create", "-f", str(FIXTURES / "endpoint.yml"))
    server.deploy_echo("-n", "blue", "--all-traffic", "--set", f"environment_variables.SEEN_FILE={seen}")
    with server.client() as http:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic abc"}):
            r = http.post("/endpoints/fix/score", json={"x": 1}, headers=headers)
            assert r.status_code == 401, r.text
            assert len(r.headers["x-request-id"]) == 36  # the front end's id, on its own answers too
        assert not seen.exists()
        key = {"Authorization": f"Bearer {server.key('fix')}"}
        r = http.post("/endpoints/fix/score", json={"x": 1}, headers={**key, "x-ms-client-request-id": "run 7/a"})
        assert r.status_code == 200 and r.json()["echo"] == {"x": 1}
        assert r.headers["x-ms-client-request-id"] == "run7a"  # sanitised by the front end, as Azure's is
        assert seen.read_text().count("\n") == 1


def test_killed_worker_fails_its_requests_and_is_back_quickly(server: Server) -> None:
    server.cli("online-endpoint", "create", "-f", str(FIXTURES / "endpoint.yml"))
    server.deploy_echo("-n", "blue", "--all-traffic")
    server.deploy_echo("-n", "green")
    auth = {"Authorization": f"Bearer {server.key('fix')}"}
    green_status: list[int] = []
    stop = threading.Event()

    def green_load() -> None:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            while not stop.is_set():
                r = http.post("/endpoints/fix/score", json={}, headers={**auth, "azureml-model-deployment": "green"})
                green_status.append(r.status_code)

    loader = threading.Thread(target=green_load)
    loader.start()
    try:
        (old_pid,) = worker_pids(server, "fix", "blue")
        with httpx.Client(base_url=server.url, timeout=30) as http:
            result: list[httpx.Response] = []
            slow = threading.Thread(
                target=lambda: result.append(http.post("/endpoints/fix/score", json={"sleep": 5}, headers=auth))
            )
            slow.start()
            deadline = time.monotonic() + 10
            while server.deployment("fix", "blue")["workers"][0]["inflight"] != 1:
                assert time.monotonic() < deadline, "the slow request never reached blue"
                time.sleep(0.05)
            os.kill(old_pid, signal.SIGKILL)
            killed_at = time.monotonic()
            slow.join(timeout=10)
            (failed,) = result
            assert failed.status_code == 502
            assert "SIGKILL" in failed.json()["message"]
            while True:
                r = http.post("/endpoints/fix/score", json={}, headers=auth)
                if r.status_code == 200:
                    break
                assert time.monotonic() - killed_at < 2.0, f"blue not back after 2 s: {r.status_code} {r.text}"
                time.sleep(0.02)
            assert r.json()["pid"] != old_pid
    finally:
        stop.set()
        loader.join()
    assert green_status and set(green_status) == {200}


def test_init_failure_marks_the_deployment_failed_and_logs_the_traceback(server: Server) -> None:
    server.cli("online-endpoint", "create", "-f", str(FIXTURES / "endpoint.yml"))
    result = server.cli("online-deployment", "create", "-f", str(FIXTURES / "broken-deployment.yml"), check=False)
    assert result.returncode != 0
    assert "model file is corrupt" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    shown = server.json("online-deployment", "show", "-n", "broken", "-e", "fix")
    assert isinstance(shown, dict) and shown["provisioning_state"] == "Failed"
    logs = server.cli("online-deployment", "get-logs", "-n", "broken", "-e", "fix", "--lines", "50").stdout
    assert "Traceback" in logs and "RuntimeError: model file is corrupt: checksum mismatch" in logs
    # The server keeps serving: another deployment still comes up.
    server.deploy_echo("-n", "blue", "--all-traffic")
    with server.client() as http:
        r = http.post("/endpoints/fix/score", json={"a": 1}, headers={"Authorization": f"Bearer {server.key('fix')}"})
        assert r.status_code == 200


def test_bad_yaml_gets_a_one_line_error_and_changes_nothing(server: Server, tmp_path: Path) -> None:
    server.cli("online-endpoint", "create", "-f", str(FIXTURES / "endpoint.yml"))
    before = server.cli("online-endpoint", "list").stdout
    cases = {
        "unknown.yml": ("name: fx2\nauth_mode: key\nfoo: 1\n", "$.foo"),
        "wrongtype.yml": ("name: fx3\nauth_mode: key\ntags: [1, 2]\n", "$.tags"),
        "traffic.yml": ("name: fix\nauth_mode: key\ntraffic:\n  blue: 70\n", "$.traffic"),
        "created-with-traffic.yml": ("name: fx4\ntraffic:\n  blue: 100\n", "$.traffic"),
    }
    for filename, (text, where) in cases.items():
        path = tmp_path / filename
        path.write_text(text)
        verb = "update" if filename == "traffic.yml" else "create"
        args = ["online-endpoint", verb, "-f", str(path)] + (["-n", "fix"] if verb == "update" else [])
        result = server.cli(*args, check=False)
        assert result.returncode != 0
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and filename in lines[0] and where in lines[0], result.stderr
    bad_dep = tmp_path / "bad-deployment.yml"
    bad_dep.write_text(
        (FIXTURES / "echo-deployment.yml").read_text() + "request_settings:\n  request_timeout_ms: soon\n"
    )
    result = server.cli("online-deployment", "create", "-f", str(bad_dep), check=False)
    assert result.returncode != 0 and "$.request_settings.request_timeout_ms" in result.stderr
    assert server.cli("online-endpoint", "list").stdout == before
    assert server.json("online-deployment", "list", "-e", "fix") == []
