"""The batch runner with real worker subprocesses and a real SQLite store: outputs, failures, timeouts, cancel,
scale to zero and resuming after a stop."""

from __future__ import annotations

import asyncio
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest
from batch_runner_helpers import BATCH, Bench, alive, children, snapshot, target, wait_until

from runtime.batch.jobs import JobState
from runtime.batch.runner import BatchRunner


@pytest.fixture
def root() -> Iterator[Path]:
    # A short path: Unix socket paths are limited to ~107 bytes, which pytest's tmp_path can exceed.
    path = Path(tempfile.mkdtemp(prefix="mybr-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def csv_folder(folder: Path, names: list[str]) -> Path:
    """CSV files of three rows of two numbers each, different per file."""
    folder.mkdir(parents=True)
    for n, name in enumerate(names):
        rows = "".join(f"{n + i},{i * 10}\n" for i in range(3))
        (folder / name).write_text("a,b\n" + rows)
    return folder


def in_process(files: list[Path], mini_batch_size: int) -> list[str]:
    """What score_csv.py gives for `files` when imported and run here, mini-batch by mini-batch."""
    spec = importlib.util.spec_from_file_location("score_csv_here", BATCH / "code" / "score_csv.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    saved = dict(os.environ), sys.argv
    os.environ["AZUREML_MODEL_DIR"] = str(BATCH)
    sys.argv = ["score_csv.py", "--logging_level=info"]
    try:
        module.init()
        lines: list[str] = []
        for i in range(0, len(files), mini_batch_size):
            lines.extend(module.run([str(f) for f in files[i : i + mini_batch_size]]))
    finally:
        os.environ.clear()
        os.environ.update(saved[0])
        sys.argv = saved[1]
    return lines


def test_200_csv_files_give_one_row_per_input_row_equal_to_what_the_script_gives_in_process(root: Path) -> None:
    names = [f"part{i:03d}.csv" for i in range(200)]
    data = csv_folder(root / "data", names)
    bench = Bench(root, target(snapshot(root), instance_count=2, max_concurrency_per_instance=2))
    name = bench.submit(data, mini_batch_size=7)  # 29 mini-batches, the last of 4 files

    async def body(runner: BatchRunner) -> None:
        job = await bench.until(name)
        assert job.state is JobState.COMPLETED, job.error
        assert (job.files_done, job.files_failed, job.mini_batches_done) == (200, 0, 29)
        assert job.core_seconds > 0

    bench.run(body)
    expected = in_process([data / n for n in names], 7)
    lines = (root / "out" / "predictions.csv").read_text().splitlines()
    assert len(lines) == 600 and lines == expected  # three rows per file, in input order, "<file> <row> <sum>"
    logs = root / "out" / "logs" / name
    assert "Completed: 29 of 29 mini-batches processed, 200 of 200 files succeeded" in (
        (logs / "job_progress_overview.txt").read_text()
    )
    assert f"job {name} Completed" in (logs / "job_result.txt").read_text()
    bench.store.close()


@pytest.mark.parametrize(("threshold", "state"), [(5, JobState.COMPLETED), (2, JobState.FAILED)])
def test_failed_files_count_against_the_error_threshold(root: Path, threshold: int, state: JobState) -> None:
    names = ["a.csv", "bad1.csv", "b.csv", "bad2.csv", "c.csv", "bad3.csv", "d.csv"]
    data = csv_folder(root / "data", names)
    bench = Bench(root, target(snapshot(root)))
    name = bench.submit(data, mini_batch_size=1, max_retries=0, error_threshold=threshold)

    async def body(runner: BatchRunner) -> None:
        job = await bench.until(name)
        assert job.state is state
        if state is JobState.COMPLETED:
            assert (job.files_done, job.files_failed) == (4, 3)
        else:
            assert "exceeded error_threshold (2)" in job.error
            for bad in ("bad1.csv", "bad2.csv", "bad3.csv"):
                assert bad in job.error

    bench.run(body)
    errors = (root / "out" / "logs" / name / "job_error.txt").read_text()
    for bad in ("bad1.csv", "bad2.csv", "bad3.csv"):
        assert f"ValueError: cannot score {bad}" in errors
    predictions = root / "out" / "predictions.csv"
    assert predictions.exists() == (state is JobState.COMPLETED)  # a failed job writes no output file
    bench.store.close()


def test_a_hung_run_is_killed_retried_then_counted_failed_and_the_job_goes_on(root: Path) -> None:
    data = root / "data"
    data.mkdir()
    for n in ("a.txt", "hang.txt", "init.txt"):
        (data / n).write_text("x")
    bench = Bench(root, target(snapshot(root), "behave.py"))
    name = bench.submit(data, mini_batch_size=1, max_retries=1, timeout_s=1.0)
    pids: set[int] = set()

    async def body(runner: BatchRunner) -> None:
        await wait_until(lambda: bool(runner.workers()))
        pids.update(w.pid for w in runner.workers() if w.pid is not None)
        job = await bench.until(name)
        assert job.state is JobState.COMPLETED, job.error
        assert (job.files_done, job.files_failed, job.retries) == (2, 1, 1)
        assert job.core_seconds >= 2.0  # one core, held through two run() calls of 1 s each

    bench.run(body)
    lines = (root / "out" / "predictions.csv").read_text().splitlines()
    assert lines[0] == str(data / "a.txt")
    assert lines[1] == "1"  # init() ran once in the worker that replaced the one killed
    assert int(lines[2]) not in pids
    errors = (root / "out" / "logs" / name / "job_error.txt").read_text()
    assert errors.count("run() did not return within the mini-batch timeout of 1") == 2
    bench.store.close()


def test_cancel_stops_the_running_mini_batch_within_two_seconds_and_keeps_the_finished_ones(root: Path) -> None:
    data = root / "data"
    data.mkdir()
    for n in ("a.txt", "hang.txt", "z.txt"):
        (data / n).write_text("x")
    bench = Bench(root, target(snapshot(root), "behave.py"))
    name = bench.submit(data, mini_batch_size=1, timeout_s=60.0)

    async def body(runner: BatchRunner) -> None:
        await wait_until((root / "out" / "hang.started").exists)
        pid = runner.workers()[0].pid
        assert pid is not None and alive(pid)
        started = time.monotonic()
        bench.store.cancel(name, time.time())
        runner.wake()
        job = await bench.until(name, lambda j: j.state is JobState.CANCELED)
        assert time.monotonic() - started < 2.0
        assert (job.mini_batches_done, job.files_done) == (1, 1)
        await wait_until(lambda: not alive(pid))

    bench.run(body)
    assert not (root / "out" / "predictions.csv").exists()
    bench.store.close()


def test_no_worker_runs_before_the_first_job_or_after_the_idle_period(root: Path) -> None:
    data = csv_folder(root / "data", ["a.csv", "b.csv"])
    bench = Bench(root, target(snapshot(root), instance_count=2))
    before = children()

    async def body(runner: BatchRunner) -> None:
        await asyncio.sleep(0.3)  # the runner has looked at the store a few times by now
        assert runner.workers() == [] and children() == before
        name = bench.submit(data, mini_batch_size=1)  # two mini-batches: a worker on each instance
        runner.wake()
        await wait_until(lambda: len(runner.workers()) >= 2)
        pids = {w.pid for w in runner.workers()}
        assert pids <= children()
        assert (await bench.until(name)).state is JobState.COMPLETED
        await wait_until(lambda: not runner.workers())
        await wait_until(lambda: not any(alive(p) for p in pids if p is not None))
        assert children() == before

    bench.run(body, idle_s=0.3)
    bench.store.close()


def test_a_runner_stopped_mid_job_leaves_it_to_the_next_one_which_writes_every_row_once(root: Path) -> None:
    data = root / "data"
    data.mkdir()
    names = [f"f{i:02d}.txt" for i in range(12)]
    for n in names:
        (data / n).write_text("x")
    bench = Bench(root, target(snapshot(root), "slow.py", max_concurrency_per_instance=2))
    name = bench.submit(data, mini_batch_size=1)

    async def first(runner: BatchRunner) -> None:
        await bench.until(name, lambda j: j.mini_batches_done >= 3)

    bench.run(first)  # stops the runner (cancels its task) with the job half done
    half = bench.store.job(name)
    assert half.state is JobState.RUNNING and 3 <= half.mini_batches_done < 12

    async def second(runner: BatchRunner) -> None:
        job = await bench.until(name)
        assert job.state is JobState.COMPLETED, job.error

    bench.run(second)
    assert (root / "out" / "predictions.csv").read_text().splitlines() == names
    bench.store.close()


def test_a_runner_killed_mid_job_leaves_it_to_the_next_one_which_writes_every_row_once(root: Path) -> None:
    data = root / "data"
    data.mkdir()
    names = [f"f{i:02d}.txt" for i in range(12)]
    for n in names:
        (data / n).write_text("x")
    bench = Bench(root, target(snapshot(root), "slow.py", max_concurrency_per_instance=2))
    name = bench.submit(data, mini_batch_size=1)
    child = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("batch_runner_child.py")), str(root)],
        cwd=Path(__file__).resolve().parents[2],
    )
    try:
        deadline = time.monotonic() + 30
        while bench.store.job(name).mini_batches_done < 3:
            assert child.poll() is None and time.monotonic() < deadline
            time.sleep(0.02)
    finally:
        child.kill()  # SIGKILL: its leases stay behind in the store
        child.wait()
    half = bench.store.job(name)
    assert half.state is JobState.RUNNING and 3 <= half.mini_batches_done < 12

    async def second(runner: BatchRunner) -> None:
        job = await bench.until(name)
        assert job.state is JobState.COMPLETED, job.error

    bench.run(second)
    assert (root / "out" / "predictions.csv").read_text().splitlines() == names
    orphans = [int(p) for p in (root / "workers").read_text().split()]
    assert orphans and not any(alive(p) for p in orphans)  # the killed runner's workers ended with it
    bench.store.close()


