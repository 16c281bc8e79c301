"""Batch jobs end to end through a real server and the real CLI: an az ml deploy-and-run script, a server killed
while a job runs, and the refusals of invoke and cancel."""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jwt
from live import ROOT, Server
from test_cli_terminal import MODELYARD, TERMINAL_ENV, Pty

from runtime.statedir import StateDir

BATCH = ROOT / "tests" / "fixtures" / "batch"

#: score_csv.py, a little slower per file: slow enough to kill the server half way through a job.
SLOW = """
import time
from score_csv import init, run as _run

def run(mini_batch):
    time.sleep(0.2)
    return _run(mini_batch)
"""


def in_process(files: list[Path]) -> list[str]:
    """What score_csv.py gives for `files` when imported and run here."""
    spec = importlib.util.spec_from_file_location("score_csv_here", BATCH / "code" / "score_csv.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    saved = dict(os.environ), sys.argv
    os.environ["AZUREML_MODEL_DIR"] = str(BATCH)
    sys.argv = ["score_csv.py", "--logging_level=info"]
    try:
        module.init()
        lines: list[str] = module.run([str(f) for f in files])
    finally:
        os.environ.clear()
        os.environ.update(saved[0])
        sys.argv = saved[1]
    return lines


def job(server: Server, name: str) -> dict[str, Any]:
    """What `job show -n name` prints."""
    shown = server.api("GET", f"/api/jobs/{name}")
    assert isinstance(shown, dict)
    return shown


def wait_job(server: Server, name: str, check: Callable[[dict[str, Any]], bool], timeout: float = 60) -> dict[str, Any]:
    """Poll `job show` until `check` holds for the job."""
    deadline = time.monotonic() + timeout
    while True:
        shown = job(server, name)
        if check(shown):
            return shown
        assert time.monotonic() < deadline, f"job {name} is still {shown['status']}: {shown}"
        time.sleep(0.1)


def setup(server: Server, *deployment_args: str, default: bool = True) -> None:
    server.cli("batch-endpoint", "create", "-n", "heart", "-f", str(BATCH / "endpoint.yml"))
    server.cli("compute", "create", "--name", "batch-cluster", "--type", "amlcompute")
    extra = ["--set-default"] if default else []
    dep = ["-f", str(BATCH / "deployment.yml"), "--endpoint-name", "heart", *extra, *deployment_args]
    server.cli("batch-deployment", "create", *dep)


def _fails(server: Server, *args: str) -> str:
    result = server.cli(*args, check=False)
    assert result.returncode == 1, result
    return result.stderr


def test_the_command_lines_of_an_az_ml_batch_script_work_unchanged(server: Server, tmp_path: Path) -> None:
    here = tmp_path / "heart"
    shutil.copytree(BATCH, here)
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "MODELYARD_HOME": str(server.state),
    }
    run = subprocess.run(
        ["bash", str(here / "invoke.sh"), str(here)],
        capture_output=True,
        text=True,
        env=env,
        stdin=subprocess.DEVNULL,
        timeout=300,
    )
    assert run.returncode == 0, f"{run.stdout}\n{run.stderr}"
    lines = run.stdout.splitlines()
    name = next(line for line in lines if line.startswith("job: ")).removeprefix("job: ")
    assert name.startswith("batchjob-")
    # Without a terminal, stream prints plain progress lines and ends with the job's status.
    assert any(line.startswith(f"Job {name} Completed in ") for line in lines)
    assert "status: Completed" in lines
    got = (here / "named-outputs" / "score" / "predictions.csv").read_text().splitlines()
    assert got == in_process(sorted((BATCH / "data").iterdir()))

    shown = job(server, name)
    assert (shown["type"], shown["endpoint_name"], shown["deployment_name"]) == ("pipeline", "heart", "csv-sum")
    assert shown["files"] == {"total": 3, "done": 3, "failed": 0}
    assert shown["mini_batches"] == {"total": 2, "done": 2, "failed": 0}
    assert shown["eta_s"] == 0.0 and shown["elapsed_s"] > 0 and shown["core_seconds"] > 0
    # The output folder is one per job under the state directory.
    assert shown["outputs"]["score"]["path"] == str(server.state / "jobs" / name / "outputs" / "score")
    listed = server.cli("batch-endpoint", "list-jobs", "-n", "heart", "--query", "[].name", "-o", "tsv").stdout
    assert listed.split() == [name]
    by_deployment = ["batch-deployment", "list-jobs", "-n", "csv-sum", "-e", "heart", "--query", "[].name", "-o", "tsv"]
    assert server.cli(*by_deployment).stdout.split() == [name]
    assert "Completed" in _fails(server, "job", "cancel", "-n", name)


