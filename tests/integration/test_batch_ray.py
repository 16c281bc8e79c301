"""Batch deployments with `settings.executor: ray`, run on a real local Ray cluster that the module starts.

The cluster is one head on 127.0.0.1 (no dashboard, a small object store, 2 CPUs, no usage stats), started with
`ray start` for the module and killed after it; the tests share one `modelyard serve --ray-address`.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from live import ROOT, Server, cleared, started
from test_job_verbs import BATCH, SLOW, in_process, wait_job

if not os.environ.get("CI"):  # CI installs the ray extra (scripts/test); elsewhere it may be missing
    pytest.importorskip("ray")

RAY = Path(sys.executable).parent / "ray"
#: No usage reports, and a cluster named by a loopback address stays on loopback (see runtime.batch.ray_executor).
RAY_ENV = {"RAY_USAGE_STATS_ENABLED": "0", "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}

#: score_csv.py, and a line per worker process saying who it is and who started it.
WHO = """
import os
from score_csv import init as _init, run

def init():
    _init()
    out = os.environ["AZUREML_BI_OUTPUT_PATH"]
    with open(os.path.join(out, f"pid-{os.getpid()}"), "w") as f:
        f.write(str(os.getppid()))
"""

#: A script whose hang* files never return (writing the process id first); other files give one row each.
HANG = """
import os, time

def init():
    pass

def run(mini_batch):
    out = os.environ["AZUREML_BI_OUTPUT_PATH"]
    if os.path.basename(mini_batch[0]).startswith("hang"):
        open(os.path.join(out, f"hung-{os.getpid()}"), "w").close()
        while True:
            time.sleep(0.05)
    return [os.path.basename(p) for p in mini_batch]
"""

#: A script whose first run() writes its process id and sleeps, to be killed; later ones give one row per file.
SLEEP_FIRST = """
import os, time

def init():
    pass

def run(mini_batch):
    first = os.path.join(os.environ["AZUREML_BI_OUTPUT_PATH"], "first-attempt")
    if not os.path.exists(first):
        with open(first + ".tmp", "w") as f:
            f.write(str(os.getpid()))
        os.rename(first + ".tmp", first)
        time.sleep(60)
    return [os.path.basename(p) for p in mini_batch]
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


@pytest.fixture(scope="module")
def ray_address() -> Iterator[str]:
    """A local Ray head for the module; its address."""
    # A short folder: Ray's Unix sockets live under it, and a socket path has ~100 characters at most.
    temp = tempfile.mkdtemp(prefix="ray", dir="/tmp")
    port = _free_port()
    cmd = [str(RAY), "start", "--head", "--node-ip-address", "127.0.0.1", "--port", str(port)]
    cmd += ["--include-dashboard=false", "--num-cpus", "2", "--object-store-memory", str(100 * 2**20)]
    cmd += ["--temp-dir", temp, "--disable-usage-stats"]
    env = {**os.environ, **RAY_ENV}
    with open(Path(temp) / "start.out", "wb") as out:
        # Its own process group: the daemons it leaves behind keep it, so they can be killed by that id.
        start = subprocess.run(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True, timeout=120)
    try:
        assert start.returncode == 0, (Path(temp) / "start.out").read_text()
        assert _listening(port)
        yield f"127.0.0.1:{port}"
    finally:
        _kill_cluster(temp)
        shutil.rmtree(temp, ignore_errors=True)


def _kill_cluster(temp: str) -> None:
    """Kill the cluster's processes: those naming its folder (gcs_server, raylet, ...) and all they started."""
    found: dict[int, psutil.Process] = {}
    for proc in psutil.process_iter(["cmdline"]):
        if any(temp in part for part in proc.info["cmdline"] or ()):
            found[proc.pid] = proc
            found.update((child.pid, child) for child in proc.children(recursive=True))
    for proc in found.values():
        try:
            proc.send_signal(signal.SIGKILL)
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(list(found.values()), timeout=10)


