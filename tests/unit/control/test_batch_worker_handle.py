"""WorkerHandle.run_mini_batch against a real batch worker subprocess: rows, failures, timeouts and a lost worker."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest

from runtime.control.worker_handle import WorkerHandle
from runtime.errors import WorkerLost
from runtime.ipc.messages import Failure, Load, MiniBatchDone

BATCH = Path(__file__).resolve().parents[2] / "fixtures" / "batch"
DATA = BATCH / "data"


@pytest.fixture
def workdir() -> Iterator[Path]:
    # A short path: Unix socket paths are limited to ~107 bytes, which pytest's tmp_path can exceed.
    path = Path(tempfile.mkdtemp(prefix="mybh-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def wait_for(path: Path) -> None:
    """Return once `path` exists (run() writes it when it starts)."""
    while not path.exists():
        time.sleep(0.01)


def with_worker(workdir: Path, script: str, body: Callable[[WorkerHandle], Awaitable[None]]) -> None:
    load = Load(
        "batch",
        app_root=str(BATCH / "code"),
        entry_script=script,
        model_dir=str(BATCH),
        output_path=str(workdir / "out"),
    )
    handle = WorkerHandle(
        name="csv-sum-0",
        socket_path=workdir / "w.sock",
        log_path=workdir / "worker.log",
        env=dict(os.environ),
        cores=(),
        load=load,
    )

    async def main() -> None:
        ready = await handle.start(timeout=30)
        assert ready.mode == "batch"
        try:
            await body(handle)
        finally:
            await handle.kill()

    asyncio.run(main())


def test_run_mini_batch_returns_the_rows_or_the_failure_and_pings_answer_meanwhile(workdir: Path) -> None:
    async def body(handle: WorkerHandle) -> None:
        done = await handle.run_mini_batch([str(DATA / "second.csv")], timeout_s=30)
        assert done == MiniBatchDone(done.id, b"second.csv 0 60\n", 1)
        failed = await handle.run_mini_batch([str(workdir / "bad.csv")], timeout_s=30)
        assert isinstance(failed, Failure) and failed.message.endswith("ValueError: cannot score bad.csv\n")
        assert handle.inflight == 0

    with_worker(workdir, "score_csv.py", body)


def test_a_hung_run_answers_pings_then_fails_with_timeout_and_the_worker_exits(workdir: Path) -> None:
    async def body(handle: WorkerHandle) -> None:
        running = asyncio.ensure_future(handle.run_mini_batch(["hang-1"], timeout_s=1.0))
        await asyncio.to_thread(wait_for, workdir / "out" / "hang.started")
        assert await handle.ping(timeout=10)  # busy in run(), yet alive
        assert handle.inflight == 1
        answer = await running
        assert isinstance(answer, Failure) and answer.code == "timeout"
        await handle.exited.wait()
        assert handle.exit_message == "exited with status 71"

    with_worker(workdir, "behave.py", body)


def test_a_worker_that_cannot_answer_raises_timeout_error_after_the_grace(workdir: Path) -> None:
    async def body(handle: WorkerHandle) -> None:
        assert handle.pid is not None
        os.kill(handle.pid, signal.SIGSTOP)  # frozen: neither run() nor its watchdog can answer
        with pytest.raises(TimeoutError):
            await handle.run_mini_batch([str(DATA / "first.csv")], timeout_s=0.2, grace_s=0.2)
        assert handle.inflight == 1  # still held by the worker until it ends

    with_worker(workdir, "score_csv.py", body)


def test_a_worker_killed_during_run_raises_worker_lost(workdir: Path) -> None:
    async def body(handle: WorkerHandle) -> None:
        running = asyncio.ensure_future(handle.run_mini_batch(["hang-1"], timeout_s=60))
        await asyncio.to_thread(wait_for, workdir / "out" / "hang.started")
        await handle.kill()
        with pytest.raises(WorkerLost, match="was killed by SIGKILL"):
            await running
        with pytest.raises(WorkerLost, match="is not running"):
            await handle.run_mini_batch(["x"], timeout_s=1)

    with_worker(workdir, "behave.py", body)


def test_a_mini_batch_sent_behind_another_waits_in_the_worker_and_its_timeout_starts_when_that_one_ends(
    workdir: Path,
) -> None:
    async def body(handle: WorkerHandle) -> None:
        first = asyncio.ensure_future(handle.run_mini_batch(["sleep-0.8"], timeout_s=1.0, grace_s=0.1))
        # Sent at once and queued in the worker: from its send it waits 0.8 s, then runs 0.5 s, longer than its
        # own timeout plus the grace; counted from the first one's answer it is well inside them.
        second = asyncio.ensure_future(handle.run_mini_batch(["sleep-0.5"], timeout_s=1.0, grace_s=0.1, after=first))
        await asyncio.sleep(0.1)
        assert handle.inflight == 2
        one, two = await asyncio.gather(first, second)
        assert isinstance(one, MiniBatchDone) and isinstance(two, MiniBatchDone) and two.text == b"sleep-0.5\n"

    with_worker(workdir, "behave.py", body)
