"""A batch runner in a child process that stops dead at a chosen moment, for the parent to SIGKILL.

    python crash_child.py STATE_DB JOB MOMENT

It runs the job the way the runner will (enumerate, claim, complete, finalize) and, at MOMENT, writes `paused` on
stdout and sleeps until it is killed. Moments: walk and insert (inside enumeration's transaction: while the files
are listed, and while mini-batches are written), claim (holding a claimed mini-batch, two others completed),
complete (inside complete's transaction, after the rows were written), write (the output's temporary file written,
not yet synced or renamed), rename (the file renamed, the job not yet marked Completed).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from batch_helpers import LEASE, rows_for

import runtime.batch.files as files_module
import runtime.batch.store as store_module
from runtime.batch.store import BatchStore

NOW = 100.0
T = TypeVar("T")


def pause() -> None:
    sys.stdout.write("paused\n")
    sys.stdout.flush()
    while True:
        time.sleep(60)


def after(count: int, items: Callable[..., Iterator[T]]) -> Callable[..., Iterator[T]]:
    """`items`, pausing once `count` of its items were taken."""

    def wrapped(*args: Any) -> Iterator[T]:
        for n, item in enumerate(items(*args), 1):
            yield item
            if n == count:
                pause()

    return wrapped


def on_call(count: int, fn: Callable[..., T], *, before: bool) -> Callable[..., T]:
    """`fn`, pausing at its `count`-th call, before or after calling it."""
    calls = [0]

    def wrapped(*args: Any) -> T:
        calls[0] += 1
        if before and calls[0] == count:
            pause()
        result = fn(*args)
        if calls[0] == count:
            pause()
        return result

    return wrapped


def main(db: str, job: str, moment: str) -> None:
    if moment == "walk":
        files_module.walk_inputs = after(20, files_module.walk_inputs)  # type: ignore[assignment]
    elif moment == "insert":
        files_module.chunks = after(5, files_module.chunks)  # type: ignore[assignment]
    elif moment == "complete":
        store_module.successes = on_call(3, store_module.successes, before=False)
    elif moment == "write":
        os.fsync = on_call(1, os.fsync, before=True)
    elif moment == "rename":
        os.replace = on_call(1, os.replace, before=False)
    store = BatchStore(Path(db))
    store.enumerate(job, NOW)
    claims = 0
    while (mb := store.claim("child", NOW, LEASE)) is not None:
        claims += 1
        if moment == "claim" and claims == 3:
            pause()
        store.complete(mb, *rows_for(mb), NOW)
    store.finalize(job, NOW)
    raise SystemExit(f"moment {moment!r} was never reached")


if __name__ == "__main__":
    main(*sys.argv[1:])
