"""MLflow no-code deployments end to end: a model logged by MLflow, deployed with no script and no environment,
online and batch, answering what the model predicts in process.

The model is trained and saved with the real mlflow-skinny (in the session's `mlflow_python`, built by
modelyard's environment cache); the deployments then build their own from the model's conda.yaml, as Azure does.
"""

from __future__ import annotations

import csv
import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from live import Server, started


@pytest.fixture(scope="module")
def trained(
    mlflow_models: dict[str, tuple[Path, Any]], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Server, Path, dict[str, Any]]]:
    """A server, an MLflow model folder (`model/`) saved by MLflow, and the rows it was scored on in process."""
    root = tmp_path_factory.mktemp("mlflow")
    shutil.copytree(mlflow_models["columns"][0] / "model", root / "model")
    rows = mlflow_models["columns"][1]
    with started(root / "state") as srv:
        yield srv, root, rows


def test_an_mlflow_model_deploys_online_with_no_script_and_answers_its_predictions(
    trained: tuple[Server, Path, dict[str, Any]],
) -> None:
    srv, root, rows = trained
    (root / "endpoint.yml").write_text("name: ncd\nauth_mode: key\n")
    (root / "deployment.yml").write_text(
        "name: sklearn\nendpoint_name: ncd\nmodel:\n  path: model\n  type: mlflow_model\ninstance_type: cpu1\n"
    )
    srv.cli("online-endpoint", "create", "-f", str(root / "endpoint.yml"))
    srv.cli("online-deployment", "create", "-f", str(root / "deployment.yml"), "--all-traffic")
    shown = srv.deployment("ncd", "sklearn")
    assert shown["provisioning_state"] == "Succeeded", shown.get("error")
    build = shown["environment_build"]
    assert build["state"] == "Built"
    assert any(p.startswith("mlflow-skinny==") for p in build["packages"])  # mlflow, as the model asks, skinny
    key = srv.key("ncd")
    auth = {"Authorization": f"Bearer {key}"}
    body = {"input_data": {"columns": rows["columns"], "index": list(range(len(rows["data"]))), "data": rows["data"]}}
    with srv.client() as http:
        answer = http.post("/endpoints/ncd/score", json=body, headers=auth)
        assert answer.status_code == 200, answer.text
        assert answer.json() == pytest.approx(rows["predictions"], rel=1e-9)
        wrong = http.post("/endpoints/ncd/score", json={"dataframe_split": body["input_data"]}, headers=auth)
        # The script's 400 reaches the caller as Azure's front end passes a model error on: 424, the status beside.
        assert (wrong.status_code, wrong.headers["ms-azureml-model-error-statuscode"]) == (424, "400")
        assert "A value is not provided for the 'input_data' parameter." in wrong.text
        swagger = http.get("/endpoints/ncd/swagger.json", headers=auth).json()
    service_input = swagger["definitions"]["ServiceInput"]["properties"]["input_data"]
    assert service_input["format"] == "pandas.DataFrame:split"


def test_an_mlflow_model_deploys_as_a_batch_deployment_and_writes_azures_prediction_rows(
    trained: tuple[Server, Path, dict[str, Any]],
) -> None:
    srv, root, rows = trained
    data = root / "data"
    data.mkdir()
    columns = rows["columns"]
    for name, part in (("a.csv", rows["data"][:2]), ("b.csv", rows["data"][2:])):
        with open(data / name, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(columns)
            writer.writerows(part)
    (root / "batch-endpoint.yml").write_text("name: ncd-batch\n")
    (root / "batch-deployment.yml").write_text(
        "name: sklearn-batch\nendpoint_name: ncd-batch\ntype: model\n"
        "model:\n  path: model\n  type: mlflow_model\ncompute: azureml:cpu-cluster\n"
        "settings:\n  mini_batch_size: 1\n  output_action: append_row\n  output_file_name: predictions.csv\n"
    )
    srv.cli("compute", "create", "--name", "cpu-cluster", "--type", "amlcompute")
    srv.cli("batch-endpoint", "create", "-f", str(root / "batch-endpoint.yml"))
    srv.cli("batch-deployment", "create", "-f", str(root / "batch-deployment.yml"), "--set-default")
    shown = srv.json("batch-deployment", "show", "-n", "sklearn-batch", "-e", "ncd-batch")
    assert isinstance(shown, dict) and shown["environment_build"]["state"] == "Built"
    name = srv.cli(
        "batch-endpoint", "invoke", "-n", "ncd-batch", "--input", str(data), "--query", "name", "-o", "tsv"
    ).stdout.strip()
    deadline = time.monotonic() + 180
    while (job := srv.api("GET", f"/api/jobs/{name}"))["status"] not in ("Completed", "Failed", "Canceled"):
        assert time.monotonic() < deadline, job
        time.sleep(0.2)
    assert job["status"] == "Completed", json.dumps(job)
    out = Path(job["outputs"]["score"]["path"]) / "predictions.csv"
    got = sorted(csv.reader(out.read_text().splitlines()))
    want = sorted([str(i), str(p), "a.csv"] for i, p in enumerate(rows["predictions"][:2])) + [
        ["0", str(rows["predictions"][2]), "b.csv"]
    ]
    assert sorted(got) == sorted(want)
