"""The server's long-lived tasks in one anyio task group: one that fails ends the group, and serve with it.

The HTTP server, every supervisor's slot loops, the autoscaler, the batch runner, the sampler and the log rotation
run here for the life of `modelyard serve`. Each task is shielded from the group's own cancellation and is
cancelled alone (natively, once, as an asyncio task is) by whoever owns it: a normal stop and a failed task thus
take the same path, the controller's stop, which drains workers, gives back leased mini-batches and closes the
database in its order. The group guarantees that nothing outlives serve and that a failure is not lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import anyio
from anyio.abc import TaskGroup

log = logging.getLogger("modelyard.tasks")


class Task:
    """One long-lived task: cancel it, and wait until it has ended."""

    __slots__ = ("name", "_task", "_cancelled", "_done")

    def __init__(self, name: str) -> None:
        self.name = name
        self._task: asyncio.Task[Any] | None = None
        self._cancelled = False
        self._done = asyncio.Event()

    def cancel(self) -> None:
        """Ask the task to end; its own cleanup (finally blocks) runs to completion."""
        self._cancelled = True
        if self._task is not None:
            self._task.cancel()

    async def wait(self) -> None:
        """Return once the task has ended, however it ended."""
        await self._done.wait()

    @property
    def done(self) -> bool:
        """Whether the task has ended."""
        return self._done.is_set()


class ServiceTasks:
    """Starts long-lived tasks in the group that `group()` holds open, or on their own outside it."""

    def __init__(self) -> None:
        self._group: TaskGroup | None = None
        self._live: set[Task] = set()
        self._loose: set[asyncio.Task[None]] = set()
        #: the first task that failed while the group was open (serve exits nonzero), or None
        self.failed: Task | None = None

    @contextlib.asynccontextmanager
    async def group(self) -> AsyncIterator[None]:
        """Hold the task group open around the body; a task that fails cancels the body (and raises after it).

        The body's stop belongs in a `finally` under `anyio.CancelScope(shield=True)`, so that it runs to the end
        when a failure cancelled the body.
        """
        async with anyio.create_task_group() as group:
            self._group = group
            try:
                yield
            finally:
                self._group = None
                self.cancel_all()  # whatever the body's stop left running, so the group can close

    def start(self, name: str, fn: Callable[..., Awaitable[Any]], *args: Any) -> Task:
        """Run `fn(*args)` as a long-lived task named `name`."""
        task = Task(name)
        self._live.add(task)
        if self._group is not None:
            self._group.start_soon(self._run, task, fn, args, True, name=name)
        else:
            # A supervisor or runner used on its own (tests): the task runs beside the caller, failures logged.
            loose = asyncio.get_running_loop().create_task(self._run(task, fn, args, False), name=name)
            self._loose.add(loose)
            loose.add_done_callback(self._loose.discard)
        return task

    def cancel_all(self) -> None:
        """Cancel every task still running."""
        for task in list(self._live):
            task.cancel()

    async def _run(self, task: Task, fn: Callable[..., Awaitable[Any]], args: tuple[Any, ...], grouped: bool) -> None:
        me = asyncio.current_task()
        task._task = me
        try:
            if task._cancelled:
                return
            # Shielded from the group: a failure elsewhere ends the body, whose stop cancels this task in order.
            with anyio.CancelScope(shield=True):
                await fn(*args)
        except asyncio.CancelledError:
            if not task._cancelled or me is None:
                raise
            me.uncancel()  # the cancel its owner asked for: a normal end, not the group's concern
        except Exception as exc:
            if task._cancelled:  # it was stopping anyway; the stop goes on
                log.warning("%s failed while stopping: %s: %s", task.name, type(exc).__name__, exc)
                return
            then = "; stopping the server" if grouped else ""
            log.error("%s failed: %s: %s%s", task.name, type(exc).__name__, exc, then)
            log.debug("%s failed", task.name, exc_info=exc)  # the one ERROR line says what; this says where
            if not grouped:
                return
            if self.failed is None:
                self.failed = task
            raise
        finally:
            self._live.discard(task)
            task._done.set()
