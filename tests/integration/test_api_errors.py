"""A client's mistakes on the management API and the data plane get a clear error and change nothing."""

from __future__ import annotations

import os
import shutil
import socket
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from live import FIXTURES, Server


@pytest.fixture
def server(shared_server: Server) -> Server:
    """The session's shared server, as new for each test: none of these tests needs one of its own."""
    return shared_server


def admin(server: Server) -> httpx.Client:
    token = (server.state / "admin-token").read_text().strip()
    return httpx.Client(base_url=server.url, timeout=30, headers={"Authorization": f"Bearer {token}"})


def test_unknown_routes_and_methods_answer_in_the_api_error_shape(server: Server) -> None:
    server.cli("online-endpoint", "create", "-f", str(FIXTURES / "endpoint.yml"))
    with admin(server) as api:
        r = api.get("/api/nothing")
        assert r.status_code == 404
        assert r.json()["error"]["code"] == "not_found" and "GET /api/nothing" in r.json()["error"]["message"]
        # An encoded '/' in a name must not reach another route (here: the keys).
        r = api.get("/api/endpoints/fix%2Fkeys")
        assert r.status_code == 400 and "contains '/'" in r.json()["error"]["message"]
        r = api.put("/api/endpoints/fix", json={})
        assert r.status_code == 405 and r.json()["error"]["code"] == "unsupported"
        assert "PATCH" in r.json()["error"]["message"]
        r = api.put("/api/endpoints", json={})
        assert r.status_code == 405 and {"GET", "POST"} <= set(r.headers["allow"].split(", "))


def test_unknown_fields_in_a_request_are_refused_and_change_nothing(server: Server) -> None:
    server.cli("online-endpoint", "create", "-f", str(FIXTURES / "endpoint.yml"))
    server.deploy_echo("--all-traffic")
    before = server.json("online-endpoint", "show", "-n", "fix")
    with admin(server) as api:
        r = api.patch("/api/endpoints/fix", json={"trafic": "echo=0"})
        assert r.status_code == 400
        message = r.json()["error"]["message"]
        assert "unknown field `trafic`" in message and "traffic" in message.split("allowed here are", 1)[1]
        r = api.patch("/api/endpoints/fix/deployments/echo", json={"placement": "strict"})
        assert r.status_code == 400 and "unknown field `placement`" in r.json()["error"]["message"]
        for traffic in ("echo=²", "echo=१००"):
            r = api.patch("/api/endpoints/fix", json={"traffic": traffic})
            assert r.status_code == 400 and "NAME=PERCENT" in r.json()["error"]["message"], r.text
    assert server.json("online-endpoint", "show", "-n", "fix") == before


def test_a_create_that_fails_validation_leaves_no_files_behind(server: Server) -> None:
    server.cli("online-endpoint", "create", "-f", str(FIXTURES / "endpoint.yml"))
    bad = server.deploy_echo("-n", "zed", "--set", "instance_type=bogus", check=False)
    assert bad.returncode != 0 and "bogus" in bad.stderr
    assert not (server.state / "snapshots" / "fix" / "zed").exists()
    listed = server.json("online-deployment", "list", "-e", "fix")
    assert listed == []


def test_a_client_that_hangs_up_mid_body_never_reaches_the_script(server: Server, tmp_path: Path) -> None:
    seen = tmp_path / "seen.txt"
    server.cli("online-endpoint", "create", "-f", str(FIXTURES / "endpoint.yml"))
    server.deploy_echo("--all-traffic", "--set", f"environment_variables.SEEN_FILE={seen}")
    key = server.key("fix")
    url = urlsplit(server.url)
    with socket.create_connection((url.hostname, url.port)) as raw:
        head = (
            "POST /endpoints/fix/score HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Authorization: Bearer {key}\r\nContent-Length: 100000\r\n\r\n"
        )
        raw.sendall(head.encode() + b'{"data": [[1,2,3')
        time.sleep(0.3)
    with server.client() as http:
        r = http.post("/endpoints/fix/score", json={"after": 1}, headers={"Authorization": f"Bearer {key}"})
        assert r.status_code == 200
    assert seen.read_text().splitlines() == ['{"after":1}']


def test_show_lists_the_ignored_keys_after_a_restart_too(server: Server) -> None:
    server.cli("online-endpoint", "create", "-f", str(FIXTURES / "endpoint.yml"))
    created = server.json("online-deployment", "create", "-f", str(FIXTURES / "k8s-deployment.yml"))
    assert isinstance(created, dict) and created["ignored"]
    server.stop()
    server.start()
    shown = server.json("online-deployment", "show", "-n", created["name"], "-e", "fix")
    assert isinstance(shown, dict) and shown["ignored"] == created["ignored"]


def test_a_body_over_the_limit_gets_413_and_the_script_never_sees_it(server: Server, tmp_path: Path) -> None:
    server.stop()
    server.start("--max-body-mib", "1")
    seen = tmp_path / "seen.txt"
    server.cli("online-endpoint", "create", "-f", str(FIXTURES / "endpoint.yml"))
    server.deploy_echo("--all-traffic", "--set", f"environment_variables.SEEN_FILE={seen}")
    auth = {"Authorization": f"Bearer {server.key('fix')}", "Content-Type": "application/json"}
    with server.client() as http:
        big = b'{"pad": "' + b"x" * (2 * 2**20) + b'"}'
        r = http.post("/endpoints/fix/score", content=big, headers=auth)
        assert (
            r.status_code == 413 and "limit of 1 MiB" in r.json()["message"] and "--max-body-mib" in r.json()["message"]
        )
        r = http.post("/endpoints/fix/score", content=b'{"pad": "' + b"x" * 500_000 + b'"}', headers=auth)
        assert r.status_code == 200
    assert len(seen.read_text().splitlines()) == 1


def test_a_fifo_or_device_in_a_model_or_code_folder_is_refused_without_hanging(server: Server, tmp_path: Path) -> None:
    # Copying a FIFO would block until a writer came; a device would copy forever. Both are named and refused.
    model = tmp_path / "model"
    model.mkdir()
    (model / "weights.bin").write_bytes(b"w")
    os.mkfifo(model / "pipe")
    spec = tmp_path / "model.yml"
    spec.write_text(f"name: m\nversion: '1'\npath: {model}\n")
    refused = server.cli("model", "create", "-f", str(spec), check=False)
    assert refused.returncode == 1
    assert f"{model / 'pipe'} is not a regular file or folder" in refused.stderr
    spec.write_text("name: m\nversion: '1'\npath: /dev/null\n")
    device = server.cli("model", "create", "-f", str(spec), check=False)
    assert device.returncode == 1 and "/dev/null is not a regular file or folder" in device.stderr
    assert server.json("model", "list") == [] and not (server.state / "models" / "m").exists()

    code = tmp_path / "code"
    shutil.copytree(FIXTURES / "echo", code)
    (code / "zeros").symlink_to("/dev/zero")
    server.cli("online-endpoint", "create", "-f", str(FIXTURES / "endpoint.yml"))
    deployed = server.deploy_echo("--set", f"code_configuration.code={code}", check=False)
    assert deployed.returncode == 1 and f"{code / 'zeros'} is not a regular file or folder" in deployed.stderr
    assert server.json("online-deployment", "list", "-e", "fix") == []
