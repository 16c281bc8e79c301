"""The autoscaler against a real server under real load: target_utilization and an Azure Monitor CPU rule pair
each take a deployment from 1 to 3 instances and back to 1, and no request fails while instances drain."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from live import FIXTURES, Server, cleared, started

#: run() burns CPU for the time asked (0.3 s by default): load the autoscaler reads as CPU %.
SPIN = """
import json
import time


def init():
    pass


def run(raw_data):
    until = time.perf_counter() + json.loads(raw_data or "{}").get("spin", 0.3)
    while time.perf_counter() < until:
        pass
    return "spun"
"""


#: A short scale-down window and twice the default sampling, so that both ramps take seconds, not minutes.
ARGS = ("--scale-down-stabilization", "1", "--sample-interval", "0.5")


@pytest.fixture(scope="module")
def autoscaling_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with started(tmp_path_factory.mktemp("autoscaling") / "state", *ARGS) as srv:
        yield srv


@pytest.fixture
def server(autoscaling_server: Server) -> Iterator[Server]:
    """The module's server, as new for each test (the tests scale deployments of endpoints of their own)."""
    yield autoscaling_server
    cleared(autoscaling_server, *ARGS)


class Load:
    """Clients sending requests in a loop until stopped, counting the answers by status."""

    def __init__(self, server: Server, endpoint: str, body: dict[str, Any], clients: int) -> None:
        self.statuses: list[int] = []
        self.errors: list[BaseException] = []
        self._stop = threading.Event()
        headers = {"Authorization": f"Bearer {server.key(endpoint)}"}

        def loop() -> None:
            try:
                with httpx.Client(base_url=server.url, timeout=60) as http:
                    while not self._stop.is_set():
                        answer = http.post(f"/endpoints/{endpoint}/score", json=body, headers=headers)
                        self.statuses.append(answer.status_code)
                        if answer.status_code == 429:
                            time.sleep(0.05)  # a client backs off when throttled
            except BaseException as exc:  # a connection error is a failed request too
                self.errors.append(exc)

        self._threads = [threading.Thread(target=loop) for _ in range(clients)]
        for t in self._threads:
            t.start()

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join()


def shown(server: Server, endpoint: str, name: str) -> dict[str, Any]:
    return server.deployment(endpoint, name)  # not the CLI: a process per look would add to the measured CPU


def wait_for(what: str, check: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.25)


def ready(server: Server, endpoint: str, name: str) -> int:
    return sum(1 for w in shown(server, endpoint, name)["workers"] if w["state"] == "Ready")


def ramp_up_and_down(server: Server, endpoint: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
    """Load until 3 instances serve, then none until 1 is left; every answer 200 or 429; show at the end."""
    load = Load(server, endpoint, body, clients=4)
    try:
        wait_for("the deployment never reached 3 instances under load", lambda: ready(server, endpoint, name) == 3, 90)
    finally:
        load.stop()
    wait_for(
        "the deployment never came back to 1 instance", lambda: len(shown(server, endpoint, name)["workers"]) == 1, 90
    )
    assert not load.errors, load.errors[:3]
    assert load.statuses and set(load.statuses) <= {200, 429}, sorted(set(load.statuses))
    return shown(server, endpoint, name)


def test_target_utilization_scales_out_to_max_instances_under_load_and_back_to_min_after(
    server: Server,
) -> None:
    server.cli("online-endpoint", "create", "-f", str(FIXTURES / "endpoint.yml"))
    server.deploy_echo(
        "--all-traffic", "--set", "scale_settings.type=target_utilization", "scale_settings.min_instances=1",
        "scale_settings.max_instances=3", "scale_settings.target_utilization_percentage=50",
    )  # fmt: skip
    before = shown(server, "fix", "echo")
    assert before["autoscale"]["current_instances"] == 1
    after = ramp_up_and_down(server, "fix", "echo", {"sleep": 0.2})
    last = after["autoscale"]["last_decision"]
    assert last["policy"] == "target_utilization" and last["direction"] == "in" and last["to"] == 1
    assert after["instance_count"] == 1 and after["provisioning_state"] == "Succeeded"
    status = server.api("GET", "/api/status")
    [dep] = [d for d in status["deployments"] if d["name"] == "echo"]
    assert dep["autoscale"]["decisions"]["scale_out"] >= 1 and dep["autoscale"]["decisions"]["scale_in"] >= 1
    log = (server.state / "serve.out").read_text()
    assert "fix/echo: scale out 1 -> " in log and "fix/echo: scale in " in log  # each decision, with its reason


def test_an_azure_monitor_cpu_rule_pair_scales_out_and_in(server: Server, tmp_path: Path) -> None:
    code = tmp_path / "spin"
    code.mkdir()
    (code / "score.py").write_text(SPIN)
    deployment = tmp_path / "spin.yml"
    deployment.write_text(
        "name: spin\nendpoint_name: spinner\ncode_configuration:\n  code: ./spin\n  scoring_script: score.py\n"
        "environment:\n  image: mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu20.04:latest\n"
        "instance_type: cpu1\ninstance_count: 1\n"
    )
    server.cli("online-endpoint", "create", "-n", "spinner")
    server.cli("online-deployment", "create", "-f", str(deployment), "--all-traffic")
    monitor = ["monitor", "autoscale"]
    server.cli(*monitor, "create", "--resource", "spinner/spin", "--min-count", "1", "--max-count", "3", "--count", "1")
    rule = [*monitor, "rule", "create", "--autoscale-name", "spin"]
    server.cli(*rule, "--condition", "CpuUtilizationPercentage > 50 avg 2s", "--scale", "out", "1", "--cooldown", "1s")
    server.cli(*rule, "--condition", "CpuUtilizationPercentage < 15 avg 2s", "--scale", "in", "1", "--cooldown", "1s")
    after = ramp_up_and_down(server, "spinner", "spin", {"spin": 0.3})
    last = after["autoscale"]["last_decision"]
    assert last["policy"] == "azure_monitor" and last["direction"] == "in" and last["to"] == 1
    assert "CpuUtilizationPercentage < 15 avg 2s" in last["reason"]
