"""What the batch verbs send: URLs from flags or from the file after --set, bodies with the flags folded in."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fake_api import fake_api, json_answer

from runtime.cli import main
from runtime.cli.output import table


class _Recorder:
    calls: list[tuple[str, str, Any]] = []  #: what the fake management API received in this test


@pytest.fixture
def state(tmp_path: Path) -> Iterator[list[str]]:
    with fake_api(tmp_path, json_answer({"name": "x", "version": "3"})) as calls:
        _Recorder.calls = calls
        yield ["--state-dir", str(tmp_path)]


def test_batch_deployment_verbs_take_the_endpoint_from_e_or_the_file(state: list[str], tmp_path: Path) -> None:
    dep = tmp_path / "dep.yml"
    dep.write_text("name: one\nendpoint_name: fromfile\ncompute: azureml:c1\nmodel: azureml:m:1\n")
    assert main(["batch-deployment", "create", "-f", str(dep), "--set-default", *state]) == 0
    assert main(["batch-deployment", "create", "-f", str(dep), "-e", "flag", "--no-wait", *state]) == 0
    assert main(["batch-deployment", "update", "-f", str(dep), "--set", "name=two", *state]) == 0
    assert main(["batch-deployment", "delete", "-n", "one", "-e", "ep", "-y", *state]) == 0
    assert [(m, p) for m, p, _ in _Recorder.calls] == [
        ("POST", "/api/batch-endpoints/fromfile/deployments"),
        ("POST", "/api/batch-endpoints/flag/deployments"),
        ("PATCH", "/api/batch-endpoints/fromfile/deployments/two"),
        ("DELETE", "/api/batch-endpoints/ep/deployments/one"),
    ]
    first, second = _Recorder.calls[0][2], _Recorder.calls[1][2]
    assert (first["set_default"], first["wait"]) == (True, True)
    assert (second["set_default"], second["wait"], second["endpoint_name"]) == (False, False, "flag")


def test_data_create_sends_an_absolute_path_and_only_the_flags_given(
    state: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "images").mkdir()
    assert main(["data", "create", "-n", "imgs", "--path", "images", "--type", "uri_folder", *state]) == 0
    assert main(["data", "show", "-n", "imgs", *state]) == 0
    assert main(["data", "list", "-n", "imgs", *state]) == 0
    body = _Recorder.calls[0][2]
    assert body["path"] == str(tmp_path / "images") and body["type"] == "uri_folder" and "version" not in body
    assert [p for _, p, _ in _Recorder.calls[1:]] == ["/api/data/imgs?label=latest", "/api/data?name=imgs"]


def test_compute_create_folds_its_flags_and_refuses_a_bad_name_before_sending(
    state: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["compute", "create", "--name", "cpu-cluster", "--type", "AmlCompute", "--max-instances", "4", *state]
    assert main(args) == 0
    body = _Recorder.calls[0][2]
    assert (body["name"], body["type"], body["max_instances"]) == ("cpu-cluster", "amlcompute", 4)
    assert "min_instances" not in body
    with pytest.raises(SystemExit):
        main(["compute", "create", "--name", "9lives", "--type", "amlcompute", *state])
    assert "not a valid compute name" in capsys.readouterr().err
    assert len(_Recorder.calls) == 1


def test_batch_endpoint_delete_without_a_terminal_needs_yes(
    state: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["batch-endpoint", "delete", "-n", "ep", *state]) == 1
    assert "--yes" in capsys.readouterr().err and _Recorder.calls == []
    assert main(["batch-endpoint", "update", "-n", "ep", "--set", "defaults.deployment_name=two", *state]) == 0
    assert _Recorder.calls[0][:2] == ("PATCH", "/api/batch-endpoints/ep")
    assert _Recorder.calls[0][2]["set"] == ["defaults.deployment_name=two"]


def test_tables_of_batch_endpoints_and_deployments_show_their_own_columns() -> None:
    endpoint = {"name": "ep", "auth_mode": "aad_token", "provisioning_state": "Succeeded", "scoring_uri": "u"}
    lines = table([{**endpoint, "defaults": {"deployment_name": "one"}}]).splitlines()
    assert lines[0].split() == ["name", "auth_mode", "provisioning_state", "defaults", "scoring_uri"]
    assert lines[2].split() == ["ep", "aad_token", "Succeeded", "deployment_name=one", "u"]
    deployment = {"name": "one", "endpoint_name": "ep", "provisioning_state": "Succeeded", "compute": "azureml:c1"}
    lines = table([{**deployment, "settings": {"mini_batch_size": 10}}]).splitlines()
    assert lines[0].split() == ["name", "endpoint_name", "provisioning_state", "compute"]
    assert lines[2].split() == ["one", "ep", "Succeeded", "azureml:c1"]


def test_a_file_that_names_the_url_is_checked_first_so_the_wrong_kind_is_refused_for_what_it_is(
    state: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    online = tmp_path / "online.yml"
    online.write_text("name: fix\nauth_mode: key\n")
    assert main(["batch-endpoint", "update", "-f", str(online), *state]) == 1
    assert "aad_token" in capsys.readouterr().err
    endpoint = tmp_path / "endpoint.yml"
    endpoint.write_text("name: scorer\n")
    assert main(["batch-deployment", "create", "-f", str(endpoint), "--set", "endpoint_name=scorer", *state]) == 1
    assert "compute" in capsys.readouterr().err
    assert _Recorder.calls == []


def test_invoke_sends_an_absolute_input_and_only_the_flags_given(
    state: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir()
    assert main(["batch-endpoint", "invoke", "-n", "heart", "--input", "data", *state]) == 0
    given = ["--input", "azureml:d@latest", "-d", "two", "--output-path", "out", "--mini-batch-size", "3"]
    given += ["--instance-count", "2"]
    assert main(["batch-endpoint", "invoke", "-n", "heart", *given, "--set", "error_threshold=1", *state]) == 0
    assert main(["batch-deployment", "list-jobs", "-n", "two", "-e", "heart", *state]) == 0
    assert main(["job", "cancel", "-n", "j1", *state]) == 0
    assert [(m, p) for m, p, _ in _Recorder.calls] == [
        ("POST", "/api/batch-endpoints/heart/jobs"),
        ("POST", "/api/batch-endpoints/heart/jobs"),
        ("GET", "/api/batch-endpoints/heart/deployments/two/jobs"),
        ("POST", "/api/jobs/j1/cancel"),
    ]
    assert _Recorder.calls[0][2] == {"input": str(tmp_path / "data"), "set": []}
    assert _Recorder.calls[1][2] == {
        "input": "azureml:d@latest",
        "deployment_name": "two",
        "output_path": str(tmp_path / "out"),
        "mini_batch_size": 3,
        "instance_count": 2,
        "set": ["error_threshold=1"],
    }
