"""/metrics, /api/status and `modelyard status` against a real server: request counts, histograms, worker samples."""

from __future__ import annotations

import json
import shutil
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import msgspec
from live import FIXTURES, ROOT, SAMPLE, Server, worker_pids
from prometheus_client.parser import text_string_to_metric_families

from runtime.status import Status


def _admin(server: Server) -> dict[str, str]:
    return {"Authorization": f"Bearer {(server.state / 'admin-token').read_text().strip()}"}


def _status(server: Server) -> Status:
    with server.client() as http:
        r = http.get("/api/status", headers=_admin(server))
    assert r.status_code == 200, r.text
    return msgspec.json.decode(r.content, type=Status)


def _samples(text: str) -> dict[str, list[Any]]:
    """Samples by name, from the exposition parsed back with prometheus-client's own parser."""
    out: dict[str, list[Any]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out.setdefault(sample.name, []).append(sample)
    return out


def _wait_for(check: Any, what: str, timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


def test_metrics_count_every_request_by_status_and_status_shows_the_worker(server: Server) -> None:
    server.cli("online-endpoint", "create", "-f", str(SAMPLE / "endpoint.yml"))
    server.cli("online-deployment", "create", "-f", str(SAMPLE / "blue-deployment.yml"), "--all-traffic")
    body = (SAMPLE / "sample-request.json").read_bytes()
    auth = {"Authorization": f"Bearer {server.key('digits')}", "Content-Type": "application/json"}
    ok, bad_key, no_deployment = 25, 3, 2
    with server.client() as http:
        for _ in range(ok):
            assert http.post("/endpoints/digits/score", content=body, headers=auth).status_code == 200
        for _ in range(bad_key):
            r = http.post("/endpoints/digits/score", content=body, headers={"Authorization": "Bearer nope"})
            assert r.status_code == 401
        for _ in range(no_deployment):
            r = http.post(
                "/endpoints/digits/score", content=body, headers={**auth, "azureml-model-deployment": "nosuch"}
            )
            assert r.status_code == 404
        assert http.post("/endpoints/nosuch/score", content=body, headers=auth).status_code == 404
        # From this machine a scraper needs no token; the text is Prometheus's.
        scraped = http.get("/metrics")
    assert scraped.status_code == 200 and scraped.headers["content-type"].startswith("text/plain")
    samples = _samples(scraped.text)

    counts = {
        (s.labels["endpoint"], s.labels["deployment"], s.labels["status"]): s.value
        for s in samples["modelyard_requests_total"]
    }
    assert counts == {
        ("digits", "blue", "200"): ok,
        ("digits", "", "401"): bad_key,
        ("digits", "", "404"): 2,
        ("", "", "404"): 1,
    }
    blue = {"endpoint": "digits", "deployment": "blue"}
    (count,) = [s.value for s in samples["modelyard_request_duration_seconds_count"] if s.labels == blue]
    assert count == ok
    inf = [s for s in samples["modelyard_request_duration_seconds_bucket"] if s.labels == {**blue, "le": "+Inf"}]
    assert inf[0].value == ok
    (waited,) = [s.value for s in samples["modelyard_request_queue_wait_seconds_count"] if s.labels == blue]
    assert waited == ok
    (in_flight,) = [s.value for s in samples["modelyard_requests_in_flight"] if s.labels == blue]
    assert in_flight == 0
    assert not any(name.startswith("modelyard_gpu_") for name in samples)  # no GPU here: no GPU metrics

    # /api/status: the worker's pid and cores, and a sample of its CPU and memory, once the sampler has run twice.
    (pid,) = worker_pids(server, "digits", "blue")

    def sampled() -> Status | None:
        status = _status(server)
        dep = next(d for d in status.deployments if d.name == "blue")
        return status if dep.workers and dep.workers[0].cpu_percent is not None else None

    status = _wait_for(sampled, "no CPU sample of the worker")
    dep = next(d for d in status.deployments if d.name == "blue")
    (worker,) = dep.workers
    assert worker.pid == pid and len(worker.cores) == 1 and worker.state == "Ready"
    assert worker.rss_bytes is not None and worker.rss_bytes > 10 * 2**20
    assert worker.cpu_percent is not None and 0 <= worker.cpu_percent <= 110
    assert dep.requests == ok + no_deployment - 2  # the header's unknown deployment was refused by the front end
    assert dep.errors_by_status == {} and dep.throttled == 0 and dep.in_flight == 0
    assert dep.p99_ms is not None or dep.requests_per_s == 0.0
    endpoint = next(e for e in status.endpoints if e.name == "digits")
    assert endpoint.traffic == {"blue": 100} and endpoint.refused == {"401": bad_key, "404": no_deployment}
    assert status.machine.gpus == () and status.machine.cores
    raw = json.loads(msgspec.json.encode(status))
    assert "gpu_memory_bytes" not in raw["deployments"][0]["workers"][0]  # no GPU: no GPU fields at all

    # The same snapshot through the CLI, with az's -o and --query.
    out = server.cli("status", "--query", "deployments[0].workers[0].pid", "-o", "tsv")
    assert out.stdout.strip() == str(pid)
    table = server.cli("status", "-o", "table").stdout.splitlines()
    assert table[0].split()[:4] == ["Endpoint", "Deployment", "Kind", "State"]
    assert table[2].split()[:4] == ["digits", "blue", "online", "Succeeded"]
    text = server.cli("metrics").stdout
    assert f'modelyard_requests_total{{deployment="blue",endpoint="digits",status="200"}} {ok}.0' in text


_SPIN = """
import os
import time


def init():
    pass


def run(raw_data):
    # Busy until the test creates the stop file: one core's worth of CPU, however long the test takes to look.
    deadline = time.monotonic() + 120
    while not os.path.exists(os.environ["STOP_FILE"]) and time.monotonic() < deadline:
        for _ in range(10000):
            pass
    return "done"
"""


def test_a_spinning_worker_shows_about_all_of_its_one_core(server: Server, tmp_path: Path) -> None:
    code = tmp_path / "spin"
    code.mkdir()
    (code / "score.py").write_text(_SPIN)
    stop = tmp_path / "stop"
    deployment = tmp_path / "spin.yml"
    deployment.write_text(
        "name: spin\nendpoint_name: spinner\ncode_configuration:\n  code: ./spin\n  scoring_script: score.py\n"
        "environment:\n  image: mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu20.04:latest\n"
        f"instance_type: cpu1\ninstance_count: 1\nenvironment_variables:\n  STOP_FILE: {stop}\n"
    )
    server.cli("online-endpoint", "create", "-n", "spinner")
    server.cli("online-deployment", "create", "-f", str(deployment), "--all-traffic")
    headers = {"Authorization": f"Bearer {server.key('spinner')}"}
    answers: list[int] = []

    def call() -> None:
        with httpx.Client(base_url=server.url, timeout=150) as http:
            answers.append(http.post("/endpoints/spinner/score", json={}, headers=headers).status_code)

    caller = threading.Thread(target=call)
    caller.start()
    try:
        # Wait until a full sample period fell inside run(): the reading then covers spinning only.
        def busy() -> Any:
            dep = next(d for d in _status(server).deployments if d.name == "spin")
            readings = [w.cpu_percent for w in dep.workers if w.cpu_percent is not None]
            return dep.in_flight == 1 and readings and readings[0] > 50 and readings

        readings = _wait_for(busy, "the spinning worker never showed over half a core", timeout=60)
        # A 2-core machine shared with other work may not give it the whole core; it never shows more than one.
        assert 50 < readings[0] <= 110, readings
        status = _status(server)
        dep = next(d for d in status.deployments if d.name == "spin")
        assert dep.core_seconds > 0
    finally:
        stop.touch()
        caller.join()
    assert answers == [200]


def test_core_seconds_keep_counting_across_a_restart_of_serve(server: Server) -> None:
    server.cli("online-endpoint", "create", "-f", str(FIXTURES / "endpoint.yml"))
    server.deploy_echo("--all-traffic")

    def counted() -> float:
        dep = next(d for d in _status(server).deployments if d.name == "echo")
        return dep.core_seconds

    before = _wait_for(lambda: counted() >= 1.0, "no core-seconds counted") and counted()
    server.stop()  # saves the cost basis
    server.start()
    after = counted()
    assert after >= before  # picked up where it was, not from zero
    dep = next(d for d in _status(server).deployments if d.name == "echo")
    assert dep.gpu_seconds == 0.0  # cpu1 holds no GPU


def test_in_flight_and_429s_show_in_status_and_metrics(server: Server, tmp_path: Path) -> None:
    server.cli("online-endpoint", "create", "-f", str(FIXTURES / "endpoint.yml"))
    server.deploy_echo("--all-traffic")  # one instance, max_concurrent_requests_per_instance 1: 2 admitted
    headers = {"Authorization": f"Bearer {server.key('fix')}"}
    release = tmp_path / "release"
    answers: list[int] = []

    def held() -> None:
        with httpx.Client(base_url=server.url, timeout=60) as http:
            answers.append(
                http.post("/endpoints/fix/score", json={"wait_for": str(release)}, headers=headers).status_code
            )

    callers = [threading.Thread(target=held) for _ in range(2)]
    for caller in callers:
        caller.start()
    try:

        def echo() -> Any:
            return next(d for d in _status(server).deployments if d.name == "echo")

        _wait_for(lambda: echo().in_flight == 2, "the two held requests never showed in flight")
        both_in = time.monotonic()
        with server.client() as http:
            r = http.post("/endpoints/fix/score", json={}, headers=headers)
        assert r.status_code == 429
    finally:
        released = time.monotonic()
        release.touch()
        for caller in callers:
            caller.join()
    assert answers == [200, 200]
    dep = echo()
    assert dep.in_flight == 0 and dep.throttled == 1 and dep.errors_by_status == {"429": 1} and dep.requests == 3
    with server.client() as http:
        samples = _samples(http.get("/metrics").text)
    counts = {s.labels["status"]: s.value for s in samples["modelyard_requests_total"] if s.labels["deployment"]}
    assert counts == {"200": 2, "429": 1}
    fix = {"endpoint": "fix", "deployment": "echo"}
    assert [s.value for s in samples["modelyard_request_duration_seconds_count"] if s.labels == fix] == [3]
    # The worker runs one request at a time: the second held one waited in it from before `both_in` until the
    # first was released, and that wait is queue wait, not work.
    (waited,) = [s.value for s in samples["modelyard_request_queue_wait_seconds_sum"] if s.labels == fix]
    assert waited >= released - both_in


BATCH = ROOT / "tests" / "fixtures" / "batch"


def test_a_batch_jobs_worker_and_progress_show_in_status_and_metrics(server: Server, tmp_path: Path) -> None:
    release = tmp_path / "release"
    fixture = tmp_path / "fixture"
    shutil.copytree(BATCH, fixture)
    (fixture / "code" / "held_csv.py").write_text(
        "import os, time\nfrom score_csv import init, run as _run\n\n\n"
        f"def run(mini_batch):\n    while not os.path.exists({str(release)!r}):\n        time.sleep(0.05)\n"
        "    return _run(mini_batch)\n"
    )
    server.cli("batch-endpoint", "create", "-n", "heart", "-f", str(BATCH / "endpoint.yml"))
    server.cli("compute", "create", "--name", "batch-cluster", "--type", "amlcompute")
    dep = ["-f", str(fixture / "deployment.yml"), "--endpoint-name", "heart", "--set-default"]
    server.cli("batch-deployment", "create", *dep, "--set", "code_configuration.scoring_script=held_csv.py")
    invoke = ["batch-endpoint", "invoke", "-n", "heart", "--input", str(BATCH / "data"), "--query", "name", "-o", "tsv"]
    name = server.cli(*invoke).stdout.strip()
    try:

        def batch() -> Any:
            return next(d for d in _status(server).deployments if d.kind == "batch")

        # The held run() keeps its worker up: it shows under its deployment, sampled like an online one.
        dep_status = _wait_for(lambda: (d := batch()).workers and d.workers[0].rss_bytes and d, "no batch worker")
        (worker,) = dep_status.workers
        assert (dep_status.endpoint, dep_status.name) == ("heart", "csv-sum")
        assert worker.pid and worker.cores and worker.state == "Running"
        status = _status(server)
        (job,) = status.jobs
        assert (job.name, job.state, job.files_total, job.files_done) == (name, "Running", 3, 0)
        assert next(e for e in status.endpoints if e.name == "heart").traffic == {"csv-sum": 100}
    finally:
        release.touch()
    _wait_for(lambda: _status(server).jobs[0].state == "Completed", "the job did not complete")
    status = _status(server)
    (job,) = status.jobs
    assert (job.files_done, job.files_failed, job.eta_s) == (3, 0, None)
    assert next(d for d in status.deployments if d.kind == "batch").core_seconds == job.core_seconds > 0
    with server.client() as http:
        samples = _samples(http.get("/metrics").text)
    heart = {"endpoint": "heart", "deployment": "csv-sum"}
    assert [s.value for s in samples["modelyard_batch_files_done_total"] if s.labels == heart] == [3]
    assert [s.value for s in samples["modelyard_batch_files_failed_total"] if s.labels == heart] == [0]