def test_a_failing_init_fails_the_job_with_its_reason_and_leaves_no_worker(root: Path) -> None:
    data = csv_folder(root / "data", ["a.csv"])
    bench = Bench(root, target(snapshot(root), "broken.py", instance_count=2))
    name = bench.submit(data)
    before = children()

    async def body(runner: BatchRunner) -> None:
        job = await bench.until(name)
        assert job.state is JobState.FAILED
        assert "could not start" in job.error and "no model file in AZUREML_MODEL_DIR" in job.error
        assert runner.workers() == []

    bench.run(body)
    assert children() == before
    assert "no model file in AZUREML_MODEL_DIR" in (root / "out" / "logs" / name / "job_error.txt").read_text()
    bench.store.close()


def test_a_next_job_into_the_same_folder_takes_the_idle_workers_and_another_starts_its_own(root: Path) -> None:
    data = root / "data"
    data.mkdir()
    (data / "init.txt").write_text("x")
    bench = Bench(root, target(snapshot(root), "behave.py"))
    outputs = [("out", "p1.csv"), ("out", "p2.csv"), ("other", "p3.csv")]

    async def body(runner: BatchRunner) -> None:
        for out, file in outputs:
            name = bench.submit(data, out=out, output_file_name=file)
            runner.wake()
            assert (await bench.until(name)).state is JobState.COMPLETED
            await wait_until(lambda: len(runner.workers()) == 1)  # idle, kept for the next job

    bench.run(body)
    first, second, third = ((root / out / file).read_text().split() for out, file in outputs)
    assert first == second  # the same process (pid), whose init() ran once
    assert third[0] == "1" and third[1] != first[1]  # another output folder: a new worker, a new init()
    bench.store.close()


