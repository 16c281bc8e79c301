"""State survives a restart of serve, and each instance runs on its own cores."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from live import FIXTURES, Server, wait_for_state


@pytest.fixture
def server(shared_server: Server) -> Server:
    """The session's shared server, as new for each test: these tests stop and start it on its state directory."""
    return shared_server


def _cpus_allowed(pid: int) -> str:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Cpus_allowed_list:"):
            return line.split(":", 1)[1].strip()
    raise AssertionError("no Cpus_allowed_list")


def _expand(cores: list[int]) -> str:
    return ",".join(map(str, cores)) if len(cores) != 2 or cores[1] != cores[0] + 1 else f"{cores[0]}-{cores[1]}"


def test_restart_brings_back_endpoints_deployments_keys_and_traffic(server: Server) -> None:
    server.cli("online-endpoint", "create", "-f", str(FIXTURES / "endpoint.yml"))
    create = ["online-deployment", "create", "-f", str(FIXTURES / "echo-deployment.yml")]
    server.cli(*create, "-n", "blue", "--set", "instance_count=2", "--all-traffic")
    server.cli(*create, "-n", "green")
    server.cli("online-endpoint", "update", "-n", "fix", "--traffic", "blue=70 green=30")
    shown = server.json("online-deployment", "show", "-n", "blue", "-e", "fix")
    assert isinstance(shown, dict)
    workers = shown["workers"]
    assert len(workers) == 2
    for w in workers:
        assert _cpus_allowed(w["pid"]) == _expand(w["cores"])
        assert 5 < w["rss_mib"] < 500  # the worker's own resident memory, read from the live process
    core_sets = [tuple(w["cores"]) for w in workers]
    assert len(set(core_sets)) == 2  # disjoint sets on this machine's cores

    keys = server.json("online-endpoint", "get-credentials", "-n", "fix")
    endpoint = server.json("online-endpoint", "show", "-n", "fix")
    server.stop()
    server.start()
    assert server.json("online-endpoint", "get-credentials", "-n", "fix") == keys
    after = server.json("online-endpoint", "show", "-n", "fix")
    assert isinstance(endpoint, dict) and isinstance(after, dict) and isinstance(keys, dict)
    # Only the URLs may differ: the restarted server listens on a new port.
    for shown_ep in (endpoint, after):
        shown_ep.pop("scoring_uri")
        shown_ep.pop("openapi_uri")
    assert after == endpoint and after["traffic"] == {"blue": 70, "green": 30}
    deadline = time.monotonic() + 30
    while True:
        deps = server.api("GET", "/api/endpoints/fix/deployments")
        assert isinstance(deps, list)
        states = {d["name"]: d["provisioning_state"] for d in deps}
        if states == {"blue": "Succeeded", "green": "Succeeded"} and all(
            w["state"] == "Ready" for d in deps for w in d["workers"]
        ):
            break
        assert time.monotonic() < deadline, states
        time.sleep(0.1)
    with server.client() as http:
        auth = {"Authorization": f"Bearer {keys['primaryKey']}"}
        r = http.post("/endpoints/fix/score", json={"after": "restart"}, headers=auth)
        assert r.status_code == 200 and r.json()["echo"] == {"after": "restart"}


def test_a_failed_update_keeps_the_previous_version_serving_across_a_restart(server: Server) -> None:
    server.cli("online-endpoint", "create", "-f", str(FIXTURES / "endpoint.yml"))
    server.cli("online-deployment", "create", "-f", str(FIXTURES / "echo-deployment.yml"), "--all-traffic")
    failed = server.cli(
        "online-deployment",
        "update",
        "-n",
        "echo",
        "-e",
        "fix",
        "--set",
        "code_configuration.code=./broken",
        check=False,
    )
    assert failed.returncode != 0 and "previous version keeps serving" in failed.stderr
    shown = server.json("online-deployment", "show", "-n", "echo", "-e", "fix")
    assert isinstance(shown, dict) and shown["provisioning_state"] == "Failed"
    assert shown["code_configuration"]["code"] == "./echo"  # the stored spec is still the serving one
    key = server.key("fix")
    with server.client() as http:
        assert (
            http.post("/endpoints/fix/score", json={"v": 1}, headers={"Authorization": f"Bearer {key}"}).status_code
            == 200
        )
    server.stop()
    server.start()
    wait_for_state(server, "fix", "echo", "Succeeded")
    with server.client() as http:
        assert (
            http.post("/endpoints/fix/score", json={"v": 2}, headers={"Authorization": f"Bearer {key}"}).status_code
            == 200
        )


def test_a_deployment_that_does_not_come_back_answers_503_and_is_retried_at_the_next_restart(
    server: Server, tmp_path: Path
) -> None:
    flag = tmp_path / "fail-init"
    server.cli("online-endpoint", "create", "-f", str(FIXTURES / "endpoint.yml"))
    server.deploy_echo("--all-traffic", "--set", f"environment_variables.FAIL_INIT_IF_EXISTS={flag}")
    auth = {"Authorization": f"Bearer {server.key('fix')}"}
    server.stop()
    flag.touch()
    server.start()
    wait_for_state(server, "fix", "echo", "Failed")
    with server.client() as http:
        r = http.post("/endpoints/fix/score", json={}, headers=auth)
        assert r.status_code == 503 and "takes traffic but is not running" in r.json()["message"]
    server.stop()
    flag.unlink()
    server.start()
    wait_for_state(server, "fix", "echo", "Succeeded")
    with server.client() as http:
        assert http.post("/endpoints/fix/score", json={}, headers=auth).status_code == 200


def test_a_deployment_that_never_came_up_cannot_be_given_traffic(server: Server) -> None:
    server.cli("online-endpoint", "create", "-f", str(FIXTURES / "endpoint.yml"))
    server.deploy_echo("--all-traffic")
    assert server.cli(
        "online-deployment", "create", "-f", str(FIXTURES / "broken-deployment.yml"), check=False
    ).returncode
    for flag, shares in (("--traffic", "echo=90 broken=10"), ("--mirror-traffic", "broken=10")):
        refused = server.cli("online-endpoint", "update", "-n", "fix", flag, shares, check=False)
        assert refused.returncode != 0 and "'broken' is Failed and has no workers" in refused.stderr, refused.stderr
    shown = server.json("online-endpoint", "show", "-n", "fix")
    assert isinstance(shown, dict) and shown["traffic"] == {"echo": 100} and shown["mirror_traffic"] == {}
