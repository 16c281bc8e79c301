"""The mirror report on a real server: comparisons, a slow and a dead shadow, and counts that survive a restart.

One server for the module; the tests run in order, each building on the state the one before left.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from live import FIXTURES, Server, worker_pids

from runtime.spec.tolerance import TOLERANCE_TAG

DEPLOYMENT = str(FIXTURES / "mirror-deployment.yml")
N, K = 40, 16  #: requests sent, and how many of them the shadow answers differently


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, httpx.Client, Path]]:
    state = tmp_path_factory.mktemp("mirror") / "state"
    state.mkdir()
    seen = state.parent / "green-seen.txt"
    srv = Server(state)
    srv.start()
    try:
        srv.cli("online-endpoint", "create", "-n", "shop", "--set", f"tags.{TOLERANCE_TAG}=probabilities=1e-3")
        srv.cli("online-deployment", "create", "-f", DEPLOYMENT, "--all-traffic")
        shadow = [
            "--set",
            "environment_variables.MIRROR_ROLE=shadow",
            "request_settings.max_concurrent_requests_per_instance=2",
        ]
        srv.cli(
            "online-deployment",
            "create",
            "-f",
            DEPLOYMENT,
            "-n",
            "green",
            *shadow,
            f"environment_variables.SEEN_FILE={seen}",
        )
        srv.cli("online-endpoint", "update", "-n", "shop", "--mirror-traffic", "green=50")
        with httpx.Client(base_url=srv.url, timeout=30, headers={"authorization": f"Bearer {srv.key('shop')}"}) as http:
            yield srv, http, seen
    finally:
        srv.stop()


def score(http: httpx.Client, x: int, odd: bool = False) -> None:
    """One request; the live answer must be the live deployment's, whatever the shadow does."""
    response = http.post("/endpoints/shop/score", json={"x": x, "odd": odd})
    assert response.status_code == 200, response.text
    assert response.json() == {"label": 2 * x, "probabilities": [0.25, 0.75]}
    assert response.headers["azureml-model-deployment"] == "live"


def report(srv: Server, *args: str) -> dict[str, Any]:
    shown = srv.json("online-endpoint", "mirror-report", "-n", "shop", *args)
    assert isinstance(shown, dict)
    return {d["deployment"]: d for d in shown["deployments"]}


def settled(srv: Server, name: str) -> dict[str, Any]:
    """The report of `name` once every copy sent to it has its outcome."""
    deadline = time.monotonic() + 30
    while True:
        dep = report(srv)[name]
        if dep["mirrored"] == dep["dropped"] + sum(dep["shadow_errors"].values()) + dep["compared"]:
            return dep
        assert time.monotonic() < deadline, dep
        time.sleep(0.1)


def test_the_report_compares_every_mirrored_request_with_the_live_answer(
    shop: tuple[Server, httpx.Client, Path],
) -> None:
    srv, http, seen = shop
    assert report(srv)["green"]["mirrored"] == 0  # mirrored, no data yet: zeros
    for i in range(N):
        score(http, i, odd=i < K)
    green = settled(srv, "green")
    copies = [json.loads(line) for line in seen.read_text().splitlines()]
    odd = sum(c["odd"] for c in copies)
    assert (green["mirrored"], green["compared"], green["dropped"], green["shadow_errors"]) == (
        len(copies),
        len(copies),
        0,
        {},
    )
    # The probabilities differ within the tag's tolerance, so only the odd labels disagree.
    assert green["agreed"] == len(copies) - odd
    assert green["agreement_rate"] == pytest.approx((len(copies) - odd) / len(copies))
    assert green["label_agreement"] == pytest.approx((len(copies) - odd / 3) / len(copies))
    assert green["status_mismatches"] == 0 and green["latency_ms"]["shadow"]["p50"] > 0
    sample = green["samples"][0]
    assert sample["first_difference"] == "$.label" and sample["live"]["status"] == sample["shadow"]["status"] == 200
    assert json.loads(sample["shadow"]["body"])["label"] == json.loads(sample["live"]["body"])["label"] + 1
    table = srv.cli("online-endpoint", "mirror-report", "-n", "shop", "-o", "table").stdout
    assert table.splitlines()[0].split()[:3] == ["Deployment", "Mirrored", "Dropped"] and "green" in table
    assert report(srv, "--since", "2000-01-01T00:00:00")["green"]["mirrored"] == len(copies)


def test_bad_input_is_refused_with_what_is_allowed(shop: tuple[Server, httpx.Client, Path]) -> None:
    srv, _, _ = shop
    bad = srv.cli("online-endpoint", "mirror-report", "-n", "shop", "--since", "lately", check=False)
    assert bad.returncode == 1 and "ISO-8601" in bad.stderr and "15m" in bad.stderr
    tag = srv.cli("online-endpoint", "update", "-n", "shop", "--set", f"tags.{TOLERANCE_TAG}=lots", check=False)
    assert tag.returncode == 1 and "probabilities=1e-3,*=1e-6" in tag.stderr, tag.stderr
    missing = srv.cli("online-endpoint", "mirror-report", "-n", "nowhere", check=False)
    assert missing.returncode == 1 and "not found" in missing.stderr


def test_a_slow_then_dead_shadow_changes_nothing_for_callers(shop: tuple[Server, httpx.Client, Path]) -> None:
    srv, http, _ = shop
    slow = ["--set", "environment_variables.MIRROR_ROLE=shadow", "environment_variables.SLEEP_S=2"]
    srv.cli(
        "online-deployment",
        "create",
        "-f",
        DEPLOYMENT,
        "-n",
        "slow",
        *slow,
        "request_settings.max_concurrent_requests_per_instance=1",
    )
    srv.cli("online-endpoint", "update", "-n", "shop", "--mirror-traffic", "green=0 slow=50")
    for i in range(30):
        score(http, i)
    dep = report(srv)["slow"]
    # The slow shadow admits 2 copies in flight (2 x max_concurrent x instances); the rest of ~15 are dropped.
    assert dep["mirrored"] >= 3 and 1 <= dep["dropped"] <= dep["mirrored"] - 2
    (pid,) = worker_pids(srv, "shop", "slow")
    os.kill(pid, signal.SIGKILL)  # copies in flight are lost with it; the live answers are not
    for i in range(10):
        score(http, i)
    dep = settled(srv, "slow")
    assert dep["shadow_errors"].get("worker_lost", 0) + dep["shadow_errors"].get("unavailable", 0) >= 1


def test_the_counts_survive_a_restart_of_serve(shop: tuple[Server, httpx.Client, Path]) -> None:
    srv, _, _ = shop
    before = report(srv)
    srv.stop()
    srv.start()
    after = report(srv)
    assert after["green"] == before["green"]
    for key in ("mirrored", "dropped"):
        assert after["slow"][key] == before["slow"][key]