def test_a_job_runs_on_the_instance_count_it_was_invoked_with(root: Path) -> None:
    data = csv_folder(root / "data", [f"part{i}.csv" for i in range(6)])
    bench = Bench(root, target(snapshot(root), instance_count=1))
    name = bench.submit(data, mini_batch_size=1, instance_count=3)  # `invoke --instance-count 3`
    assert most_workers(bench, name) == 3
    bench.store.close()


def most_workers(bench: Bench, name: str) -> int:
    """Run the job to Completed; the most workers its runner had at once."""
    seen: list[int] = []

    async def body(runner: BatchRunner) -> None:
        async def watch() -> None:
            while True:
                seen.append(len(runner.workers()))
                await asyncio.sleep(0.01)

        watcher = asyncio.create_task(watch())
        runner.wake()
        try:
            assert (await bench.until(name)).state is JobState.COMPLETED
            # A short job can end between two looks; its workers are idle now and still counted.
            seen.append(len(runner.workers()))
        finally:
            watcher.cancel()

    bench.run(body, idle_s=0.3)
    return max(seen)


def test_a_job_runs_on_no_more_instances_than_its_compute_cluster_has(root: Path) -> None:
    data = csv_folder(root / "data", [f"part{i}.csv" for i in range(6)])
    bench = Bench(root, msgspec.structs.replace(target(snapshot(root), instance_count=3), max_instances=2))
    name = bench.submit(data, mini_batch_size=1)
    assert most_workers(bench, name) == 2
    progress = (root / "out" / "logs" / name / "job_progress_overview.txt").read_text()
    assert "the job asks for 3 instances; its compute cluster has max_instances 2, so it runs on 2" in progress
    bench.store.close()