def slow_job(server: Server, tmp_path: Path) -> tuple[str, Path]:
    """A job of 12 one-file mini-batches on the fixture deployment running SLOW; its name and input folder."""
    shutil.copytree(BATCH, tmp_path / "fixture")
    (tmp_path / "fixture" / "code" / "slow_csv.py").write_text(SLOW)
    data = tmp_path / "many"
    data.mkdir()
    for n in range(12):
        (data / f"f{n:02}.csv").write_text("a,b\n" + "".join(f"{n},{i}\n" for i in range(3)))
    server.cli("batch-endpoint", "create", "-n", "heart", "-f", str(BATCH / "endpoint.yml"))
    server.cli("compute", "create", "--name", "batch-cluster", "--type", "amlcompute")
    deployment = ["-f", str(tmp_path / "fixture" / "deployment.yml"), "--endpoint-name", "heart", "--set-default"]
    server.cli("batch-deployment", "create", *deployment, "--set", "code_configuration.scoring_script=slow_csv.py")
    args = ["batch-endpoint", "invoke", "-n", "heart", "--input", str(data), "--mini-batch-size", "1"]
    return server.cli(*args, "--query", "name", "-o", "tsv").stdout.strip(), data


def test_a_job_survives_a_server_killed_while_it_runs(tmp_path: Path) -> None:
    server = Server(tmp_path / "state")
    server.state.mkdir()
    server.start()
    try:
        name, data = slow_job(server, tmp_path)
        running = wait_job(server, name, lambda j: j["files"]["done"] >= 2)
        assert running["status"] == "Running" and running["files"]["done"] < 12
        assert server.proc is not None
        server.proc.send_signal(signal.SIGKILL)
        server.proc.wait()
        server.proc = None
        server.start()
        done = wait_job(server, name, lambda j: j["status"] in ("Completed", "Failed", "Canceled"))
        assert done["status"] == "Completed", done
        assert done["files"] == {"total": 12, "done": 12, "failed": 0}
        output = Path(done["outputs"]["score"]["path"]) / "predictions.csv"
        assert output.read_text().splitlines() == in_process(sorted(data.iterdir()))
    finally:
        server.stop()


def test_stream_on_a_terminal_draws_a_bar_and_a_canceled_job_exits_1(server: Server, tmp_path: Path) -> None:
    name, _ = slow_job(server, tmp_path)
    pty = Pty()
    proc = subprocess.Popen(
        [MODELYARD, "job", "stream", "-n", name, "--state-dir", str(server.state)],
        env=TERMINAL_ENV, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=pty.slave,
    )  # fmt: skip
    try:
        pty.read_until(b"files done")  # the bar's detail: status and counts
        # Its workers read the deployment's snapshot: neither it nor its endpoint goes while the job is unfinished.
        refused = _fails(server, "batch-endpoint", "delete", "-n", "heart", "-y")
        assert f"batch endpoint 'heart' has 1 unfinished job(s) ({name})" in refused, refused
        canceled = server.json("job", "cancel", "-n", name)
        assert isinstance(canceled, dict) and canceled["status"] in ("CancelRequested", "Canceled")
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
        pty.close()
    assert proc.returncode == 1
    # On a terminal the progress is on stderr only: stdout gets the closing line alone.
    assert out.decode().startswith(f"Job {name} Canceled in ") and out.decode().count("\n") == 1
    done = job(server, name)
    assert done["status"] == "Canceled" and 0 < done["files"]["done"] < 12
    server.cli("batch-endpoint", "delete", "-n", "heart", "-y")


