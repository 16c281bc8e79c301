"""A runner SIGKILLed at each dangerous moment loses and doubles nothing: a fresh store on the same file finishes
the job, and every input row is in the output file exactly once, in order."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from batch_helpers import LEASE, make_inputs, run_all

from runtime.batch.jobs import JobSettings, JobState
from runtime.batch.store import BatchStore
from runtime.errors import NotFound

ROOT = Path(__file__).resolve().parents[3]
CHILD = Path(__file__).with_name("crash_child.py")
FILES = 40
NOW = 100.0  # the child's clock


def _kill_at(db: Path, job: str, moment: str) -> None:
    """Run the child runner until it reports `moment`, then SIGKILL it."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen(
        [sys.executable, str(CHILD), str(db), job, moment], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
    )
    assert child.stdout is not None and child.stderr is not None
    line = child.stdout.readline()
    if line != b"paused\n":
        child.wait(timeout=30)
        raise AssertionError(f"the child ended before {moment}: {child.stderr.read().decode()}")
    if moment == "walk":
        # Walking the disk takes no lock on the state database: other writers (the registry) go on meanwhile.
        other = sqlite3.connect(db, timeout=0.5, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
        other.close()
    child.send_signal(signal.SIGKILL)
    assert child.wait(timeout=30) == -signal.SIGKILL
    child.stdout.close()
    child.stderr.close()


@pytest.mark.parametrize("moment", ["walk", "insert", "claim", "complete", "write", "rename"])
def test_a_runner_killed_mid_job_leaves_a_job_that_finishes_with_every_row_once(tmp_path: Path, moment: str) -> None:
    db = tmp_path / "state.db"
    make_inputs(tmp_path / "in", FILES)
    store = BatchStore(db)
    job = store.submit(
        endpoint="ep",
        deployment="blue",
        inputs=[tmp_path / "in"],
        output_folder=tmp_path / "out",
        settings=JobSettings(mini_batch_size=3),
        now=1.0,
    ).name
    store.close()

    _kill_at(db, job, moment)
    output = tmp_path / "out" / "predictions.csv"
    if moment == "write":
        assert not output.exists()  # the rows went to a temporary file: nobody sees half an output
    if moment == "rename":
        assert output.read_text().count("\n") == FILES

    fresh = BatchStore(db)
    (seen,) = fresh.unfinished()
    if moment in ("walk", "insert"):
        # Listing is one transaction: the kill left no mini-batch behind, and listing again starts over.
        assert (seen.enumerated, seen.mini_batches_total, seen.state) == (False, 0, JobState.QUEUED)
        with pytest.raises(NotFound):
            fresh.mini_batch(job, 0)
        fresh.enumerate(job, NOW)
    later = NOW + LEASE  # the killed child's leases have run out: no release needed to claim them again
    done = run_all(fresh, later, worker="w-after")
    after = fresh.job(job)
    assert (after.state, after.retries, after.files_failed) == (JobState.FINALIZING, 0, 0)
    assert after.mini_batches_done == after.mini_batches_total == 14
    if moment == "claim":
        assert done == 12  # two were completed before the kill; the third was claimed again, with no attempt
        assert fresh.mini_batch(job, 2).attempts == 0
    finished = fresh.finalize(job, later)
    assert finished.state is JobState.COMPLETED
    assert output.read_text() == "".join(f"f{i:05d}.txt {i}\n" for i in range(FILES))
    assert os.listdir(output.parent) == ["predictions.csv"]
