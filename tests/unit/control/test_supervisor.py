"""DeploymentSupervisor with fake worker handles: first-start outcome, replacement with backoff, scale-in, stop."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from runtime.control.allocator import Allocation
from runtime.control.plan import WorkerPlan
from runtime.control.restarts import Backoff
from runtime.control.supervisor import DeploymentSupervisor
from runtime.errors import WorkerStartError
from runtime.ipc.messages import Ready
from runtime.spec import load_deployment


class FakeHandle:
    """Follows what the supervisor uses of WorkerHandle; no process. `start` fails when given a message."""

    def __init__(self, name: str, pid: int, fail: str | None = None) -> None:
        self.name = name
        self.pid = pid
        self.fail = fail
        self.exited = asyncio.Event()
        self.exit_message = ""
        self.started_at = 0.0
        self.inflight = 0
        self.last_answer: float | None = None
        self.stopped_with: float | None = None
        self.model_stats: tuple[object, ...] = ()

    @property
    def alive(self) -> bool:
        return self.fail is None and not self.exited.is_set()

    async def start(self, timeout: float) -> Ready:
        await asyncio.sleep(0)
        if self.fail is not None:
            raise WorkerStartError(self.fail)
        self.started_at = asyncio.get_running_loop().time()
        return Ready(pid=self.pid, mode="string")

    async def ping(self, timeout: float) -> bool:
        return self.alive

    def die(self, how: str) -> None:
        self.exit_message = how
        self.exited.set()

    async def kill(self) -> None:
        self.die("was killed by SIGKILL")

    async def stop(self, grace: float = 5.0) -> None:
        self.stopped_with = grace
        self.die("exited with status 0")


class Rig:
    """A supervisor whose n-th new worker fails to start with outcomes[n] (None, or past the list: it starts)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, outcomes: list[str | None], instances: int = 1) -> None:
        text = f"name: blue\nendpoint_name: digits\ninstance_type: cpu1\ninstance_count: {instances}\n"
        plan = WorkerPlan(
            kind="script", app_root=None, entry_script=None, model_dir=None, model_repository=None, env={}
        )
        self.sup = DeploymentSupervisor(
            name="blue",
            plan=plan,
            spec=load_deployment(text, source="d.yml").spec,
            allocations=tuple(Allocation(cores=(i,)) for i in range(instances)),
            notes=(),
            socket_dir=Path("/nonexistent"),
            log_dir=Path("/nonexistent"),
            on_change=self._changed,
        )
        self.outcomes = outcomes
        self.made: list[FakeHandle] = []
        self.ready_counts: list[int] = []  #: len(ready_workers) at each change the router was told of
        self._change = asyncio.Event()
        monkeypatch.setattr(self.sup, "_new_handle", self._new_handle)

    def _changed(self) -> None:
        self.ready_counts.append(len(self.sup.ready_workers))
        self._change.set()

    def _new_handle(self, slot: object) -> FakeHandle:
        n = len(self.made)
        handle = FakeHandle(f"blue-{n}", 1000 + n, self.outcomes[n] if n < len(self.outcomes) else None)
        self.made.append(handle)
        return handle

    async def until(self, check: Callable[[], bool]) -> None:
        """Return once `check()` holds, looking again whenever the supervisor tells the router of a change."""
        while not check():
            self._change.clear()
            await self._change.wait()


def run(body: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(body(), 10))


def test_a_first_start_failure_is_the_deployments_error_and_is_not_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    rig = Rig(monkeypatch, ["init() raised KeyError: 'MODEL'"])
    sup = rig.sup

    async def body() -> None:
        assert await sup.start() == "init() raised KeyError: 'MODEL'"
        await asyncio.sleep(0.1)  # longer than the first backoff: nothing is retried
        assert len(rig.made) == 1
        [info] = sup.workers()
        assert info.state == "Failed" and info.last_exit == "init() raised KeyError: 'MODEL'"
        assert sup.ready_workers == []
        await sup.stop()

    run(body)


