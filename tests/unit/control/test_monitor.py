"""The sampler loop's bookkeeping: worker readings, the cost basis and its persistence, the snapshot."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import msgspec

from runtime.batch.executors import BatchWorker
from runtime.batch.jobs import Job, JobSettings, JobState
from runtime.control.monitor import BatchInput, EndpointInput, Monitor, OnlineInput
from runtime.control.supervisor import WorkerInfo
from runtime.control.usage import UsageStore
from runtime.metrics import prometheus
from runtime.metrics.sampler import GpuSampler, ProcessSampler
from runtime.metrics.stats import DeploymentStats
from runtime.routing.router import DeploymentRoute


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def worker(pid: int | None, cores: tuple[int, ...] = (0, 1), gpus: tuple[int, ...] = ()) -> WorkerInfo:
    return WorkerInfo(
        instance=0,
        process=0,
        state="Ready" if pid else "Restarting",
        pid=pid,
        cores=cores,
        gpus=gpus,
        shared=False,
        restarts=0,
        inflight=0,
        last_exit="",
        rss_mib=None,
        liveness_failures=0,
        readiness_failures=0,
        last_answer=None,
    )


def online(
    workers: tuple[WorkerInfo, ...], created_at: float = 1.0, route: DeploymentRoute | None = None
) -> OnlineInput:
    return OnlineInput(
        endpoint="ep",
        name="blue",
        state="Succeeded",
        instance_count=1,
        created_at=created_at,
        workers=workers,
        route=route,
    )


def monitor(db: Path, clock: Clock) -> Monitor:
    return Monitor(UsageStore(db), cores=[0, 1, 2, 3], gpus=[], clock=clock, wall=clock)


def test_core_seconds_add_cores_held_times_seconds_alive_and_survive_a_restart(tmp_path: Path) -> None:
    clock = Clock()
    db = tmp_path / "state.db"
    mon = monitor(db, clock)
    alive = (worker(os.getpid(), cores=(0, 1), gpus=(0,)), worker(None, cores=(2,)))
    mon.tick([online(alive)], [])
    clock.now += 10
    mon.tick([online(alive)], [])  # 10 s of one live worker holding 2 cores and 1 GPU; the other has no process
    (dep,) = mon.snapshot([], [online(alive)], []).deployments
    assert (dep.core_seconds, dep.gpu_seconds) == (20.0, 10.0)
    mon.close()  # saves

    clock.now += 500  # serve was down: that time is not counted
    again = monitor(db, clock)
    again.tick([online(alive)], [])
    clock.now += 1
    again.tick([online(alive)], [])
    (dep,) = again.snapshot([], [online(alive)], []).deployments
    assert (dep.core_seconds, dep.gpu_seconds) == (22.0, 11.0)

    # Deleted and created again under the same name: a new deployment, counted from zero (plus this last second).
    clock.now += 1
    again.tick([online(alive, created_at=2.0)], [])
    (dep,) = again.snapshot([], [online(alive, created_at=2.0)], []).deployments
    assert dep.core_seconds == 2.0
    again.close()


def test_the_snapshot_shows_request_figures_and_no_gpu_fields_without_gpus(tmp_path: Path) -> None:
    clock = Clock()
    mon = monitor(tmp_path / "state.db", clock)
    stats = DeploymentStats("ep", "blue")
    route = DeploymentRoute("blue", lambda: [], 5000, 2, stats=stats)
    dep_in = online((worker(os.getpid()),), route=route)
    mon.tick([dep_in], [])
    for status in (200, 200, 200, 429, 424):
        stats.finished(status, 0.003)
    clock.now += 5
    mon.tick([dep_in], [])
    front = DeploymentStats("ep", "")
    front.finished(401, 0.0001)
    ep = EndpointInput(name="ep", kind="online", traffic={"blue": 100}, mirror={}, front=front)
    status = mon.snapshot([ep], [dep_in], [])
    (dep,) = status.deployments
    assert dep.requests == 5 and dep.requests_per_s == 1.0 and dep.throttled == 1
    assert dep.errors_by_status == {"424": 1, "429": 1}
    assert dep.p50_ms is not None and 2.5 <= dep.p50_ms <= 5
    (w,) = dep.workers
    assert w.pid == os.getpid() and w.rss_bytes and w.cpu_percent is not None
    assert status.endpoints[0].refused == {"401": 1}
    raw = msgspec.json.decode(msgspec.json.encode(status))
    assert "gpus" not in raw["machine"] and "gpu_memory_bytes" not in raw["deployments"][0]["workers"][0]
    mon.close()


def test_cpu_percent_is_of_the_workers_own_cores(tmp_path: Path) -> None:
    spin = "import time\nend = time.process_time() + 30\nwhile time.process_time() < end: pass\n"
    proc = subprocess.Popen([sys.executable, "-c", spin])
    try:
        sampler = ProcessSampler()
        import time

        first = sampler.sample({proc.pid: 1}, time.monotonic())
        assert first[proc.pid].cpu_percent is None  # one reading gives no rate
        time.sleep(0.5)
        now = time.monotonic()
        one_core = sampler.sample({proc.pid: 1}, now)[proc.pid].cpu_percent
        time.sleep(0.5)
        four_cores = sampler.sample({proc.pid: 4}, time.monotonic())[proc.pid].cpu_percent
        # On a shared 2-core machine it may not get the whole core; it can never use more than one.
        assert one_core is not None and 30 < one_core <= 110
        assert four_cores is not None and four_cores <= 30
    finally:
        proc.kill()
        proc.wait()
    assert ProcessSampler().sample({proc.pid: 1}, 0.0) == {}  # gone: left out, no error


def test_no_gpus_or_no_nvml_means_no_readings_and_never_an_error() -> None:
    assert GpuSampler([]).sample() == []
    # An index NVML does not have (or no NVML at all on this machine): a note, no exception.
    sampler = GpuSampler([999])
    assert sampler.sample() == [] and sampler.note
    sampler.close()


def test_batch_deployments_show_their_workers_jobs_eta_and_the_jobs_core_seconds(tmp_path: Path) -> None:
    clock = Clock()
    mon = monitor(tmp_path / "state.db", clock)

    def job(name: str, state: JobState, done: int, failed: int, core_seconds: float) -> Job:
        return Job(
            name=name,
            endpoint="be",
            deployment="score",
            inputs=("/in",),
            output_folder="/out",
            settings=JobSettings(),
            state=state,
            enumerated=True,
            created_at=clock.now - 20,
            started_at=clock.now - 10,
            files_total=100,
            files_done=done,
            files_failed=failed,
            core_seconds=core_seconds,
        )

    batch_worker = BatchWorker(name="score-0", key="k", instance=0, cores=(1,), handle=None)
    batch_worker.pid = os.getpid()
    jobs = (job("j1", JobState.RUNNING, 15, 5, 4.0), job("j0", JobState.COMPLETED, 100, 0, 30.0))
    dep = BatchInput(endpoint="be", name="score", instance_count=1, jobs=jobs, workers=(batch_worker,))
    mon.tick([], [dep])
    status = mon.snapshot([], [], [dep])
    (shown,) = status.deployments
    assert shown.kind == "batch" and shown.core_seconds == 34.0
    assert [w.pid for w in shown.workers] == [os.getpid()] and shown.workers[0].rss_bytes
    running, finished = status.jobs
    assert running.eta_s == 40.0  # 20 files in 10 s, 80 to go
    assert finished.eta_s is None

    text = prometheus.render(prometheus.registry(lambda: status, lambda: [])).decode()
    assert 'modelyard_batch_files_done_total{deployment="score",endpoint="be"} 115.0' in text
    assert 'modelyard_batch_files_failed_total{deployment="score",endpoint="be"} 5.0' in text
    mon.close()
