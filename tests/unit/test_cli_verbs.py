"""What the az ml style verbs send: the URL names come from flags, else from the file after --set."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fake_api import fake_api

from runtime.cli import main


def _answer(method: str, path: str) -> tuple[str, bytes]:
    return ("text/plain", b"log line\n") if "/logs?" in path else ("application/json", b'{"name": "x"}')


class _Recorder:
    calls: list[tuple[str, str, Any]] = []  #: what the fake management API received in this test


@pytest.fixture
def state(tmp_path: Path) -> Iterator[list[str]]:
    with fake_api(tmp_path, _answer) as calls:
        _Recorder.calls = calls
        yield ["--state-dir", str(tmp_path)]


def test_update_takes_name_and_endpoint_from_the_file_after_set(state: list[str], tmp_path: Path) -> None:
    dep = tmp_path / "dep.yml"
    dep.write_text("name: <my-name>\nendpoint_name: <ENDPOINT_NAME>\ninstance_type: cpu1\n")
    assert main(["online-deployment", "update", "-f", str(dep), "--set", "name=blue", "endpoint_name=epx", *state]) == 0
    assert main(["online-deployment", "update", "-f", str(dep), "--set", "endpoint_name=epx", "-n", "bee", *state]) == 0
    # -e wins over --set endpoint_name, as az ml applies its flags after the overrides.
    assert main(["online-deployment", "create", "-f", str(dep), "--set", "endpoint_name=x", "-e", "ep", *state]) == 0
    assert [(m, p) for m, p, _ in _Recorder.calls] == [
        ("PATCH", "/api/endpoints/epx/deployments/blue"),
        ("PATCH", "/api/endpoints/epx/deployments/bee"),
        ("POST", "/api/endpoints/ep/deployments"),
    ]
    assert _Recorder.calls[0][2]["wait"] is True and _Recorder.calls[2][2]["endpoint_name"] == "ep"


def test_endpoint_update_takes_its_name_from_the_file_after_set_and_n_wins(
    state: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ep = tmp_path / "endpoint.yml"
    ep.write_text("name: <ENDPOINT_NAME>\nauth_mode: key\n")
    ep_named = tmp_path / "named.yml"
    ep_named.write_text("name: fromfile\nauth_mode: key\n")
    assert main(["online-endpoint", "update", "-f", str(ep_named), *state]) == 0
    assert main(["online-endpoint", "update", "-f", str(ep), "--set", "name=fromset", *state]) == 0
    assert main(["online-endpoint", "update", "-f", str(ep_named), "-n", "fromflag", *state]) == 0
    assert [(m, p) for m, p, _ in _Recorder.calls] == [
        ("PATCH", "/api/endpoints/fromfile"),
        ("PATCH", "/api/endpoints/fromset"),
        ("PATCH", "/api/endpoints/fromflag"),
    ]
    capsys.readouterr()
    assert main(["online-endpoint", "update", "-f", str(ep), *state]) == 1
    assert "$.name" in capsys.readouterr().err
    assert main(["online-endpoint", "update", "--traffic", "blue=100", *state]) == 1
    assert "the endpoint is not named: pass -n/--name" in capsys.readouterr().err
    assert len(_Recorder.calls) == 3


def test_a_file_of_the_wrong_kind_is_refused_for_what_it_is_before_anything_is_sent(
    state: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Its name would otherwise pick the URL: "endpoint 'blue' not found" for a deployment's file.
    dep = tmp_path / "blue.yml"
    dep.write_text("name: blue\nendpoint_name: epx\ninstance_type: cpu1\n")
    ep = tmp_path / "endpoint.yml"
    ep.write_text("name: epx\nauth_mode: key\n")
    assert main(["online-endpoint", "update", "-f", str(dep), *state]) == 1
    assert "blue.yml: $.endpoint_name: unknown key" in capsys.readouterr().err
    assert main(["online-deployment", "update", "-f", str(ep), "--set", "endpoint_name=epx", *state]) == 1
    assert "endpoint.yml: $.auth_mode: unknown key" in capsys.readouterr().err
    assert main(["online-deployment", "create", "-f", str(ep), "--set", "endpoint_name=epx", *state]) == 1
    assert "endpoint.yml: $.auth_mode: unknown key" in capsys.readouterr().err
    assert _Recorder.calls == []


def test_a_placeholder_that_no_flag_replaces_is_reported(
    state: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dep = tmp_path / "dep.yml"
    dep.write_text("name: blue\nendpoint_name: <ENDPOINT_NAME>\n")
    assert main(["online-deployment", "update", "-f", str(dep), *state]) == 1
    assert "$.endpoint_name" in capsys.readouterr().err and _Recorder.calls == []
    assert main(["online-deployment", "update", "-e", "ep", *state]) == 1
    assert "the deployment is not named: pass -n/--name" in capsys.readouterr().err


def test_verbs_without_files_and_no_wait(state: list[str], tmp_path: Path) -> None:
    assert main(["online-endpoint", "create", "-n", "epx", *state]) == 0
    assert main(["online-endpoint", "delete", "-n", "ep", "-y", "--no-wait", *state]) == 0
    assert main(["online-deployment", "delete", "-n", "d", "-e", "ep", "-y", "--no-wait", *state]) == 0
    assert main(["online-deployment", "update", "-n", "d", "-e", "ep", "--set", "a=1", "--no-wait", *state]) == 0
    weights = tmp_path / "w.bin"
    weights.write_bytes(b"w")
    assert main(["model", "create", "--name", "m", "--path", str(weights), "--type", "Triton_Model", *state]) == 0
    assert main(["model", "show", "-n", "m", *state]) == 0
    assert main(["model", "archive", "-n", "m", "-v", "3", *state]) == 0
    assert main(["model", "list", "--include-archived", *state]) == 0
    logs = ["online-deployment", "get-logs", "-n", "d", "-e", "ep", "--container", "storage-initializer"]
    assert main([*logs, *state]) == 0
    calls = _Recorder.calls
    assert calls[0] == ("POST", "/api/endpoints", {"set": [], "name": "epx"})
    assert [(m, p) for m, p, _ in calls[1:3]] == [
        ("DELETE", "/api/endpoints/ep?wait=false"),
        ("DELETE", "/api/endpoints/ep/deployments/d?wait=false"),
    ]
    assert calls[3][2]["wait"] is False
    assert calls[4][2] == {"set": [], "name": "m", "path": str(weights.resolve()), "type": "triton_model"}
    assert [(m, p) for m, p, _ in calls[5:]] == [
        ("GET", "/api/models/m?label=latest"),
        ("POST", "/api/models/m/versions/3/archive"),
        ("GET", "/api/models?include_archived=true"),
        ("GET", "/api/endpoints/ep/deployments/d/logs?lines=200&instance=0&container=storage-initializer"),
    ]


@pytest.mark.parametrize(
    ("path", "why"),
    [("missing", "no such file or folder"), ("/dev/null", "not a regular file or a folder")],
)
def test_model_create_path_must_be_a_file_or_folder(
    state: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str], path: str, why: str
) -> None:
    given = str(tmp_path / path) if path == "missing" else path
    assert main(["model", "create", "-n", "m", "-p", given, *state]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"-p/--path {given}: {why}" in err
    assert _Recorder.calls == []  # nothing reached the server
