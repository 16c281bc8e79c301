"""Liveness probes replace a worker that stops answering; Kubernetes YAML and user instance types deploy."""

from __future__ import annotations

import contextlib
import datetime
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from live import FIXTURES, Server, worker_pids


@pytest.fixture
def server(shared_server: Server) -> Server:
    """The session's shared server, as new for each test: none of these tests needs one of its own."""
    return shared_server


def test_a_hung_worker_fails_liveness_and_is_replaced(server: Server) -> None:
    server.cli("online-endpoint", "create", "-f", str(FIXTURES / "endpoint.yml"))
    probe = ["liveness_probe.initial_delay=0", "liveness_probe.period=1", "liveness_probe.timeout=1"]
    server.deploy_echo(
        "--all-traffic",
        "--set",
        *probe,
        "liveness_probe.failure_threshold=2",
        "request_settings.request_timeout_ms=500",
    )
    (old_pid,) = worker_pids(server, "fix", "echo")
    auth = {"Authorization": f"Bearer {server.key('fix')}"}
    with server.client() as http:
        r = http.post("/endpoints/fix/score", json={"sleep": 60}, headers=auth)
        assert r.status_code == 408
        deadline = time.monotonic() + 15
        while True:
            pids = worker_pids(server, "fix", "echo", state="Ready")
            if pids and pids != [old_pid]:
                break
            assert time.monotonic() < deadline, "the hung worker was not replaced"
            time.sleep(0.2)
        r = http.post("/endpoints/fix/score", json={"after": 1}, headers=auth)
        assert r.status_code == 200 and r.json()["pid"] == pids[0]
    shown = server.json("online-deployment", "show", "-n", "echo", "-e", "fix")
    assert isinstance(shown, dict) and shown["workers"][0]["restarts"] >= 1
    logs = server.cli("online-deployment", "get-logs", "-n", "echo", "-e", "fix").stdout
    assert "INFO [azmlinfsrv] POST /score 200" in logs


def test_kubernetes_yaml_and_a_user_instance_type_deploy(server: Server) -> None:
    (server.state / "instance_types.yml").write_text("tiny:\n  cores: 1\n  gpus: 0\n  memory_gib: 1\n")
    server.cli("online-endpoint", "create", "-f", str(FIXTURES / "endpoint.yml"))
    kube = server.json(
        "online-deployment",
        "create",
        "-f",
        str(FIXTURES / "k8s-deployment.yml"),
        "--set",
        "scale_settings.type=target_utilization",
        "scale_settings.max_instances=3",
    )
    assert isinstance(kube, dict) and kube["provisioning_state"] == "Succeeded"
    # Sized from resources.requests (0.1 CPU is one core); what one machine cannot honour is listed as ignored.
    assert [len(w["cores"]) for w in kube["workers"]] == [1]
    ignored = kube.get("ignored", [])
    assert "resources.limits is ignored: instances are sized from resources.requests" in ignored, ignored
    assert any(line.startswith("environment.image is not run") for line in ignored), ignored
    # The autoscaler acts on it: not ignored, and show gives its counts.
    assert not any("scale_settings" in line for line in ignored), ignored
    assert kube["autoscale"]["current_instances"] == 1
    tiny = server.json(
        "online-deployment",
        "create",
        "-f",
        str(FIXTURES / "echo-deployment.yml"),
        "-n",
        "tiny",
        "--set",
        "instance_type=tiny",
    )
    assert isinstance(tiny, dict) and len(tiny["workers"][0]["cores"]) == 1
    bad = server.cli(
        "online-deployment",
        "create",
        "-f",
        str(FIXTURES / "echo-deployment.yml"),
        "-n",
        "odd",
        "--set",
        "instance_type=huge9",
        check=False,
    )
    assert bad.returncode != 0 and "huge9" in bad.stderr and "instance_types.yml" in bad.stderr
    with server.client() as http:
        auth = {"Authorization": f"Bearer {server.key('fix')}"}
        r = http.post("/endpoints/fix/score", json={"k": 8}, headers={**auth, "azureml-model-deployment": "kube"})
        assert r.status_code == 200 and r.json()["echo"] == {"k": 8}


def test_an_init_slower_than_the_readiness_probe_allows_fails_the_deployment(server: Server) -> None:
    server.cli("online-endpoint", "create", "-f", str(FIXTURES / "endpoint.yml"))
    slow = server.cli(
        "online-deployment",
        "create",
        "-f",
        str(FIXTURES / "echo-deployment.yml"),
        "--set",
        "environment_variables.INIT_SLEEP=30",
        "readiness_probe.initial_delay=1",
        "readiness_probe.period=1",
        "readiness_probe.failure_threshold=1",
        check=False,
    )
    assert slow.returncode != 0 and "did not load within 2 s" in slow.stderr, slow.stderr
    shown = server.json("online-deployment", "show", "-n", "echo", "-e", "fix")
    assert isinstance(shown, dict) and shown["provisioning_state"] == "Failed"


