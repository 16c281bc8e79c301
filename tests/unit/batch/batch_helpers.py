"""Input folders and a scorer for batch queue tests."""

from __future__ import annotations

from pathlib import Path

from runtime.batch.jobs import JobSettings, MiniBatch
from runtime.batch.store import BatchStore

LEASE = 60.0


def make_inputs(folder: Path, count: int) -> list[str]:
    """`count` one-line files named f00000.txt, ... in `folder`; their paths in walk order."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        path = folder / f"f{i:05d}.txt"
        path.write_text(f"{i}\n")
        paths.append(str(path))
    return paths


def submit(store: BatchStore, root: Path, count: int, now: float = 100.0, **settings: object) -> str:
    """Submit and enumerate a job over `count` files under root/in, writing to root/out; its name."""
    inputs = root / "in"
    if not inputs.exists():
        make_inputs(inputs, count)
    defaults: dict[str, object] = {"mini_batch_size": 3}
    job = store.submit(
        endpoint="ep",
        deployment="blue",
        inputs=[inputs],
        output_folder=root / "out",
        settings=JobSettings(**{**defaults, **settings}),  # type: ignore[arg-type]
        now=now,
    )
    store.enumerate(job.name, now)
    return job.name


def lines(rows: list[tuple[object, ...]]) -> tuple[bytes, int]:
    """A worker's answer for these rows: append_row lines, fields separated by a space, and how many."""
    text = "".join(" ".join("" if v is None else str(v) for v in row) + "\n" for row in rows)
    return text.encode(), len(rows)


def rows_for(mb: MiniBatch) -> tuple[bytes, int]:
    """What a scorer answers for a mini-batch: one line per file, its name and the number inside it."""
    return lines([(Path(f).name, int(Path(f).read_text())) for f in mb.files])


def run_all(store: BatchStore, now: float, worker: str = "w0") -> int:
    """Claim and complete every claimable mini-batch; how many it completed."""
    count = 0
    while (mb := store.claim(worker, now, LEASE)) is not None:
        assert store.complete(mb, *rows_for(mb), now)
        count += 1
    return count
