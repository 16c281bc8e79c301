"""DispatchExecutor: each deployment's workers on the executor its settings.executor names; Ray only when asked."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from runtime.batch.dispatch import DispatchExecutor
from runtime.batch.executors import BatchTarget, BatchWorker, Executor
from runtime.batch.jobs import Job, JobSettings, JobState
from runtime.errors import WorkerLost, WorkerStartError
from runtime.ipc.messages import Failure, MiniBatchDone
from runtime.spec import load_batch_deployment, split_ray_address

DEPLOYMENT = """\
name: {name}
endpoint_name: heart
type: model
model: {{name: m, path: model}}
code_configuration: {{code: code, scoring_script: score.py}}
environment: azureml:env:1
compute: azureml:batch-cluster
settings: {{executor: {executor}}}
"""

JOB = Job(
    name="j",
    endpoint="heart",
    deployment="d",
    inputs=("/in",),
    output_folder="/out",
    settings=JobSettings(),
    state=JobState.RUNNING,
    enumerated=True,
    created_at=0.0,
)


def target(name: str, executor: str) -> BatchTarget:
    text = DEPLOYMENT.format(name=name, executor=executor)
    spec = load_batch_deployment(text, source="d.yml").spec
    return BatchTarget(endpoint="heart", deployment=name, spec=spec, snapshot=Path("/snap"))


class Recording:
    """An executor that starts workers named after itself and answers one row per file."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.stopped: list[tuple[str, bool]] = []

    async def start(self, target: BatchTarget, job: Job, instance: int, process: int) -> BatchWorker:
        return BatchWorker(name=f"{self.label}:{target.deployment}", key="k", instance=instance, cores=(), handle=None)

    async def run(
        self, worker: BatchWorker, files: list[str], timeout_s: float, after: asyncio.Future[Any] | None = None
    ) -> MiniBatchDone | Failure:
        return MiniBatchDone(0, f"{self.label}\n".encode() * len(files), len(files))

    async def stop(self, worker: BatchWorker, *, kill: bool = False) -> None:
        self.stopped.append((worker.name, kill))

    def alive(self, worker: BatchWorker) -> bool:
        return True


def dispatcher(address: str | None) -> tuple[DispatchExecutor, Recording, list[Recording]]:
    local = Recording("local")
    made: list[Recording] = []

    def factory(addr: str) -> Executor:
        made.append(Recording(f"ray@{addr}"))
        return made[-1]

    return DispatchExecutor(local=local, ray_address=address, ray_factory=factory), local, made


def test_each_deployment_runs_on_its_executor_and_the_ray_one_is_made_once() -> None:
    async def scenario() -> None:
        executor, local, made = dispatcher("127.0.0.1:6379")
        here = await executor.start(target("dep-a", "local"), JOB, 0, 0)
        assert here.name == "local:dep-a" and made == []  # a local deployment never makes (imports) the Ray executor
        there = await executor.start(target("dep-b", "ray"), JOB, 0, 0)
        again = await executor.start(target("dep-c", "ray"), JOB, 0, 1)
        assert (there.name, again.name) == ("ray@127.0.0.1:6379:dep-b", "ray@127.0.0.1:6379:dep-c") and len(made) == 1
        assert (await executor.run(there, ["x", "y"], 5.0)) == MiniBatchDone(0, b"ray@127.0.0.1:6379\n" * 2, 2)
        assert (await executor.run(here, ["x"], 5.0)) == MiniBatchDone(0, b"local\n", 1)
        await executor.stop(there, kill=True)
        await executor.stop(here)
        assert made[0].stopped == [("ray@127.0.0.1:6379:dep-b", True)] and local.stopped == [("local:dep-a", False)]
        assert not executor.alive(there) and executor.alive(again)
        with pytest.raises(WorkerLost):
            await executor.run(there, ["x"], 5.0)

    asyncio.run(scenario())


def test_a_ray_deployment_without_a_cluster_fails_to_start_saying_how_to_name_one() -> None:
    async def scenario() -> None:
        executor, _, made = dispatcher(None)
        with pytest.raises(WorkerStartError) as info:
            await executor.start(target("dep-b", "ray"), JOB, 0, 0)
        assert info.value.message == (
            "batch deployment 'dep-b' runs on Ray (settings.executor: ray), but this server names no Ray cluster: "
            "restart it with `modelyard serve --ray-address HOST:PORT` (the head of a running cluster), "
            "or set settings.executor=local"
        )
        assert made == []

    asyncio.run(scenario())


def test_serve_and_a_local_batch_job_do_not_import_ray() -> None:
    code = (
        "import sys, runtime.serve, runtime.cli, runtime.batch.dispatch, runtime.batch.ray_executor; "
        "assert 'ray' not in sys.modules, 'ray was imported'"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr


@pytest.mark.parametrize(
    ("address", "problem"),
    [
        ("localhost", "is not HOST:PORT"),
        ("h:port", "is not HOST:PORT"),
        ("h:70000", "is not HOST:PORT"),
        ("ray://h:10001", "not a client URL"),
    ],
)
def test_a_ray_address_is_host_and_port(address: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        split_ray_address(address)
    assert split_ray_address("127.0.0.1:6379") == ("127.0.0.1", 6379)
    assert split_ray_address("[::1]:6379") == ("::1", 6379)
