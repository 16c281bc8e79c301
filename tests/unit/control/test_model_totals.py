"""A Triton deployment's per-model counts in the status snapshot: the sum over its workers."""

from __future__ import annotations

import os
from pathlib import Path

import msgspec
from test_monitor import Clock, monitor, online, worker

from runtime.status import ModelStatus, Status


def counts(success: int, inferences: int, sizes: dict[int, int], version: str = "1") -> ModelStatus:
    return ModelStatus(
        model="digits",
        version=version,
        success=success,
        failure=1,
        inferences=inferences,
        executions=sum(sizes.values()),
        batch_sizes=sizes,
        max_batch_size=8,
    )


def test_the_snapshot_sums_each_model_versions_counts_over_the_workers(tmp_path: Path) -> None:
    mon = monitor(tmp_path / "state.db", Clock())
    first = msgspec.structs.replace(worker(os.getpid()), models=(counts(3, 9, {4: 1, 5: 1}),))
    second = msgspec.structs.replace(
        worker(os.getpid()), process=1, models=(counts(2, 5, {1: 1, 4: 1}), counts(1, 1, {1: 1}, version="2"))
    )
    status = mon.snapshot([], [online((first, second))], [])
    (dep,) = status.deployments
    one, two = dep.models
    assert (one.version, one.success, one.failure, one.inferences, one.executions) == ("1", 5, 2, 14, 4)
    assert one.batch_sizes == {1: 1, 4: 2, 5: 1} and one.max_batch_size == 8
    assert (two.version, two.success) == ("2", 1)
    # The dashboard and clients decode the snapshot's JSON with the status Structs alone.
    assert msgspec.json.decode(msgspec.json.encode(status), type=Status) == status
    mon.close()
