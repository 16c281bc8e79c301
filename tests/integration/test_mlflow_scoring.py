"""MLflow no-code scoring: modelyard's own scripts, served through the worker's code in the model's environment."""

from __future__ import annotations

import csv
import json
import os
import shutil
import struct
import subprocess
import zlib
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPTS = REPO / "runtime" / "worker" / "mlflow_scoring"
CHILD = Path(__file__).with_name("mlflow_worker_child.py")
JSON = {"Content-Type": "application/json"}


@pytest.fixture(scope="module")
def models(
    mlflow_models: dict[str, tuple[Path, Any]], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, tuple[Path, dict[str, Any]]]:
    """AZUREML_MODEL_DIR folders, each holding `model/` (a column, tensor, params or signature-less model), and the
    rows each was scored on in process."""
    untyped = tmp_path_factory.mktemp("untyped")
    shutil.rmtree(untyped)
    shutil.copytree(mlflow_models["columns"][0], untyped)
    _drop_signature(untyped / "model" / "MLmodel")
    return {**mlflow_models, "untyped": (untyped, mlflow_models["columns"][1])}


def _drop_signature(mlmodel: Path) -> None:
    # MLmodel is YAML; the signature is one top-level key whose value is indented below it.
    kept: list[str] = []
    inside = False
    for line in mlmodel.read_text().splitlines():
        if line.startswith("signature:"):
            inside = True
        elif inside and line[:1] not in (" ", ""):
            inside = False
        if not inside:
            kept.append(line)
    mlmodel.write_text("\n".join(kept) + "\n")