def test_failing_readiness_takes_a_busy_worker_out_of_rotation_until_it_answers_again(
    server: Server, tmp_path: Path
) -> None:
    server.cli("online-endpoint", "create", "-f", str(FIXTURES / "endpoint.yml"))
    server.deploy_echo(
        "--all-traffic",
        "--set",
        "readiness_probe.initial_delay=0",
        "readiness_probe.period=1",
        "readiness_probe.timeout=1",
        "readiness_probe.failure_threshold=1",
        "request_settings.request_timeout_ms=60000",
        "request_settings.max_concurrent_requests_per_instance=4",
    )
    auth = {"Authorization": f"Bearer {server.key('fix')}"}
    go = tmp_path / "run-may-finish"
    with server.client() as http:
        # run() stays busy until the test lets it go, so its pings go unanswered for as long as the test needs.
        busy = {"wait_for": str(go)}
        slow = threading.Thread(target=lambda: http.post("/endpoints/fix/score", json=busy, headers=auth))
        slow.start()
        deadline = time.monotonic() + 30
        while True:
            state = server.deployment("fix", "echo")["workers"][0]["state"]
            if state == "Unready":
                break
            assert time.monotonic() < deadline, state
            time.sleep(0.2)
        r = http.post("/endpoints/fix/score", json={}, headers=auth)
        assert r.status_code == 503 and "no ready instance" in r.json()["message"]
        go.touch()
        slow.join()
        deadline = time.monotonic() + 10
        while http.post("/endpoints/fix/score", json={}, headers=auth).status_code != 200:
            assert time.monotonic() < deadline, "the worker did not come back into rotation"
            time.sleep(0.2)


def test_a_kubernetes_endpoint_answers_with_kubernetes_status_codes(server: Server) -> None:
    created = server.json("online-endpoint", "create", "-f", str(FIXTURES / "k8s-endpoint.yml"))
    assert isinstance(created, dict) and any("compute" in line for line in created.get("ignored", []))
    server.cli(
        "online-deployment",
        "create",
        "-f",
        str(FIXTURES / "k8s-deployment.yml"),
        "-e",
        "kube-ep",
        "--set",
        "endpoint_name=kube-ep",
        "request_settings.request_timeout_ms=2000",
        "--all-traffic",
    )
    auth = {"Authorization": f"Bearer {server.key('kube-ep')}"}
    with server.client() as http:
        assert http.post("/endpoints/kube-ep/score", json={"fail": True}, headers=auth).status_code == 502
        # Past the 2 s timeout, and not by much: stopping serve waits for the worker's late answer.
        assert http.post("/endpoints/kube-ep/score", json={"sleep": 2.5}, headers=auth).status_code == 504
    mirror = server.cli("online-endpoint", "update", "-n", "kube-ep", "--mirror-traffic", "kube=10", check=False)
    assert mirror.returncode != 0 and "Kubernetes endpoint" in mirror.stderr, mirror.stderr
    assert server.json("online-endpoint", "show", "-n", "kube-ep")["mirror_traffic"] == {}  # type: ignore[index]


def test_a_stopped_worker_shows_failing_liveness_and_is_replaced_on_the_probe_settings(server: Server) -> None:
    server.cli("online-endpoint", "create", "-f", str(FIXTURES / "endpoint.yml"))
    probe = ["liveness_probe.initial_delay=0", "liveness_probe.period=1", "liveness_probe.timeout=1"]
    server.deploy_echo("--all-traffic", "--set", *probe, "liveness_probe.failure_threshold=3")
    (old_pid,) = worker_pids(server, "fix", "echo")
    admin = {"Authorization": f"Bearer {(server.state / 'admin-token').read_text().strip()}"}
    seen: list[dict[str, Any]] = []
    with server.client() as http:

        def worker() -> dict[str, Any]:
            shown = http.get("/api/endpoints/fix/deployments/echo", headers=admin).json()
            return dict(shown["workers"][0])

        before = worker()
        assert before["liveness_failures"] == 0 and before["last_answer"] is not None
        stopped_at = time.time()
        os.kill(old_pid, signal.SIGSTOP)  # hung: it neither answers nor exits
        try:
            deadline = time.monotonic() + 15  # threshold 3 x period 1 s, plus a restart: a few seconds
            while (w := worker())["pid"] == old_pid or w["state"] != "Ready":
                if w["pid"] == old_pid:
                    seen.append(w)
                assert time.monotonic() < deadline, f"the stopped worker was not replaced: {w}"
                time.sleep(0.05)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.kill(old_pid, signal.SIGCONT)
    failing = [w for w in seen if w["liveness_failures"] > 0]
    assert failing, seen
    # Meanwhile show says it is still Ready (readiness has not failed 30 times), with its failed pings counted (never
    # past the threshold: a show between the third failure and the kill may see 3) and the time it last answered,
    # from before it was stopped.
    assert all(w["state"] == "Ready" and w["liveness_failures"] <= 3 for w in failing), failing
    answers = {w["last_answer"] for w in failing}
    assert len(answers) == 1
    last = datetime.datetime.fromisoformat(answers.pop().replace("Z", "+00:00")).timestamp()
    assert last < stopped_at + 0.5
    assert w["restarts"] >= 1 and w["last_exit"] == "was killed by SIGKILL"
    # The replacement answers its pings (on a loaded machine a ping of the new worker may have timed out meanwhile).
    deadline = time.monotonic() + 10
    with server.client() as http:
        while (shown := http.get("/api/endpoints/fix/deployments/echo", headers=admin).json())["workers"][0][
            "liveness_failures"
        ]:
            assert time.monotonic() < deadline, shown["workers"]
            time.sleep(0.1)