def test_invoke_and_cancel_refuse_bad_input(server: Server, tmp_path: Path) -> None:
    setup(server, default=False)
    data = str(BATCH / "data")
    invoke = ["batch-endpoint", "invoke", "-n", "heart"]
    err = _fails(server, *invoke, "--input", data)
    assert "has no default deployment" in err and "--deployment-name" in err
    server.cli("data", "create", "-n", "heart-unlabeled", "--path", data, "--type", "uri_folder")
    err = _fails(server, *invoke, "-d", "csv-sum", "--input", "azureml:nope@latest")
    assert "data asset 'nope' not found" in err
    err = _fails(server, *invoke, "-d", "csv-sum", "--input", "https://example.com/data/")
    assert "is remote" in err and "only local data is reachable" in err
    err = _fails(server, *invoke, "-d", "csv-sum", "--input", data, "--input-type", "uri_file")
    assert "is not a file" in err
    err = _fails(server, *invoke, "-d", "csv-sum", "--input", data, "--set", "logging_level=debug")
    assert "cannot be set for one job" in err
    out = tmp_path / "out"
    out.mkdir()
    (out / "predictions.csv").write_text("an earlier job's\n")
    err = _fails(server, *invoke, "-d", "csv-sum", "--input", data, "--output-path", str(out))
    assert "exists already" in err
    assert (out / "predictions.csv").read_text() == "an earlier job's\n"
    assert server.json("job", "list") == []  # nothing refused was kept

    # --set and --output-path apply to that job only; a finished job cannot be canceled.
    given = [*invoke, "-d", "csv-sum", "--input", "azureml:heart-unlabeled:1", "--output-path", str(out)]
    name = server.cli(
        *given, "--set", "output_file_name=scores.txt", "--job-name", "mine", "--query", "name", "-o", "tsv"
    )
    assert name.stdout.strip() == "mine"
    assert (
        wait_job(server, "mine", lambda j: j["status"] == "Completed")["settings"]["output_file_name"] == "scores.txt"
    )
    assert (out / "scores.txt").read_text().splitlines() == in_process(sorted((BATCH / "data").iterdir()))
    err = _fails(server, "job", "cancel", "-n", "mine")
    assert "is Completed; only a Queued or Running job can be canceled" in err
    assert "job 'nope' not found" in _fails(server, "job", "show", "-n", "nope")


def test_the_rest_invoke_takes_both_of_azures_body_shapes_with_a_bearer_token(server: Server, tmp_path: Path) -> None:
    setup(server)
    server.cli("data", "create", "-n", "heart-unlabeled", "--path", str(BATCH / "data"), "--type", "uri_folder")
    token = server.cli("account", "get-access-token", "--query", "accessToken", "-o", "tsv").stdout.strip()
    url = "/batch-endpoints/HEART/jobs"
    camel = {
        "properties": {
            "inputData": {"heart": {"jobInputType": "UriFolder", "uri": "azureml:heart-unlabeled@latest"}},
            "outputData": {"score": {"jobOutputType": "UriFolder", "uri": str(tmp_path / "camel")}},
            "outputFileName": "camel.csv",
            "retrySettings": {"maxRetries": 0, "timeout": "PT1M"},
        }
    }
    pascal = {
        "properties": {"InputData": {"heart": {"JobInputType": "UriFile", "Uri": str(BATCH / "data" / "first.csv")}}}
    }
    with server.client() as http:
        assert http.post(url, json=camel).status_code == 401
        secret = StateDir(server.state).token_secret()
        forged = jwt.encode({"aud": "https://ml.azure.com", "iss": "modelyard", "iat": 1, "exp": 2**40}, b"x" * 32)
        expired = jwt.encode({"aud": "https://ml.azure.com", "iss": "modelyard", "iat": 1, "exp": 2}, secret)
        for bad in (forged, expired, "not-a-jwt"):
            answer = http.post(url, json=camel, headers={"Authorization": f"Bearer {bad}"})
            assert answer.status_code == 401 and "get-access-token" in answer.json()["error"]["message"]
        auth = {"Authorization": f"Bearer {token}"}
        first = http.post(url, json=camel, headers=auth)
        assert first.status_code == 200, first.text
        second = http.post(url, json=pascal, headers={**auth, "azureml-model-deployment": "CSV-SUM"})
        assert second.status_code == 200, second.text
        wrong = http.post(url, json={"properties": {"inputData": {}}}, headers=auth)
        assert wrong.status_code == 400 and "exactly one input" in wrong.json()["error"]["message"]
    one, two = first.json(), second.json()
    assert (
        one["type"] == "Microsoft.MachineLearningServices/workspaces/jobs" and one["properties"]["status"] == "Queued"
    )
    done = wait_job(server, one["name"], lambda j: j["status"] == "Completed")
    assert (done["settings"]["max_retries"], done["settings"]["timeout_s"]) == (0, 60.0)
    assert (tmp_path / "camel" / "camel.csv").read_text().splitlines() == in_process(sorted((BATCH / "data").iterdir()))
    assert wait_job(server, two["name"], lambda j: j["status"] == "Completed")["files"]["total"] == 1