def run_jobs(python: Path, jobs: list[dict[str, Any]], tmp: Path) -> list[dict[str, Any]]:
    """Run the worker's code over each job in the model's environment, as a worker for the deployment would,
    all in one process (each job sets its own AZUREML_MODEL_DIR and MLFLOW_MODEL_FOLDER)."""
    jobs = [{"app_root": str(SCRIPTS), **job} for job in jobs]
    jobs_path, out_path = tmp / "jobs.json", tmp / "out.json"
    jobs_path.write_text(json.dumps(jobs))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [str(python), str(CHILD), str(jobs_path), str(out_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    outs: list[dict[str, Any]] = json.loads(out_path.read_text())
    return outs


def post(body: Any) -> dict[str, Any]:
    return {"method": "POST", "path": "/score", "headers": JSON, "body": json.dumps(body)}


SWAGGER = {"method": "GET", "path": "/swagger.json", "query": "version=3"}


def service_input(answer: dict[str, Any]) -> dict[str, Any]:
    assert answer["status"] == 200, answer
    schema: dict[str, Any] = json.loads(answer["body"])["components"]["schemas"]["ServiceInput"]
    return schema


def assert_predictions(answer: dict[str, Any], expected: list[float]) -> None:
    assert answer["status"] == 200, answer
    assert json.loads(answer["body"]) == pytest.approx(expected, abs=1e-9)


# ---------------------------------------------------------------------------------------------------------------
# Online


def write_png(path: Path, pixels: list[int]) -> None:
    """An 8-bit grayscale PNG one pixel high, written by hand: the tests' own Python has no Pillow."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", len(pixels), 1, 8, 0, 0, 0, 0)
    scanline = b"\x00" + bytes(pixels)  # filter type 0, then the row
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(scanline)) + chunk(b"IEND", b"")
    )


def parse(text: str) -> list[list[str]]:
    return list(csv.reader(text.splitlines()))


@pytest.fixture(scope="module")
def outs(models: dict[str, Any], mlflow_python: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Every case's answers, from one process in the model environment that runs the cases one after another."""
    tmp = tmp_path_factory.mktemp("mlflow-jobs")
    columns_dir, rows = models["columns"]
    tensor_dir, tensor_rows = models["tensor"]
    split = {"columns": rows["columns"], "index": [0, 1], "data": rows["data"][:2]}
    data = tmp / "data"
    data.mkdir()
    lines = [",".join(rows["columns"])] + [",".join(str(v) for v in row) for row in rows["data"]]
    (data / "heart-0.csv").write_text("\n".join(lines) + "\n")
    (data / "notes.txt").write_text("not a table\n")
    image = data / "scan.png"
    write_png(image, tensor_rows["data"][2])  # the row [2, 2, 2] as three pixels: an array of the signature's shape
    params = {"columns": ["a"], "data": [[1], [3]]}
    online = {"kind": "online", "entry_script": "score.py"}
    batch = {"kind": "batch", "entry_script": "batch_driver.py", "output_path": str(tmp / "out")}
    cases: dict[str, dict[str, Any]] = {
        "parquet": {
            "kind": "parquet",
            "path": str(data / "part.parquet"),
            "columns": rows["columns"],
            "data": rows["data"][1:],
        },
        "columns": {
            **online,
            "model_dir": str(columns_dir),
            "requests": [
                post({"input_data": split}),
                post({"input_data": {"columns": rows["columns"], "data": rows["data"]}, "params": {}}),
                post({"dataframe_split": split}),
                post({"input_data": [dict(zip(rows["columns"], row, strict=True)) for row in rows["data"]]}),
                SWAGGER,
            ],
        },
        "missing": {**online, "model_dir": str(columns_dir), "folder": "models", "requests": []},
        "tensor": {
            **online,
            "model_dir": str(tensor_dir),
            "requests": [post({"input_data": tensor_rows["data"]}), SWAGGER],
        },
        "untyped": {
            **online,
            "model_dir": str(models["untyped"][0]),
            "requests": [
                post({"input_data": {"columns": rows["columns"], "index": [0, 1, 2], "data": rows["data"]}}),
                SWAGGER,
            ],
        },
        "params": {
            **online,
            "model_dir": str(models["params"][0]),
            "requests": [post({"input_data": params, "params": {"scale": 10}}), post({"input_data": params}), SWAGGER],
        },
        "columns_batch": {
            **batch,
            "model_dir": str(columns_dir),
            "mini_batches": [[str(data / "heart-0.csv"), str(data / "part.parquet")], [str(data / "notes.txt")]],
        },
        "image": {**batch, "model_dir": str(tensor_dir), "mini_batches": [[str(image)]]},
    }
    answers = run_jobs(mlflow_python, list(cases.values()), tmp)
    return {"columns_dir": columns_dir, **dict(zip(cases, answers, strict=True))}


@pytest.fixture(scope="module")
def columns_online(models: dict[str, Any], outs: dict[str, Any]) -> Any:
    return models["columns"][1], outs["columns"]["answers"]


def test_a_split_dataframe_is_scored_as_the_model_scores_it_in_process(columns_online: Any) -> None:
    rows, answers = columns_online
    assert_predictions(answers[0], rows["predictions"][:2])


def test_the_index_may_be_left_out_and_empty_params_are_accepted(columns_online: Any) -> None:
    rows, answers = columns_online
    assert_predictions(answers[1], rows["predictions"])


def test_the_mlflow_servers_own_keys_are_refused_as_azure_refuses_them(columns_online: Any) -> None:
    answer = columns_online[1][2]
    assert answer["status"] == 400
    assert json.loads(answer["body"]) == {"message": "A value is not provided for the 'input_data' parameter."}


def test_records_for_a_column_signature_fail_in_the_script(columns_online: Any) -> None:
    answer = columns_online[1][3]
    assert answer["status"] == 500
    assert answer["headers"]["x-ms-run-function-failed"] == "True"


def test_swagger_describes_input_data_from_the_signature(columns_online: Any) -> None:
    rows, answers = columns_online
    schema = service_input(answers[4])
    input_data = schema["properties"]["input_data"]
    assert input_data["format"] == "pandas.DataFrame:split"
    assert input_data["required"] == ["columns", "index", "data"]
    assert schema["example"]["input_data"]["columns"] == rows["columns"]
    assert "params" in schema["properties"]


def test_a_folder_without_mlmodel_fails_the_load_naming_what_is_missing(outs: dict[str, Any]) -> None:
    assert "MLmodel" in outs["missing"]["load_error"]
    assert f"{outs['columns_dir'] / 'models'}" in outs["missing"]["load_error"]


def test_a_tensor_signature_takes_a_list_as_its_array(models: dict[str, Any], outs: dict[str, Any]) -> None:
    rows, answers = models["tensor"][1], outs["tensor"]["answers"]
    assert_predictions(answers[0], rows["predictions"])
    input_data = service_input(answers[1])["properties"]["input_data"]
    assert input_data["format"] == "numpy.ndarray"
    assert input_data["items"]["items"] == {"type": "number", "format": "float"}


def test_without_a_signature_a_split_dict_is_read_as_a_dataframe(models: dict[str, Any], outs: dict[str, Any]) -> None:
    rows, answers = models["untyped"][1], outs["untyped"]["answers"]
    assert_predictions(answers[0], rows["predictions"])
    assert service_input(answers[1])["properties"]["input_data"] == {"type": "object"}


def test_params_reach_predict_and_their_defaults_apply_without_them(outs: dict[str, Any]) -> None:
    answers = outs["params"]["answers"]
    assert_predictions(answers[0], [10.0, 30.0])
    assert_predictions(answers[1], [2.0, 6.0])
    schema = service_input(answers[2])
    assert schema["properties"]["params"]["properties"]["scale"]["type"] == "number"
    assert schema["example"]["params"] == {"scale": 2.0}


@pytest.fixture(scope="module")
def columns_batch(models: dict[str, Any], outs: dict[str, Any]) -> Any:
    return models["columns"][1], outs["columns_batch"]["answers"]


def test_tables_give_a_row_prediction_and_file_name_line_per_row(columns_batch: Any) -> None:
    rows, answers = columns_batch
    predictions = rows["predictions"]
    assert answers[0]["rows"] == 5
    lines = parse(answers[0]["text"])
    assert [(line[0], line[2]) for line in lines] == [
        ("0", "heart-0.csv"),
        ("1", "heart-0.csv"),
        ("2", "heart-0.csv"),
        ("0", "part.parquet"),
        ("1", "part.parquet"),
    ]
    scored = [float(line[1]) for line in lines]
    assert scored == pytest.approx(predictions + predictions[1:], abs=1e-9)


def test_a_file_of_another_type_fails_the_mini_batch_naming_the_types_allowed(columns_batch: Any) -> None:
    message = columns_batch[1][1]["failure"]
    assert "notes.txt" in message
    assert ".txt files" in message
    for extension in (".csv", ".parquet", ".pqt", ".png", ".jpg", ".jpeg", ".tiff", ".bmp", ".gif"):
        assert extension in message


def test_an_image_gives_one_prediction_and_file_name_line(models: dict[str, Any], outs: dict[str, Any]) -> None:
    answers = outs["image"]["answers"]
    assert answers[0]["rows"] == 1
    [[prediction, name]] = parse(answers[0]["text"])
    assert name == "scan.png"
    assert float(prediction) == pytest.approx(models["tensor"][1]["predictions"][2], abs=1e-9)
