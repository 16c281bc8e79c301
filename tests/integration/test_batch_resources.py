"""Batch endpoints, batch deployments, data assets and computes through the real CLI and a real server."""

from __future__ import annotations

from pathlib import Path

from live import ROOT, Server

BATCH = ROOT / "tests" / "fixtures" / "batch"
DEPLOYMENT = str(BATCH / "deployment.yml")


def _fails(server: Server, *args: str) -> str:
    result = server.cli(*args, check=False)
    assert result.returncode == 1, result
    return result.stderr


def test_batch_verbs_with_their_refusals(server: Server) -> None:
    # The endpoint and its compute must exist before a deployment can.
    assert "batch endpoint 'csv-batch' not found" in _fails(server, "batch-deployment", "create", "-f", DEPLOYMENT)
    server.cli("batch-endpoint", "create", "-f", str(BATCH / "endpoint.yml"))
    err = _fails(server, "batch-deployment", "create", "-f", DEPLOYMENT)
    assert "compute 'batch-cluster' does not exist" in err and "modelyard compute create" in err
    server.cli("compute", "create", "--name", "batch-cluster", "--type", "amlcompute", "--max-instances", "2")

    shown = server.json("batch-deployment", "create", "-f", DEPLOYMENT)
    assert isinstance(shown, dict)
    assert (shown["compute"], shown["settings"]["mini_batch_size"]) == ("azureml:batch-cluster", 2)
    # Not the default without --set-default, as az ml only sets it when asked.
    no_default = server.json("batch-endpoint", "show", "-n", "csv-batch", "--query", "defaults")
    assert no_default == {"deployment_name": None}
    # Names ignore case, as Azure's do: the stored spellings are kept.
    second = ["-n", "second", "-e", "CSV-Batch", "--set", "compute=azureml:Batch-CLUSTER", "--set-default"]
    shown = server.json("batch-deployment", "create", "-f", DEPLOYMENT, *second)
    assert isinstance(shown, dict) and (shown["endpoint_name"], shown["compute"]) == (
        "csv-batch",
        "azureml:batch-cluster",
    )
    endpoint = server.json("batch-endpoint", "show", "-n", "csv-batch")
    assert isinstance(endpoint, dict)
    assert endpoint["defaults"] == {"deployment_name": "second"}
    assert endpoint["scoring_uri"] == f"{server.url}/batch-endpoints/csv-batch/jobs"
    assert endpoint["auth_mode"] == "aad_token" and endpoint["provisioning_state"] == "Succeeded"
    names = server.cli("batch-deployment", "list", "-e", "csv-batch", "--query", "[].name", "-o", "tsv").stdout
    assert names.split() == ["csv-sum", "second"]

    # The default cannot be deleted while the endpoint names it; switching it first lets the delete through.
    err = _fails(server, "batch-deployment", "delete", "-n", "second", "-e", "csv-batch", "-y")
    assert "is the default" in err and "defaults.deployment_name=" in err
    err = _fails(server, "batch-endpoint", "update", "-n", "csv-batch", "--set", "defaults.deployment_name=nope")
    assert "'nope' is not a deployment of batch endpoint 'csv-batch'" in err
    server.cli("batch-endpoint", "update", "-n", "csv-batch", "--set", "defaults.deployment_name=csv-sum")
    server.cli("batch-deployment", "delete", "-n", "second", "-e", "csv-batch", "-y")
    assert "not found" in _fails(server, "batch-deployment", "show", "-n", "SECOND", "-e", "csv-batch")

    # An updated setting is kept; the compute cannot go while a deployment runs on it.
    server.cli("batch-deployment", "update", "-n", "csv-sum", "-e", "csv-batch", "--set", "settings.mini_batch_size=7")
    size = server.cli(
        "batch-deployment",
        "show",
        "-n",
        "csv-sum",
        "-e",
        "csv-batch",
        "--query",
        "settings.mini_batch_size",
        "-o",
        "tsv",
    )
    assert size.stdout.strip() == "7"
    err = _fails(server, "compute", "delete", "-n", "batch-cluster", "-y")
    assert "used by batch deployment(s) csv-batch/csv-sum" in err
    assert server.cli("compute", "list", "--query", "[].name", "-o", "tsv").stdout.split() == ["batch-cluster"]

    # Deleting the endpoint removes its deployments and their snapshots too; then the compute is free.
    server.cli("batch-endpoint", "delete", "-n", "csv-batch", "-y", "--no-wait")
    assert server.json("batch-endpoint", "list") == []
    assert not any((server.state / "batch-snapshots").glob("csv-batch*"))
    server.cli("compute", "delete", "-n", "batch-cluster", "-y")
    assert "compute 'batch-cluster' not found" in _fails(server, "compute", "show", "-n", "batch-cluster")