def test_a_worker_that_exits_is_replaced_and_the_restart_is_counted(monkeypatch: pytest.MonkeyPatch) -> None:
    rig = Rig(monkeypatch, [])
    sup = rig.sup

    async def body() -> None:
        assert await sup.start() is None
        first = rig.made[0]
        assert sup.ready_workers == [first]
        first.die("was killed by SIGKILL")
        await rig.until(lambda: len(rig.made) == 2 and sup.ready_workers == [rig.made[1]])
        [info] = sup.workers()
        assert (info.state, info.restarts, info.last_exit, info.pid) == ("Ready", 1, "was killed by SIGKILL", 1001)
        assert 0 in rig.ready_counts  # the router heard when the dead worker left rotation
        await sup.stop()

    run(body)


def test_failed_restarts_wait_by_the_backoff_policy_until_one_succeeds(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    rig = Rig(monkeypatch, [None, "no room on disk", "no room on disk", "no room on disk"])
    sup = rig.sup

    async def body() -> None:
        assert await sup.start() is None
        rig.made[0].die("exited with status 3")
        await rig.until(lambda: len(rig.made) == 5 and sup.ready_workers == [rig.made[4]])
        [info] = sup.workers()
        assert info.state == "Ready" and info.restarts == 4
        await sup.stop()

    with caplog.at_level(logging.WARNING, "modelyard.supervisor"):
        run(body)
    waits = [r.args[-1] for r in caplog.records if "restart failed" in r.msg]  # type: ignore[index]
    # A worker that exits at once counts as a failure, so the failed restarts after it wait longer each time.
    _, backoff = Backoff().exited(started_at=0.0, now=0.0)
    expected = []
    for _ in range(3):
        wait, backoff = backoff.failed()
        expected.append(wait)
    assert waits == expected and expected == sorted(expected) and expected[0] < expected[-1]


def test_scale_in_drains_the_instances_past_the_count_and_keeps_the_rest(monkeypatch: pytest.MonkeyPatch) -> None:
    rig = Rig(monkeypatch, [], instances=3)
    sup = rig.sup

    async def body() -> None:
        assert await sup.start() is None
        assert len(sup.ready_workers) == 3
        await sup.scale_in(1, grace=2.0)
        kept, *gone = rig.made
        assert sup.ready_workers == [kept] and sup.instance_count == 1
        assert [h.stopped_with for h in gone] == [2.0, 2.0] and kept.stopped_with is None
        assert [w.instance for w in sup.workers()] == [0]
        await asyncio.sleep(0.1)  # the drained workers' exits are not restarts
        assert len(rig.made) == 3
        await sup.stop()

    run(body)


def test_stop_stops_every_worker_and_none_is_replaced(monkeypatch: pytest.MonkeyPatch) -> None:
    rig = Rig(monkeypatch, [], instances=2)
    sup = rig.sup

    async def body() -> None:
        assert await sup.start() is None
        await sup.stop(grace=1.5)
        assert [h.stopped_with for h in rig.made] == [1.5, 1.5]
        assert sup.ready_workers == [] and {w.state for w in sup.workers()} == {"Stopped"}
        await asyncio.sleep(0.1)
        assert len(rig.made) == 2

    run(body)


def test_restart_worker_kills_the_named_one_and_it_comes_back(monkeypatch: pytest.MonkeyPatch) -> None:
    rig = Rig(monkeypatch, [])
    sup = rig.sup

    async def body() -> None:
        assert await sup.start() is None
        assert await sup.restart_worker(0) == 1000
        await rig.until(lambda: len(rig.made) == 2 and sup.ready_workers == [rig.made[1]])
        assert sup.workers()[0].last_exit == "was killed by SIGKILL"
        with pytest.raises(Exception, match="no worker instance=4"):
            await sup.restart_worker(4)
        await sup.stop()

    run(body)
