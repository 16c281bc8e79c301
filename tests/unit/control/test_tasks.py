"""serve's long-lived tasks: one that fails ends the group's body; each is stopped alone, its cleanup complete."""

from __future__ import annotations

import asyncio
import logging

import anyio
import pytest

from runtime.control.tasks import ServiceTasks


async def _forever(log: list[str], name: str) -> None:
    try:
        await asyncio.sleep(3600)
    finally:
        # Cleanup that awaits (a batch runner giving back its mini-batches) must not be cut short.
        await asyncio.sleep(0.01)
        log.append(f"{name} cleaned up")


async def _fails() -> None:
    await asyncio.sleep(0.01)
    raise RuntimeError("the sampler broke")


def test_a_failing_task_ends_the_body_and_the_others_stop_in_the_bodys_order(
    caplog: pytest.LogCaptureFixture,
) -> None:
    log: list[str] = []

    async def main() -> None:
        tasks = ServiceTasks()
        async with tasks.group():
            first = tasks.start("first", _forever, log, "first")
            second = tasks.start("second", _forever, log, "second")
            tasks.start("sampler", _fails)
            try:
                await asyncio.sleep(3600)
            finally:
                # What serve's stop does, shielded from the group: each task cancelled alone, in order, waited for.
                with anyio.CancelScope(shield=True):
                    second.cancel()
                    await second.wait()
                    log.append("second stopped")
                    first.cancel()
                    await first.wait()

    with caplog.at_level(logging.ERROR, "modelyard.tasks"), pytest.raises(ExceptionGroup) as info:
        asyncio.run(asyncio.wait_for(main(), 10))
    assert [type(e) for e in info.value.exceptions] == [RuntimeError]
    assert log == ["second cleaned up", "second stopped", "first cleaned up"]
    lines = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert lines == ["sampler failed: RuntimeError: the sampler broke; stopping the server"]


def test_a_normal_stop_ends_the_group_cleanly_and_remembers_no_failure() -> None:
    log: list[str] = []
    tasks = ServiceTasks()

    async def main() -> None:
        async with tasks.group():
            loop = tasks.start("loop", _forever, log, "loop")
            never = tasks.start("never", _forever, log, "never")
            never.cancel()  # cancelled before it ran: it does not run at all
            await asyncio.sleep(0.01)
            loop.cancel()
            await loop.wait()
            assert loop.done and never.done

    asyncio.run(asyncio.wait_for(main(), 10))
    assert log == ["loop cleaned up"] and tasks.failed is None


def test_tasks_left_running_by_the_body_are_cancelled_when_the_group_closes() -> None:
    log: list[str] = []

    async def main() -> None:
        tasks = ServiceTasks()
        async with tasks.group():
            tasks.start("forgotten", _forever, log, "forgotten")
            await asyncio.sleep(0.01)

    asyncio.run(asyncio.wait_for(main(), 10))
    assert log == ["forgotten cleaned up"]


def test_a_task_that_fails_while_it_is_being_stopped_does_not_fail_the_server(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def stubborn() -> None:
        try:
            await asyncio.sleep(3600)
        finally:
            raise OSError("disk gone")

    tasks = ServiceTasks()

    async def main() -> None:
        async with tasks.group():
            task = tasks.start("runner", stubborn)
            await asyncio.sleep(0.01)
            task.cancel()
            await task.wait()

    with caplog.at_level(logging.WARNING, "modelyard.tasks"):
        asyncio.run(asyncio.wait_for(main(), 10))
    assert tasks.failed is None
    assert [r.getMessage() for r in caplog.records] == ["runner failed while stopping: OSError: disk gone"]


def test_outside_a_group_a_task_runs_on_its_own_and_its_failure_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    async def main() -> None:
        tasks = ServiceTasks()
        task = tasks.start("sampler", _fails)
        await task.wait()

    with caplog.at_level(logging.ERROR, "modelyard.tasks"):
        asyncio.run(asyncio.wait_for(main(), 10))
    assert [r.getMessage() for r in caplog.records] == ["sampler failed: RuntimeError: the sampler broke"]
