"""Changing only instance_count scales a deployment in place: instances are added beside the running ones or
drained, and no request fails while it happens."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from live import FIXTURES, Server, serving, wait_for_state, worker_pids


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    with serving(tmp_path / "state", FIXTURES / "endpoint.yml", FIXTURES / "echo-deployment.yml") as srv:
        yield srv


def update_count(server: Server, count: int) -> dict[str, object]:
    shown = server.json("online-deployment", "update", "-n", "echo", "-e", "fix", "--set", f"instance_count={count}")
    assert isinstance(shown, dict)
    return shown


def test_instance_count_changes_in_place_and_no_request_fails_while_instances_drain(server: Server) -> None:
    [first] = worker_pids(server, "fix", "echo")
    up = update_count(server, 3)
    assert up["rolled"] is False and "in place" in str(up["note"])
    assert up["instance_count"] == 3 and up["provisioning_state"] == "Succeeded"
    pids = worker_pids(server, "fix", "echo", "Ready")
    assert len(pids) == 3 and first in pids  # the running instance was not restarted

    key = server.key("fix")
    statuses: list[int] = []
    errors: list[BaseException] = []
    stop = threading.Event()

    def load() -> None:
        try:
            with server.client() as client:
                while not stop.is_set():
                    answer = client.post(
                        "/endpoints/fix/score", json={"sleep": 0.3}, headers={"Authorization": f"Bearer {key}"}
                    )
                    statuses.append(answer.status_code)
        except BaseException as exc:  # a connection error is a failed request too
            errors.append(exc)

    clients = [threading.Thread(target=load) for _ in range(3)]
    for t in clients:
        t.start()
    try:
        # Scale in while the instances that go hold requests: each has one in flight.
        deadline = time.monotonic() + 30
        while sum(1 for w in server.deployment("fix", "echo")["workers"] if w["inflight"]) < 3:
            assert time.monotonic() < deadline, "the load never reached every instance"
            time.sleep(0.02)
        down = update_count(server, 1)
    finally:
        stop.set()
        for t in clients:
            t.join()
    assert down["rolled"] is False and down["instance_count"] == 1
    assert worker_pids(server, "fix", "echo") == [first]
    assert not errors and statuses
    assert set(statuses) <= {200, 429}, sorted(set(statuses))  # 429 only from admission: 2 in flight at 1 instance
    assert statuses.count(200) >= 2  # the requests the drained instances held among them

    # The count is stored: a restart of serve brings back one instance.
    server.stop()
    server.start()
    wait_for_state(server, "fix", "echo", "Succeeded")
    deadline = time.monotonic() + 30
    while not worker_pids(server, "fix", "echo", "Ready"):
        assert time.monotonic() < deadline, "the deployment did not come back after the restart"
        time.sleep(0.05)
    assert len(server.deployment("fix", "echo")["workers"]) == 1


def test_a_count_change_together_with_another_change_still_rolls(server: Server) -> None:
    [first] = worker_pids(server, "fix", "echo")
    rolled = server.json(
        "online-deployment", "update", "-n", "echo", "-e", "fix",
        "--set", "instance_count=2", "environment_variables.TAG=two",
    )  # fmt: skip
    assert isinstance(rolled, dict) and rolled["rolled"] is True
    pids = worker_pids(server, "fix", "echo")
    assert len(pids) == 2 and first not in pids