def test_data_assets_record_local_paths_and_count_versions_up(server: Server, tmp_path: Path) -> None:
    folder, file = BATCH / "data", BATCH / "data" / "first.csv"
    err = _fails(server, "data", "create", "-n", "csvs", "--path", str(file), "--type", "uri_folder")
    assert "is not a folder" in err and "uri_file" in err
    err = _fails(server, "data", "create", "-n", "csvs", "--path", str(tmp_path / "missing"))
    assert "does not exist" in err
    assert server.json("data", "list") == []  # nothing half-registered

    first = server.json("data", "create", "-n", "csvs", "--path", str(folder))
    assert isinstance(first, dict) and (first["version"], first["path"]) == ("1", str(folder))
    asset = tmp_path / "data.yml"
    asset.write_text("name: csvs\ntype: uri_file\npath: ./one.csv\n")
    (tmp_path / "one.csv").write_text("1,2\n")
    second = server.json("data", "create", "-f", str(asset))
    assert isinstance(second, dict) and second["version"] == "2"
    assert second["path"] == str(tmp_path / "one.csv")  # relative to the YAML file, recorded absolute
    server.cli("data", "create", "-n", "csvs", "-v", "10", "--path", str(folder))
    assert "csvs:10 exists already" in _fails(server, "data", "create", "-n", "csvs", "-v", "10", "--path", str(folder))
    assert server.cli("data", "show", "-n", "csvs", "--query", "version", "-o", "tsv").stdout.strip() == "10"
    assert (
        server.cli("data", "show", "-n", "csvs", "-v", "2", "--query", "type", "-o", "tsv").stdout.strip() == "uri_file"
    )
    versions = server.cli("data", "list", "-n", "csvs", "--query", "[].version", "-o", "tsv").stdout.split()
    assert versions == ["1", "2", "10"]
    assert server.cli("data", "list", "--query", "[].id", "-o", "tsv").stdout.split() == ["azureml:csvs:10"]


def test_batch_resources_survive_a_restart(server: Server) -> None:
    server.cli("compute", "create", "--name", "batch-cluster", "--type", "amlcompute")
    server.cli("batch-endpoint", "create", "-f", str(BATCH / "endpoint.yml"))
    server.cli("batch-deployment", "create", "-f", DEPLOYMENT, "--set-default")
    server.cli("data", "create", "-n", "csvs", "--path", str(BATCH / "data"))
    before = [
        server.json("batch-deployment", "show", "-n", "csv-sum", "-e", "csv-batch"),
        server.json("data", "show", "-n", "csvs"),
        server.json("compute", "show", "-n", "batch-cluster"),
    ]
    endpoint = server.json("batch-endpoint", "show", "-n", "csv-batch")
    snapshots = sorted(p.relative_to(server.state) for p in (server.state / "batch-snapshots").rglob("*"))
    assert any(p.name == "score_csv.py" for p in snapshots) and any(p.name == "scale.txt" for p in snapshots)
    server.stop()
    leftover = server.state / "batch-snapshots" / ".deleted-csv-batch-0123abcd"  # a delete cut short by a stop
    (leftover / "code").mkdir(parents=True)
    server.start()
    assert not leftover.exists()
    after = [
        server.json("batch-deployment", "show", "-n", "csv-sum", "-e", "csv-batch"),
        server.json("data", "show", "-n", "csvs"),
        server.json("compute", "show", "-n", "batch-cluster"),
    ]
    assert after == before
    again = server.json("batch-endpoint", "show", "-n", "csv-batch")
    assert isinstance(again, dict) and isinstance(endpoint, dict)
    assert again.pop("scoring_uri").startswith(server.url) and endpoint.pop("scoring_uri")
    assert again == endpoint and again["defaults"]["deployment_name"] == "csv-sum"
    assert sorted(p.relative_to(server.state) for p in (server.state / "batch-snapshots").rglob("*")) == snapshots


def test_the_management_api_refuses_unknown_fields_in_its_error_shape(server: Server) -> None:
    token = (server.state / "admin-token").read_text().strip()
    with server.client() as http:
        headers = {"Authorization": f"Bearer {token}"}
        answer = http.post("/api/computes", json={"name": "c1", "type": "amlcompute", "nodes": 3}, headers=headers)
        assert answer.status_code == 400
        error = answer.json()["error"]
        assert error["code"] == "invalid_argument" and "nodes" in error["message"]
        answer = http.get("/api/batch-endpoints/none/deployments", headers=headers)
        assert answer.status_code == 404 and "batch endpoint 'none' not found" in answer.json()["error"]["message"]
        answer = http.post("/api/data", json={"name": "d", "path": "https://example.com/x"}, headers=headers)
        assert answer.status_code == 400 and "only local data" in answer.json()["error"]["message"]
