"""A batch runner on a real store, with real worker subprocesses, over the batch fixtures."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import psutil
from live import is_worker

from runtime.batch.executors import BatchTarget, LocalExecutor
from runtime.batch.jobs import TERMINAL, Job, JobSettings, JobState
from runtime.batch.runner import BatchRunner
from runtime.batch.slots import Timing
from runtime.batch.store import BatchStore
from runtime.errors import NotFound
from runtime.spec import BatchDeploymentSpec, BatchSettings, CodeConfiguration, InlineModel

BATCH = Path(__file__).resolve().parents[1] / "fixtures" / "batch"
FAST = Timing(poll_s=0.05, lease_s=60.0, renew_s=0.2, progress_s=0.0)

#: run() sleeps a little per file and returns the files' names: slow enough to stop a job half way.
SLOW_SCRIPT = """
import os, time

def init():
    pass

def run(mini_batch):
    time.sleep(0.15)
    return [os.path.basename(p) for p in mini_batch]
"""

#: init() fails, as it does when the model is missing.
BROKEN_SCRIPT = """
def init():
    raise FileNotFoundError("no model file in AZUREML_MODEL_DIR")

def run(mini_batch):
    return mini_batch
"""


def snapshot(root: Path) -> Path:
    """A deployment snapshot of the batch fixtures, laid out as the control plane lays one out."""
    snap = root / "snap"
    shutil.copytree(BATCH / "code", snap / "code" / "code")
    (snap / "code" / "code" / "slow.py").write_text(SLOW_SCRIPT)
    (snap / "code" / "code" / "broken.py").write_text(BROKEN_SCRIPT)
    shutil.copytree(BATCH / "model", snap / "azureml-models" / "csv-scale" / "1" / "model")
    return snap


def target(snap: Path, script: str = "score_csv.py", **settings: object) -> BatchTarget:
    """The batch deployment csv-batch/csv-sum running `script` with the given settings."""
    spec = BatchDeploymentSpec(
        name="csv-sum",
        endpoint_name="csv-batch",
        model=InlineModel(path="model", name="csv-scale", version="1"),
        code_configuration=CodeConfiguration(code="code", scoring_script=script),
        environment="azureml:batch-csv:1",
        compute="batch-cluster",
        settings=BatchSettings(**settings),  # type: ignore[arg-type]
    )
    return BatchTarget(endpoint="csv-batch", deployment="csv-sum", spec=spec, snapshot=snap)


class Bench:
    """A store, the deployment the runner looks up, and a way to run a runner while a test body works."""

    def __init__(self, root: Path, deployment: BatchTarget, machine_gpus: tuple[int, ...] = ()) -> None:
        self.root = root
        self.deployment = deployment
        self.machine_gpus = machine_gpus
        self.store = BatchStore(root / "state.db")

    def lookup(self, endpoint: str, deployment: str) -> BatchTarget:
        if (endpoint, deployment) != ("csv-batch", "csv-sum"):
            raise NotFound(f"batch deployment {endpoint}/{deployment} not found")
        return self.deployment

    def runner(self, idle_s: float = 60.0) -> BatchRunner:
        executor = LocalExecutor(
            socket_dir=self.root,
            log_dir=self.root / "logs",
            machine_cores=sorted(os.sched_getaffinity(0)),
            machine_gpus=self.machine_gpus,
        )
        return BatchRunner(store=self.store, lookup=self.lookup, executor=executor, idle_s=idle_s, timing=FAST)

    def submit(self, inputs: Path, out: str = "out", **settings: object) -> str:
        job = self.store.submit(
            endpoint="csv-batch",
            deployment="csv-sum",
            inputs=[inputs],
            output_folder=self.root / out,
            settings=JobSettings(**settings),  # type: ignore[arg-type]
            now=time.time(),
        )
        return job.name

    async def until(self, name: str, check: Callable[[Job], bool] = lambda j: j.state in TERMINAL) -> Job:
        """The job once `check` holds for it."""
        await wait_until(lambda: check(self.store.job(name)))
        return self.store.job(name)

    def run(self, body: Callable[[BatchRunner], Awaitable[None]], idle_s: float = 60.0) -> None:
        """Run a runner while `body` works; stop it afterwards."""

        async def main() -> None:
            runner = self.runner(idle_s)
            task = asyncio.create_task(runner.run())
            try:
                async with asyncio.timeout(50):
                    await body(runner)
            finally:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
                await _no_worker_left()

        asyncio.run(main())


async def _no_worker_left(within_s: float = 10.0) -> None:
    """Every batch worker the stopped runner started is gone, reaped on this loop before it closes."""
    deadline = time.monotonic() + within_s
    while True:
        left = [p for p in psutil.Process().children() if is_worker(p) or _unreaped(p)]
        if not left:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"batch workers outlived their runner by {within_s:g} s: {[p.pid for p in left]}")
        await asyncio.sleep(0.05)  # the loop runs meanwhile, so their exits are seen and reaped


def _unreaped(proc: psutil.Process) -> bool:
    # A worker killed but not yet waited for: its exit must still be seen on this loop.
    try:
        return proc.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


async def wait_until(predicate: Callable[[], bool]) -> None:
    """Return once `predicate()` holds (the test's overall timeout bounds the wait)."""
    while True:
        if predicate():
            return
        await asyncio.sleep(0.02)


def children() -> set[int]:
    """Process ids of this process's running children (worker processes included); an exited one not yet reaped
    by asyncio's child watcher is left out."""
    pids: set[int] = set()
    for task in os.listdir("/proc/self/task"):
        with contextlib.suppress(FileNotFoundError), open(f"/proc/self/task/{task}/children") as f:
            pids.update(int(p) for p in f.read().split())
    return {p for p in pids if alive(p)}


def alive(pid: int) -> bool:
    """Whether `pid` is a running (not zombie) process."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def done(job: Job) -> bool:
    """Whether the job is over."""
    return job.state in TERMINAL


__all__ = ["JobState"]
