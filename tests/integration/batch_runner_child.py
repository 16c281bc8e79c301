"""A batch runner in a child process, for the parent to SIGKILL half way through a job.

    python batch_runner_child.py ROOT

It runs the slow script's deployment on the store in ROOT (see batch_runner_helpers.Bench) until it is killed, and
writes the process ids of its workers, one a line, to ROOT/workers as they start.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from batch_runner_helpers import Bench, target


def record(root: Path, pids: set[int]) -> None:
    """Append worker process ids to ROOT/workers."""
    with open(root / "workers", "a") as f:
        f.write("".join(f"{p}\n" for p in pids))


def main(root: Path) -> None:
    bench = Bench(root, target(root / "snap", "slow.py", max_concurrency_per_instance=2))

    async def body() -> None:
        runner = bench.runner()
        task = asyncio.create_task(runner.run())
        seen: set[int] = set()
        while not task.done():
            pids = {w.pid for w in runner.workers() if w.pid is not None} - seen
            if pids:
                seen |= pids
                record(root, pids)
            await asyncio.sleep(0.02)

    asyncio.run(body())


if __name__ == "__main__":
    main(Path(sys.argv[1]))
