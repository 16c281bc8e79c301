"""Deployments run in environments built from their conda files: side by side, cached, refused clearly, offline.

These build real virtualenvs with uv from the package index (numpy 1.26 and 2.2 wheels, a few MB each, cached by
uv after the first run), so they are what a user of `environment:` sees.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from live import ROOT, Server, wait_for_state

ENVS = ROOT / "tests" / "fixtures" / "envs"


def score(srv: Server, deployment: str) -> dict[str, Any]:
    key = srv.key("envs")
    with srv.client() as http:
        answer = http.post(
            "/endpoints/envs/score",
            json={"data": [[1, 2], [3, 4]]},
            headers={"Authorization": f"Bearer {key}", "azureml-model-deployment": deployment},
        )
    assert answer.status_code == 200, answer.text
    result = answer.json()
    assert isinstance(result, dict)
    return result


def built_dirs(state: Path) -> list[str]:
    """The environment folders in the cache (hidden ones are its logs, locks and the worker link)."""
    root = state / "environments"
    return sorted(p.name for p in root.iterdir() if not p.name.startswith(".")) if root.exists() else []


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = Server(tmp_path_factory.mktemp("envs"))
    server.start()
    try:
        server.cli("online-endpoint", "create", "-f", str(ENVS / "endpoint.yml"))
        server.cli("online-deployment", "create", "-f", str(ENVS / "numpy1.yml"))
        server.cli("online-deployment", "create", "-f", str(ENVS / "numpy2.yml"))
        yield server
    finally:
        server.stop()


def test_two_deployments_pinned_to_two_numpy_majors_answer_side_by_side(srv: Server) -> None:
    one, two = score(srv, "numpy1"), score(srv, "numpy2")
    assert one["numpy"] == "1.26.4" and two["numpy"] == "2.2.6"
    assert one["sum"] == two["sum"] == 10.0
    # Each runs on its own environment's interpreter, neither on modelyard's.
    assert one["python"] != two["python"]
    shown = srv.deployment("envs", "numpy1")["environment_build"]
    assert shown["state"] == "Built" and len(shown["hash"]) == 16
    assert one["python"] == shown["python"]
    assert "numpy==1.26.4" in shown["packages"]
    assert any(p.startswith("msgspec==") for p in shown["packages"])  # the worker's own needs went in too
    assert sorted(built_dirs(srv.state)) == sorted(
        {shown["hash"], srv.deployment("envs", "numpy2")["environment_build"]["hash"]}
    )


def test_a_second_deployment_of_the_same_set_reuses_the_built_environment(srv: Server) -> None:
    first = srv.deployment("envs", "numpy1")["environment_build"]
    log = srv.state / "environments" / ".logs" / f"{first['hash']}.log"
    before, logged = built_dirs(srv.state), log.stat().st_mtime_ns
    again = ENVS / "numpy1.yml"
    srv.cli("online-deployment", "create", "-f", str(again), "-n", "numpy1-again")
    assert score(srv, "numpy1-again")["python"] == first["python"]
    assert built_dirs(srv.state) == before  # no new environment
    assert log.stat().st_mtime_ns == logged  # and no install into the old one

    # The same file again rolls nothing; another conda file rolls the workers onto its environment.
    same = srv.json("online-deployment", "update", "-f", str(again), "-n", "numpy1-again")
    assert same["rolled"] is False
    moved = srv.json(
        "online-deployment",
        "update",
        "-n",
        "numpy1-again",
        "-e",
        "envs",
        "--set",
        "environment.conda_file=numpy2/conda.yaml",
    )
    assert moved["rolled"] is True and moved["provisioning_state"] == "Succeeded"
    assert score(srv, "numpy1-again")["numpy"] == "2.2.6"
    srv.cli("online-deployment", "delete", "-n", "numpy1-again", "-e", "envs", "--yes")


def test_an_unmappable_conda_package_is_refused_at_create_and_leaves_nothing(srv: Server) -> None:
    before = built_dirs(srv.state)
    result = srv.cli("online-deployment", "create", "-f", str(ENVS / "unmappable.yml"), check=False)
    assert result.returncode == 1
    assert "r-base" in result.stderr and "pip:" in result.stderr
    assert result.stderr.count("modelyard: error:") == 1
    names = [d["name"] for d in srv.api("GET", "/api/endpoints/envs/deployments")]
    assert "unmappable" not in names
    assert not (srv.state / "snapshots" / "envs" / "unmappable").exists()
    assert built_dirs(srv.state) == before
    assert score(srv, "numpy1")["numpy"] == "1.26.4"  # the server serves on


def test_a_pin_that_does_not_exist_fails_the_deployment_with_one_clear_error(srv: Server) -> None:
    before = built_dirs(srv.state)
    result = srv.cli("online-deployment", "create", "-f", str(ENVS / "bad-pin.yml"), check=False)
    assert result.returncode != 0
    wait_for_state(srv, "envs", "bad-pin", "Failed", timeout=120)
    shown = srv.deployment("envs", "bad-pin")
    assert "numpy==99.0.1 does not exist on the index" in shown["error"], shown["error"]
    assert shown["environment_build"]["state"] == "Failed"
    assert built_dirs(srv.state) == before  # nothing half-built
    log = Path(shown["environment_build"]["build_log"])
    assert "99.0.1" in log.read_text()  # the installer's own words are kept
    assert score(srv, "numpy2")["numpy"] == "2.2.6"
    srv.cli("online-deployment", "delete", "-n", "bad-pin", "-e", "envs", "--yes")


def test_registered_environment_exports_a_wheelhouse_that_builds_with_no_index(srv: Server, tmp_path: Path) -> None:
    created = json.loads(srv.cli("environment", "create", "-f", str(ENVS / "environment.yml")).stdout)
    assert created["name"] == "numpy-one" and created["version"] == "1"
    assert created["reused"] is True  # the same set as deployment numpy1: found built
    assert created["hash"] == srv.deployment("envs", "numpy1")["environment_build"]["hash"]
    listed = srv.json("environment", "list")
    assert any(e["name"] == "numpy-one" and e["used_by"] == ["envs/numpy1"] for e in listed)
    wheelhouse = tmp_path / "wheelhouse"
    exported = srv.json("environment", "export", "-n", "numpy-one", "-o", str(wheelhouse))
    names = sorted(os.listdir(wheelhouse))
    assert exported["wheels"] == [n for n in names if n.endswith(".whl")]
    assert any(n.startswith("numpy-1.26.4-") for n in names)
    assert any(n.startswith("msgspec-") for n in names)

    # A fresh server on a fresh state directory and an empty installer cache, its index unreachable.
    offline = Server(tmp_path / "edge")
    offline.state.mkdir()
    dead = "http://127.0.0.1:9/simple"
    offline.start(
        "--find-links",
        str(wheelhouse),
        env={"UV_CACHE_DIR": str(tmp_path / "uv-cache"), "UV_INDEX_URL": dead, "PIP_INDEX_URL": dead},
    )
    try:
        rebuilt = offline.json("environment", "create", "-f", str(ENVS / "environment.yml"))
        assert rebuilt["hash"] == created["hash"] and rebuilt["state"] == "Built"
        shown = offline.json("environment", "show", "-n", created["hash"])
        assert "numpy==1.26.4" in shown["packages"] and shown["offline"] is True
        assert (tmp_path / "edge" / "environments" / created["hash"] / "modelyard-env.json").exists()
    finally:
        offline.stop()
    wait_for_state(srv, "envs", "numpy1", "Succeeded")


def test_a_pin_without_a_wheel_names_the_nearest_version_and_relax_pins_takes_it(srv: Server) -> None:
    before = built_dirs(srv.state)
    result = srv.cli("environment", "create", "-f", str(ENVS / "old-pin.yml"), check=False)
    assert result.returncode == 1
    message = result.stderr
    assert "msgpack==1.0.0 has no wheel for cpython-3.11" in message, message
    assert "the nearest version with one is 1.0.5 (pass --relax-pins to take it)" in message
    assert built_dirs(srv.state) == before
    assert not any(e["name"] == "old-msgpack" for e in srv.json("environment", "list"))

    relaxed = srv.json("environment", "create", "-f", str(ENVS / "old-pin.yml"), "--relax-pins")
    assert relaxed["state"] == "Built" and "msgpack==1.0.5" in relaxed["packages"]
    assert relaxed["relaxed"] == ["msgpack==1.0.0 has no wheel for this interpreter; msgpack==1.0.5 was installed"]
    assert relaxed["relax_pins"] is True


def test_a_pin_that_clashes_with_the_workers_needs_names_both(srv: Server) -> None:
    result = srv.cli("environment", "create", "-f", str(ENVS / "werkzeug2.yml"), check=False)
    assert result.returncode == 1
    assert "werkzeug==2.2.3" in result.stderr and "werkzeug>=3" in result.stderr, result.stderr


def test_prune_removes_only_the_builds_nothing_uses(srv: Server) -> None:
    two = srv.deployment("envs", "numpy2")["environment_build"]["hash"]
    one = srv.deployment("envs", "numpy1")["environment_build"]["hash"]
    refused = srv.cli("environment", "prune", check=False)  # no terminal: az's refusal, nothing removed
    assert refused.returncode == 1 and "Use --yes" in refused.stderr
    srv.cli("online-deployment", "delete", "-n", "numpy2", "-e", "envs", "--yes")
    old = srv.json("environment", "show", "-n", "old-msgpack", "-l", "latest")["hash"]
    srv.cli("environment", "delete", "-n", "old-msgpack", "-v", "1", "--yes")
    pruned = srv.json("environment", "prune", "--yes")
    assert sorted(pruned["removed"]) == sorted([two, old]) and pruned["freed_mib"] > 1
    assert one in pruned["kept"]  # deployment numpy1 and the registered numpy-one use it
    assert two not in built_dirs(srv.state) and one in built_dirs(srv.state)
    assert score(srv, "numpy1")["numpy"] == "1.26.4"
