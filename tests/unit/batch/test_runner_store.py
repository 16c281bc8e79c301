"""The two queue operations the runner added: claims scoped to one job, and failing a job that cannot run."""

from __future__ import annotations

from pathlib import Path

from batch_helpers import LEASE, submit

from runtime.batch.jobs import JobState, MiniBatchState
from runtime.batch.store import BatchStore


def test_a_claim_scoped_to_a_job_takes_only_that_jobs_mini_batches(tmp_path: Path) -> None:
    store = BatchStore(tmp_path / "state.db")
    older = submit(store, tmp_path / "a", 3, now=100.0)
    newer = submit(store, tmp_path / "b", 3, now=101.0)
    mb = store.claim("w0", 102.0, LEASE, job=newer)
    assert mb is not None and mb.job == newer
    assert store.job(older).state is JobState.QUEUED  # untouched: no mini-batch of it was claimed
    assert store.claim("w0", 102.0, LEASE, endpoint="ep", deployment="blue", job="nope") is None
    store.close()


def test_abort_fails_a_running_job_with_the_reason_and_lets_go_of_its_leases(tmp_path: Path) -> None:
    store = BatchStore(tmp_path / "state.db")
    name = submit(store, tmp_path, 6)
    mb = store.claim("w0", 101.0, LEASE)
    assert mb is not None
    job = store.abort(name, 102.0, "the deployment's workers could not start: init() failed")
    assert (job.state, job.error, job.ended_at) == (
        JobState.FAILED,
        "the deployment's workers could not start: init() failed",
        102.0,
    )
    assert store.mini_batch(name, mb.index).state is MiniBatchState.PENDING
    assert not store.renew(mb, 103.0, LEASE)
    assert store.abort(name, 104.0, "again").error.endswith("init() failed")  # an ended job is left as it is
    store.close()