#: run() gives, per file, the GPUs its worker was given.
GPU_SCRIPT = """
import os, time

def init():
    pass

def run(mini_batch):
    time.sleep(0.2)
    return [os.environ["CUDA_VISIBLE_DEVICES"] or "none" for _ in mini_batch]
"""


@pytest.mark.parametrize(("machine_gpus", "seen"), [((0, 1), "0"), ((), "none")])
def test_a_gpu_cluster_gives_each_instance_its_gpu_and_the_job_counts_gpu_seconds(
    root: Path, machine_gpus: tuple[int, ...], seen: str
) -> None:
    data = csv_folder(root / "data", ["a.csv", "b.csv", "c.csv"])
    snap = snapshot(root)
    (snap / "code" / "code" / "gpu.py").write_text(GPU_SCRIPT)
    bench = Bench(root, msgspec.structs.replace(target(snap, "gpu.py"), gpus_per_instance=1), machine_gpus)
    name = bench.submit(data, mini_batch_size=1)

    async def body(runner: BatchRunner) -> None:
        job = await bench.until(name)
        assert job.state is JobState.COMPLETED, job.error
        assert job.core_seconds >= 0.6  # one core held through three run() calls of 0.2 s
        # One GPU held as long as the one core where the machine has GPUs; none where it has none.
        assert job.gpu_seconds == (job.core_seconds if machine_gpus else 0.0)

    bench.run(body)
    assert (root / "out" / "predictions.csv").read_text().split() == [seen] * 3
    bench.store.close()


def test_a_worker_holds_its_next_mini_batch_while_run_works_on_the_current_one(root: Path) -> None:
    data = root / "data"
    data.mkdir()
    for n in ("wait-1.txt", "x-2.txt", "x-3.txt"):
        (data / n).write_text("x")
    bench = Bench(root, target(snapshot(root), "behave.py"))
    name = bench.submit(data, mini_batch_size=1)

    async def body(runner: BatchRunner) -> None:
        runner.wake()
        await wait_until(lambda: (root / "out").exists() and bool(runner.workers()))
        [worker] = runner.workers()
        # run() waits on the first file; the second mini-batch is already leased to the same worker and sent to it.
        held = lambda: [bench.store.mini_batch(name, i).worker for i in range(3)]  # noqa: E731
        await wait_until(lambda: held()[:2] == [worker.name, worker.name])
        assert held()[2] == "" and worker.handle.inflight == 2  # type: ignore[attr-defined]
        (root / "out" / "go").write_text("")
        job = await bench.until(name)
        assert job.state is JobState.COMPLETED and (job.files_done, job.retries) == (3, 0)

    bench.run(body)
    assert (root / "out" / "predictions.csv").read_text().split() == [str(data / n) for n in sorted(os.listdir(data))]
    bench.store.close()


def test_a_job_starts_no_more_workers_than_it_has_mini_batches(root: Path) -> None:
    data = csv_folder(root / "data", ["a.csv", "b.csv", "c.csv"])
    bench = Bench(root, target(snapshot(root), instance_count=2, max_concurrency_per_instance=2))
    name = bench.submit(data, mini_batch_size=2)  # two mini-batches for four slots
    assert most_workers(bench, name) == 2
    assert (root / "out" / "predictions.csv").read_text().splitlines() == in_process(sorted(data.iterdir()), 2)
    bench.store.close()