@pytest.fixture(scope="module")
def ray_server(ray_address: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server on the module's cluster; idle workers go at once, giving their cluster CPUs back."""
    with started(
        tmp_path_factory.mktemp("ray-serve") / "state", "--ray-address", ray_address, "--batch-idle", "0"
    ) as srv:
        yield srv


@pytest.fixture
def server(ray_server: Server, ray_address: str) -> Iterator[Server]:
    """The module's server, as new for each test (a test may kill it and start it again)."""
    yield ray_server
    cleared(ray_server, "--ray-address", ray_address, "--batch-idle", "0")


def fixture(server: Server, tmp_path: Path, **scripts: str) -> Path:
    """Endpoint heart, its compute, and a copy of the fixture deployment with `scripts` added to its code."""
    code = tmp_path / "fixture"
    shutil.copytree(BATCH, code)
    for name, text in scripts.items():
        (code / "code" / f"{name}.py").write_text(text)
    server.cli("batch-endpoint", "create", "-n", "heart", "-f", str(BATCH / "endpoint.yml"))
    server.cli("compute", "create", "--name", "batch-cluster", "--type", "amlcompute")
    return code / "deployment.yml"


def deploy(server: Server, yml: Path, name: str, script: str, *settings: str) -> None:
    """The fixture deployment as `name` on endpoint heart, running `script`, with `--set settings`."""
    sets = [f"code_configuration.scoring_script={script}", *settings]
    args = ["-f", str(yml), "--endpoint-name", "heart", "--name", name]
    server.cli("batch-deployment", "create", *args, *(x for s in sets for x in ("--set", s)))


def invoke(server: Server, deployment: str, data: Path, *extra: str) -> str:
    args = ["batch-endpoint", "invoke", "-n", "heart", "--deployment-name", deployment, "--input", str(data)]
    return server.cli(*args, *extra, "--query", "name", "-o", "tsv").stdout.strip()


def finished(server: Server, name: str, timeout: float = 90) -> dict[str, object]:
    return wait_job(server, name, lambda j: j["status"] in ("Completed", "Failed", "Canceled"), timeout)


def csv_files(folder: Path, count: int) -> Path:
    folder.mkdir()
    for n in range(count):
        (folder / f"f{n:02}.csv").write_text("a,b\n" + "".join(f"{n},{i}\n" for i in range(3)))
    return folder


def test_a_ray_deployment_gives_the_local_executors_rows_from_ray_worker_processes(
    server: Server, tmp_path: Path
) -> None:
    yml = fixture(server, tmp_path, who_csv=WHO)
    deploy(server, yml, "on-ray", "who_csv.py", "settings.executor=ray", "settings.max_concurrency_per_instance=2")
    deploy(server, yml, "here", "score_csv.py")
    shown = server.json("batch-deployment", "show", "-n", "on-ray", "-e", "heart")
    assert isinstance(shown, dict) and shown["settings"]["executor"] == "ray"

    data = BATCH / "data"
    on_ray, here = invoke(server, "on-ray", data), invoke(server, "here", data)
    ray_job, local_job = finished(server, on_ray), finished(server, here)
    assert ray_job["status"] == local_job["status"] == "Completed", (ray_job, local_job)
    outputs = [Path(j["outputs"]["score"]["path"]) for j in (ray_job, local_job)]  # type: ignore[index]
    rows = [(out / "predictions.csv").read_text().splitlines() for out in outputs]
    assert rows[0] == rows[1] == in_process(sorted(data.iterdir()))

    # init() ran once in each of two Ray worker processes, which Ray's raylet started, not serve.
    assert server.proc is not None
    serve_children = {p.pid for p in psutil.Process(server.proc.pid).children(recursive=True)}
    pids = {int(f.name.removeprefix("pid-")): int(f.read_text()) for f in outputs[0].glob("pid-*")}
    assert len(pids) == 2
    for pid, parent in pids.items():
        assert pid not in serve_children and parent != server.proc.pid
        assert psutil.Process(parent).name() == "raylet"
    # The script's print() and logging reach the instance's log, as a local worker's do.
    log = (server.state / "batch-logs" / "heart" / "on-ray" / "on-ray-0.log").read_text()
    assert "modelyard: starting worker on-ray-0 as a Ray actor" in log
    assert "modelyard: starting worker on-ray-0.1 as a Ray actor" in log
    assert "scoring first.csv" in log and "init() loaded scale" in log


def test_a_mini_batch_that_hangs_is_killed_retried_and_counted_failed(server: Server, tmp_path: Path) -> None:
    yml = fixture(server, tmp_path, hang=HANG)
    settings = ["settings.executor=ray", "settings.retry_settings.timeout=1", "settings.retry_settings.max_retries=1"]
    deploy(server, yml, "stuck", "hang.py", *settings)
    data = tmp_path / "data"
    data.mkdir()
    for name in ("a.txt", "hang.txt", "z.txt"):
        (data / name).write_text(name)
    job = finished(server, invoke(server, "stuck", data, "--mini-batch-size", "1"))
    assert job["status"] == "Completed", job
    assert job["files"] == {"total": 3, "done": 2, "failed": 1}
    out = Path(job["outputs"]["score"]["path"])  # type: ignore[index]
    assert (out / "predictions.csv").read_text().splitlines() == ["a.txt", "z.txt"]
    # Two attempts, each on a fresh actor, each killed: no stuck process is left holding a CPU of the cluster.
    hung = [int(f.name.removeprefix("hung-")) for f in out.glob("hung-*")]
    assert len(hung) == 2 and hung[0] != hung[1]
    assert psutil.wait_procs([psutil.Process(p) for p in hung if psutil.pid_exists(p)], timeout=10)[1] == []
    errors = (out / "logs" / str(job["name"]) / "job_error.txt").read_text()
    assert errors.count("run() did not return within the mini-batch timeout of 1 s") == 2


def test_an_actor_killed_under_run_is_a_failed_attempt_retried_on_a_new_actor(server: Server, tmp_path: Path) -> None:
    yml = fixture(server, tmp_path, sleep_first=SLEEP_FIRST)
    deploy(server, yml, "dies", "sleep_first.py", "settings.executor=ray")
    name = invoke(server, "dies", BATCH / "data", "--mini-batch-size", "3")
    out = Path(wait_job(server, name, lambda j: True)["outputs"]["score"]["path"])  # type: ignore[index]
    first = out / "first-attempt"
    deadline = time.monotonic() + 60
    while not first.exists():
        assert time.monotonic() < deadline, "run() never started"
        time.sleep(0.05)
    victim = int(first.read_text())
    os.kill(victim, signal.SIGKILL)
    job = finished(server, name)
    assert job["status"] == "Completed", job
    assert (job["files"], job["retries"]) == ({"total": 3, "done": 3, "failed": 0}, 1)
    assert (out / "predictions.csv").read_text().splitlines() == ["first.csv", "second.csv", "third.csv"]
    errors = (out / "logs" / name / "job_error.txt").read_text()
    assert "(while run() worked on this mini-batch)" in errors
    log = (server.state / "batch-logs" / "heart" / "dies" / "dies-0.log").read_text()
    assert "The Ray actor died under mini-batch" in log


def test_a_job_on_ray_survives_serve_killed_mid_job_with_each_row_once(
    server: Server, tmp_path: Path, ray_address: str
) -> None:
    deploy(server, fixture(server, tmp_path, slow_csv=SLOW), "slow", "slow_csv.py", "settings.executor=ray")
    data = csv_files(tmp_path / "many", 12)
    name = invoke(server, "slow", data, "--mini-batch-size", "1")
    running = wait_job(server, name, lambda j: j["files"]["done"] >= 2)  # type: ignore[index,operator]
    assert running["status"] == "Running" and running["files"]["done"] < 12  # type: ignore[index,operator]
    assert server.proc is not None
    server.proc.send_signal(signal.SIGKILL)
    server.proc.wait()
    server.proc = None
    server.start("--ray-address", ray_address)
    done = finished(server, name)
    assert done["status"] == "Completed", done
    assert done["files"] == {"total": 12, "done": 12, "failed": 0}
    output = Path(done["outputs"]["score"]["path"]) / "predictions.csv"  # type: ignore[index]
    assert output.read_text().splitlines() == in_process(sorted(data.iterdir()))


def test_a_ray_deployment_on_a_server_without_a_cluster_fails_its_jobs_saying_what_to_do(tmp_path: Path) -> None:
    with started(tmp_path / "state") as srv:
        deploy(srv, fixture(srv, tmp_path), "on-ray", "score_csv.py", "settings.executor=ray")
        job = finished(srv, invoke(srv, "on-ray", BATCH / "data"))
        assert job["status"] == "Failed"
        assert "restart it with `modelyard serve --ray-address HOST:PORT`" in str(job["error"]), job
        assert job["files"]["done"] == 0  # type: ignore[index]


def test_serve_refuses_a_ray_address_that_is_not_host_port(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "runtime", "serve", "--state-dir", str(tmp_path), "--ray-address", "ray://h:1"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert (
        run.returncode == 2 and "argument --ray-address: 'ray://h:1': give the Ray head's own HOST:PORT" in run.stderr
    )


def test_a_cluster_that_is_not_there_fails_the_job_before_ray_would_retry_for_minutes(tmp_path: Path) -> None:
    with started(tmp_path / "state", "--ray-address", f"127.0.0.1:{_free_port()}") as srv:  # nothing listens there
        deploy(srv, fixture(srv, tmp_path), "on-ray", "score_csv.py", "settings.executor=ray")
        job = finished(srv, invoke(srv, "on-ray", BATCH / "data"))
        assert job["status"] == "Failed"
        assert "cannot reach the Ray cluster at 127.0.0.1:" in str(job["error"]), job
        assert "(Connection refused); start it (`ray start --head`)" in str(job["error"])
