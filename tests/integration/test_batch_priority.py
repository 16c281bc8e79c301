"""Low-priority batch jobs through a real server: they wait for normal jobs and give their cores back to an online
deployment under load, their mini-batches requeued and every row written once."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from live import FIXTURES, Server, cleared, is_worker, started
from test_job_verbs import BATCH, SLOW, in_process, job, wait_job

ENDED = ("Completed", "Failed", "Canceled")


#: Low-priority work resumes after 2 s without online load; idle batch workers leave at once.
ARGS = ("--low-priority-calm", "2", "--batch-idle", "0")


@pytest.fixture(scope="module")
def priority_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with started(tmp_path_factory.mktemp("priority") / "state", *ARGS) as srv:
        yield srv


@pytest.fixture
def server(priority_server: Server) -> Iterator[Server]:
    """The module's server, as new for each test."""
    yield priority_server
    cleared(priority_server, *ARGS)


def setup(server: Server, tmp_path: Path, files: int) -> Path:
    """The slow fixture deployment `heart/csv-sum` on a low_priority cluster, and a folder of `files` CSV files."""
    shutil.copytree(BATCH, tmp_path / "fixture")
    (tmp_path / "fixture" / "code" / "slow_csv.py").write_text(SLOW)
    data = tmp_path / "data"
    data.mkdir()
    for n in range(files):
        (data / f"f{n:02}.csv").write_text("a,b\n" + "".join(f"{n},{i}\n" for i in range(3)))
    server.cli("batch-endpoint", "create", "-n", "heart", "-f", str(BATCH / "endpoint.yml"))
    server.cli("compute", "create", "--name", "batch-cluster", "--type", "amlcompute", "--set", "tier=low_priority")
    deployment = ["-f", str(tmp_path / "fixture" / "deployment.yml"), "--endpoint-name", "heart", "--set-default"]
    server.cli("batch-deployment", "create", *deployment, "--set", "code_configuration.scoring_script=slow_csv.py")
    return data


def invoke(server: Server, data: Path, *extra: str) -> str:
    args = ["batch-endpoint", "invoke", "-n", "heart", "--input", str(data), "--mini-batch-size", "1", *extra]
    return server.cli(*args, "--query", "name", "-o", "tsv").stdout.strip()


def batch_workers(server: Server, online: set[int]) -> list[int]:
    """Worker processes of serve that are not the online deployment's."""
    assert server.proc is not None
    kids = psutil.Process(server.proc.pid).children()
    # A worker that has just exited is a zombie until serve reaps it: it is no worker any more.
    return [p.pid for p in kids if p.pid not in online and is_worker(p)]


def progress(shown: dict[str, object]) -> str:
    return (Path(str(shown["log_folder"])) / "job_progress_overview.txt").read_text()


def test_a_low_priority_job_gives_its_cores_to_online_load_and_resumes_when_it_is_calm(
    server: Server, tmp_path: Path
) -> None:
    server.cli("online-endpoint", "create", "-f", str(FIXTURES / "endpoint.yml"))
    server.deploy_echo("--all-traffic")
    online = {w["pid"] for w in server.json("online-deployment", "show", "-n", "echo", "-e", "fix")["workers"]}  # type: ignore[index]
    data = setup(server, tmp_path, 20)
    name = invoke(server, data)  # the cluster is low_priority: so is the job
    assert job(server, name)["priority"] == "low"
    wait_job(server, name, lambda j: j["files"]["done"] >= 2)
    assert batch_workers(server, online)

    stop = threading.Event()
    statuses: list[int] = []

    headers = {"Authorization": f"Bearer {server.key('fix')}"}

    def load() -> None:
        with server.client() as client:
            while not stop.is_set():
                answer = client.post("/endpoints/fix/score", json={"sleep": 0.05}, headers=headers)
                statuses.append(answer.status_code)

    clients = [threading.Thread(target=load) for _ in range(2)]  # 2 is what the deployment admits
    for t in clients:
        t.start()
    try:
        # Under load the job's worker goes and its mini-batch goes back to the queue; the job stays Running.
        deadline = time.monotonic() + 20
        while batch_workers(server, online) or "pre-empted" not in progress(job(server, name)):
            assert time.monotonic() < deadline, "the low-priority job kept its worker under online load"
            time.sleep(0.1)
        paused = job(server, name)
        time.sleep(1.0)  # the load goes on: so does the pause
        still = job(server, name)
        assert still["status"] == "Running" and still["files"]["done"] == paused["files"]["done"] < 20
        assert not batch_workers(server, online)
    finally:
        stop.set()
        for t in clients:
            t.join()
    assert statuses and set(statuses) == {200}

    done = wait_job(server, name, lambda j: j["status"] in ENDED)
    assert done["status"] == "Completed", done
    assert done["files"] == {"total": 20, "done": 20, "failed": 0} and done["retries"] == 0  # requeued, not failed
    output = Path(done["outputs"]["score"]["path"]) / "predictions.csv"
    assert output.read_text().splitlines() == in_process(sorted(data.iterdir()))
    assert "pre-empted: online deployment fix/echo is under load" in progress(done)


def test_a_normal_job_runs_before_a_low_priority_one_that_started_first(server: Server, tmp_path: Path) -> None:
    data = setup(server, tmp_path, 10)
    low = invoke(server, data, "--priority", "low")
    wait_job(server, low, lambda j: j["files"]["done"] >= 1)
    normal = invoke(server, data, "--priority", "normal", "--output-path", str(tmp_path / "normal"))
    assert job(server, normal)["priority"] == "normal"

    first = wait_job(server, normal, lambda j: j["status"] in ENDED)
    assert first["status"] == "Completed"
    assert job(server, low)["status"] == "Running"  # it yielded and waits its turn
    second = wait_job(server, low, lambda j: j["status"] in ENDED)
    assert second["status"] == "Completed" and second["files"] == {"total": 10, "done": 10, "failed": 0}
    assert second["retries"] == 0
    assert "pre-empted: normal-priority job" in progress(second)
    expected = in_process(sorted(data.iterdir()))
    for shown in (first, second):
        assert (Path(shown["outputs"]["score"]["path"]) / "predictions.csv").read_text().splitlines() == expected


def test_invoke_refuses_an_unknown_priority(server: Server, tmp_path: Path) -> None:
    data = setup(server, tmp_path, 1)
    result = server.cli(
        "batch-endpoint", "invoke", "-n", "heart", "--input", str(data), "--priority", "high", check=False
    )
    assert result.returncode == 2 and "invalid choice: 'high' (choose from 'normal', 'low')" in result.stderr
