"""The durable batch queue on a real SQLite state database: submission, claims and leases, outcomes, finalize."""

from __future__ import annotations

import os
import shutil
import time
import tracemalloc
from pathlib import Path

import pytest
from batch_helpers import LEASE, lines, make_inputs, rows_for, run_all, submit

from runtime.batch.jobs import JobSettings, JobState, MiniBatchState, Priority
from runtime.batch.store import BatchStore
from runtime.control.registry import Registry
from runtime.errors import Conflict, NotFound, SpecError
from runtime.spec import OutputAction


@pytest.fixture
def store(tmp_path: Path) -> BatchStore:
    return BatchStore(tmp_path / "state.db")


def test_a_job_is_split_into_mini_batches_in_sorted_order_and_survives_a_reopen(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    registry = Registry(db)  # the same file as the online state: each keeps its own tables
    store = BatchStore(db)
    paths = make_inputs(tmp_path / "in", 7)
    name = submit(store, tmp_path, 7)
    store.close()

    again = BatchStore(db)
    job = again.job(name)
    assert name.startswith("batchjob-")
    assert (job.state, job.enumerated, job.files_total, job.mini_batches_total) == (JobState.QUEUED, True, 7, 3)
    assert (job.endpoint, job.deployment, job.inputs) == ("ep", "blue", (str(tmp_path / "in"),))
    assert [again.mini_batch(name, i).files for i in range(3)] == [tuple(paths[0:3]), tuple(paths[3:6]), (paths[6],)]
    assert again.enumerate(name, 101.0) == job  # listed already: nothing changes
    assert registry.endpoints() == []
    with pytest.raises(NotFound, match=r"^job 'nope' not found$"):
        again.job("nope")


def test_claims_go_to_normal_priority_first_then_the_oldest_job_then_the_lowest_index(
    tmp_path: Path, store: BatchStore
) -> None:
    low = submit(store, tmp_path / "a", 2, now=1.0, mini_batch_size=1, priority=Priority.LOW)
    old = submit(store, tmp_path / "b", 2, now=2.0, mini_batch_size=1)
    new = submit(store, tmp_path / "c", 1, now=3.0, mini_batch_size=1)
    order = []
    while (mb := store.claim("w", 10.0, LEASE)) is not None:
        order.append((mb.job, mb.index))
    assert order == [(old, 0), (old, 1), (new, 0), (low, 0), (low, 1)]
    started = store.job(old)
    assert (started.state, started.started_at) == (JobState.RUNNING, 10.0)


def test_a_claim_can_be_limited_to_one_deployment(tmp_path: Path, store: BatchStore) -> None:
    name = submit(store, tmp_path, 1)
    assert store.claim("w", 1.0, LEASE, endpoint="ep", deployment="green") is None
    assert store.claim("w", 1.0, LEASE, endpoint="other") is None
    mb = store.claim("w", 1.0, LEASE, endpoint="ep", deployment="blue")
    assert mb is not None and mb.job == name


def test_an_expired_lease_is_claimable_again_without_counting_an_attempt(tmp_path: Path, store: BatchStore) -> None:
    name = submit(store, tmp_path, 3, mini_batch_size=3)
    first = store.claim("dead", 100.0, 10.0)
    assert first is not None and (first.worker, first.lease_until, first.state) == ("dead", 110.0, "Leased")
    assert store.claim("w2", 109.9, 10.0) is None  # still held
    assert store.renew(first, 109.0, 10.0)
    assert store.claim("w2", 118.9, 10.0) is None  # renewed to 119
    second = store.claim("w2", 119.0, 10.0)
    assert second is not None and (second.index, second.worker, second.attempts) == (0, "w2", 0)
    assert second.claim == first.claim + 1
    # The first holder's lease is gone: its renew and failure change nothing.
    assert not store.renew(first, 119.5, 10.0)
    assert store.fail(first, "late failure", 119.5) is None
    assert store.mini_batch(name, 0).attempts == 0 and store.job(name).retries == 0
    assert store.complete(second, *rows_for(second), 120.0)


def test_a_requeued_mini_batch_counts_no_attempt_and_goes_to_the_next_claim(tmp_path: Path, store: BatchStore) -> None:
    name = submit(store, tmp_path, 2, mini_batch_size=1)
    mb = store.claim("w", 1.0, LEASE)
    assert mb is not None and store.requeue(mb, 2.0)
    assert not store.requeue(mb, 2.0)
    again = store.claim("w", 3.0, LEASE)
    assert again is not None and (again.index, again.attempts) == (0, 0)
    assert store.job(name).retries == 0


def test_failures_are_retried_max_retries_times_then_the_mini_batch_fails(tmp_path: Path, store: BatchStore) -> None:
    name = submit(store, tmp_path, 4, mini_batch_size=2, max_retries=2)
    outcomes = []
    for attempt in range(3):
        mb = store.claim("w", 1.0, LEASE)
        assert mb is not None and mb.index == 0 and mb.attempts == attempt
        outcomes.append(store.fail(mb, f"ValueError: attempt {attempt}", 1.0))
    assert outcomes == [MiniBatchState.PENDING, MiniBatchState.PENDING, MiniBatchState.FAILED]
    failed = store.mini_batch(name, 0)
    assert (failed.state, failed.attempts, failed.error) == ("Failed", 3, "ValueError: attempt 2")
    job = store.job(name)
    assert (job.state, job.retries, job.files_failed, job.mini_batches_failed) == (JobState.RUNNING, 2, 2, 1)
    assert run_all(store, 2.0) == 1  # error_threshold -1: the job goes on
    job = store.job(name)
    assert (job.state, job.files_done, job.files_failed, job.mini_batches_done) == (JobState.FINALIZING, 2, 2, 1)


def test_past_the_error_threshold_the_job_fails_naming_the_failed_files(tmp_path: Path, store: BatchStore) -> None:
    paths = make_inputs(tmp_path / "in", 6)
    name = submit(store, tmp_path, 6, mini_batch_size=2, max_retries=0, error_threshold=3)
    held = store.claim("w1", 1.0, LEASE)
    assert held is not None and held.index == 0
    for _ in range(2):
        mb = store.claim("w2", 1.0, LEASE)
        assert mb is not None
        store.fail(mb, "boom", 2.0)
    job = store.job(name)
    assert (job.state, job.files_failed, job.ended_at) == (JobState.FAILED, 4, 2.0)
    assert job.error == (
        "The number of failed items (4) exceeded error_threshold (3). "
        f"Failed files: {paths[2]}, {paths[3]}, {paths[4]}, {paths[5]}"
    )
    # The mini-batch still out when the job failed is answered late: that changes nothing.
    assert not store.complete(held, *rows_for(held), 3.0)
    assert store.claim("w3", 3.0, LEASE) is None
    assert store.job(name) == job


def test_completing_twice_stores_the_rows_once(tmp_path: Path, store: BatchStore) -> None:
    name = submit(store, tmp_path, 3, mini_batch_size=3)
    first = store.claim("slow", 1.0, 5.0)
    assert first is not None
    second = store.claim("fast", 7.0, 5.0)  # the slow worker's lease ran out
    assert second is not None
    assert store.complete(second, *rows_for(second), 8.0)
    assert not store.complete(first, *rows_for(first), 9.0)  # the slow worker's late answer
    assert not store.complete(second, *rows_for(second), 9.0)  # a duplicate of the winning answer
    job = store.finalize(name, 10.0)
    assert job.state is JobState.COMPLETED
    assert (tmp_path / "out" / "predictions.csv").read_text() == "f00000.txt 0\nf00001.txt 1\nf00002.txt 2\n"


def test_a_late_answer_under_a_lost_lease_still_counts_once(tmp_path: Path, store: BatchStore) -> None:
    name = submit(store, tmp_path, 1)
    lost = store.claim("slow", 1.0, 5.0)
    holder = store.claim("fast", 7.0, 5.0)
    assert lost is not None and holder is not None
    assert store.complete(lost, *rows_for(lost), 8.0)
    assert not store.complete(holder, *rows_for(holder), 8.5)
    assert store.fail(holder, "too late", 8.6) is None
    assert store.job(name).mini_batches_done == 1


def test_files_run_gave_no_row_for_count_as_failed(tmp_path: Path, store: BatchStore) -> None:
    name = submit(store, tmp_path, 6, mini_batch_size=3, error_threshold=1)
    mb = store.claim("w", 1.0, LEASE)
    assert mb is not None
    assert store.complete(mb, *lines([(Path(f).name,) for f in mb.files[:2]]), 1.0)  # one file short
    assert (store.job(name).files_done, store.job(name).files_failed) == (2, 1)
    mb = store.claim("w", 1.0, LEASE)
    assert mb is not None
    assert store.complete(mb, *lines([("many",)] * 5), 1.0)  # more rows than files: every file succeeded
    job = store.job(name)
    assert (job.state, job.files_done, job.files_failed) == (JobState.FINALIZING, 5, 1)


def test_the_output_file_has_every_row_in_mini_batch_order_and_finalize_can_be_redone(
    tmp_path: Path, store: BatchStore
) -> None:
    name = submit(store, tmp_path, 5, mini_batch_size=2, output_file_name="scores.txt")
    claimed = [store.claim("w", 1.0, LEASE) for _ in range(3)]
    for mb in reversed(claimed):  # answers arrive out of order
        assert mb is not None
        store.complete(mb, *lines([(Path(f).name, "x", None, 0.5) for f in mb.files]), 2.0)
    assert store.job(name).state is JobState.FINALIZING
    out = tmp_path / "out"
    expected = "".join(f"f{i:05d}.txt x  0.5\n" for i in range(5))
    job = store.finalize(name, 3.0)
    assert (job.state, job.ended_at, job.error) == (JobState.COMPLETED, 3.0, "")
    assert (out / "scores.txt").read_text() == expected
    assert sorted(os.listdir(out)) == ["scores.txt"]  # no temporary file left
    assert store.finalize(name, 4.0) == job  # redone: nothing changes
    assert (out / "scores.txt").read_text() == expected


def test_summary_only_writes_no_file(tmp_path: Path, store: BatchStore) -> None:
    name = submit(store, tmp_path, 2, output_action=OutputAction.SUMMARY_ONLY)
    assert run_all(store, 1.0) == 1
    assert store.finalize(name, 2.0).state is JobState.COMPLETED
    assert not (tmp_path / "out" / "predictions.csv").exists()


def test_a_job_where_nothing_succeeded_fails_with_azures_message(tmp_path: Path, store: BatchStore) -> None:
    name = submit(store, tmp_path, 2, mini_batch_size=1, max_retries=0)
    first = store.claim("w", 1.0, LEASE)
    second = store.claim("w", 1.0, LEASE)
    assert first is not None and second is not None
    store.fail(first, "boom", 2.0)
    store.complete(second, b"", 0, 2.0)  # returned nothing for its file
    job = store.job(name)
    assert (job.state, job.error, job.ended_at) == (
        JobState.FAILED,
        "No succeeded mini batch item returned from run()",
        2.0,
    )
    with pytest.raises(Conflict, match=r"is Failed; only a Finalizing job is finalized"):
        store.finalize(name, 3.0)


def test_a_job_whose_output_file_exists_is_refused_at_submission(tmp_path: Path, store: BatchStore) -> None:
    make_inputs(tmp_path / "in", 1)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "predictions.csv").write_text("old\n")
    with pytest.raises(Conflict, match=r"predictions.csv exists already, and a batch job does not overwrite it"):
        store.submit(
            endpoint="ep",
            deployment="blue",
            inputs=[tmp_path / "in"],
            output_folder=tmp_path / "out",
            settings=JobSettings(),
            now=1.0,
        )
    assert store.jobs() == []
    # summary_only writes no file, so the name does not matter
    store.submit(
        endpoint="ep",
        deployment="blue",
        inputs=[tmp_path / "in"],
        output_folder=tmp_path / "out",
        settings=JobSettings(output_action=OutputAction.SUMMARY_ONLY),
        now=1.0,
    )


def test_two_unfinished_jobs_cannot_write_the_same_output_file(tmp_path: Path, store: BatchStore) -> None:
    first = submit(store, tmp_path, 1)
    with pytest.raises(Conflict, match=rf"is the output of job '{first}', which has not finished"):
        submit(store, tmp_path, 1)
    other = submit(store, tmp_path, 1, output_file_name="other.csv")
    assert [j.name for j in store.jobs()] == [first, other]


def test_bad_submissions_are_refused_saying_what_is_wrong(tmp_path: Path, store: BatchStore) -> None:
    make_inputs(tmp_path / "in", 1)
    (tmp_path / "file").write_text("")

    def go(**kw: object) -> None:
        args: dict[str, object] = {
            "endpoint": "ep",
            "deployment": "blue",
            "inputs": [tmp_path / "in"],
            "output_folder": tmp_path / "out",
            "settings": JobSettings(),
            "now": 1.0,
            **kw,
        }
        store.submit(**args)  # type: ignore[arg-type]

    with pytest.raises(SpecError, match=rf"^input {tmp_path}/missing does not exist"):
        go(inputs=[tmp_path / "missing"])
    with pytest.raises(SpecError, match="a batch job needs an input"):
        go(inputs=[])
    with pytest.raises(SpecError, match=rf"^output folder {tmp_path}/file is a file"):
        go(output_folder=tmp_path / "file")
    with pytest.raises(SpecError, match="mini_batch_size is 0"):
        go(settings=JobSettings(mini_batch_size=0))
    with pytest.raises(SpecError, match="job name 'a b' is not allowed"):
        go(name="a b")
    assert store.jobs() == []
    go(name="mine")
    with pytest.raises(Conflict, match=r"^job 'mine' exists already"):
        go(name="mine", settings=JobSettings(output_file_name="x.csv"))


def test_an_input_with_no_files_fails_the_job_at_enumeration(tmp_path: Path, store: BatchStore) -> None:
    (tmp_path / "in" / "empty").mkdir(parents=True)
    name = submit(store, tmp_path, 0)
    job = store.job(name)
    assert (job.state, job.enumerated) == (JobState.FAILED, False)
    assert job.error == f"the input holds no files: {tmp_path}/in"
    assert store.unfinished() == []


def test_an_input_gone_before_it_was_listed_fails_the_job_naming_it(tmp_path: Path, store: BatchStore) -> None:
    for gone in ("folder", "file"):
        path = tmp_path / gone
        if gone == "folder":
            make_inputs(path, 2)
        else:
            path.write_text("x")
        job = store.submit(
            endpoint="ep",
            deployment="blue",
            inputs=[path],
            output_folder=tmp_path / f"out-{gone}",
            settings=JobSettings(),
            now=1,
        )
        if gone == "folder":
            shutil.rmtree(path)
        else:
            path.unlink()
        listed = store.enumerate(job.name, 2.0)
        assert (listed.state, listed.enumerated, listed.ended_at) == (JobState.FAILED, False, 2.0)
        assert listed.error == f"cannot list the input: No such file or directory ({path})"


def test_one_file_is_an_input_too(tmp_path: Path, store: BatchStore) -> None:
    (path,) = make_inputs(tmp_path / "data", 1)
    job = store.submit(
        endpoint="ep", deployment="blue", inputs=[path], output_folder=tmp_path / "out", settings=JobSettings(), now=1
    )
    assert store.enumerate(job.name, 1.0).files_total == 1
    assert store.mini_batch(job.name, 0).files == (path,)


def test_cancel_waits_for_held_leases_and_keeps_finished_mini_batches(tmp_path: Path, store: BatchStore) -> None:
    name = submit(store, tmp_path, 9)
    done = store.claim("w1", 1.0, LEASE)
    held = store.claim("w2", 1.0, LEASE)
    dead = store.claim("w3", 1.0, 5.0)
    assert done is not None and held is not None and dead is not None
    store.complete(done, *rows_for(done), 2.0)
    job = store.cancel(name, 3.0)
    assert job.state is JobState.CANCEL_REQUESTED
    assert store.claim("w4", 3.0, LEASE) is None
    assert not store.renew(held, 3.0, LEASE)  # tells the holder to stop
    assert store.cancel(name, 3.5).state is JobState.CANCEL_REQUESTED  # asked again: the same
    assert store.complete(held, *rows_for(held), 4.0)  # a finished answer is kept
    assert store.job(name).state is JobState.CANCEL_REQUESTED  # w3's lease is still live until 6.0
    store.sweep(6.0)
    job = store.job(name)
    assert (job.state, job.ended_at, job.mini_batches_done) == (JobState.CANCELED, 6.0, 2)
    assert store.fail(dead, "killed", 7.0) is None
    with pytest.raises(Conflict, match=r"is Canceled; only a Finalizing job is finalized"):
        store.finalize(name, 7.0)


def test_a_queued_job_is_canceled_at_once_and_a_finished_one_cannot_be(tmp_path: Path, store: BatchStore) -> None:
    queued = submit(store, tmp_path / "a", 2)
    job = store.cancel(queued, 5.0)
    assert (job.state, job.ended_at) == (JobState.CANCELED, 5.0)
    done = submit(store, tmp_path / "b", 1)
    run_all(store, 6.0)
    store.finalize(done, 6.0)
    with pytest.raises(Conflict, match=rf"^job '{done}' is Completed; only a Queued or Running job can be canceled$"):
        store.cancel(done, 7.0)


def test_after_a_restart_unfinished_jobs_are_listed_and_every_lease_can_be_released(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    store = BatchStore(db)
    running = submit(store, tmp_path / "a", 4, now=1.0)
    finished = submit(store, tmp_path / "b", 1, now=2.0)
    unlisted = store.submit(
        endpoint="ep",
        deployment="blue",
        inputs=[tmp_path / "a" / "in"],
        output_folder=tmp_path / "c",
        settings=JobSettings(),
        now=3.0,
    ).name
    assert store.claim("w", 10.0, 1000.0) is not None
    while (mb := store.claim("w", 10.0, 1000.0)) is not None:
        if mb.job == finished:
            store.complete(mb, *rows_for(mb), 10.0)
    store.finalize(finished, 11.0)
    canceling = submit(store, tmp_path / "d", 1, now=4.0)
    assert store.claim("w", 12.0, 1000.0) is not None
    store.cancel(canceling, 12.0)
    store.close()

    again = BatchStore(db)
    assert [(j.name, j.state, j.enumerated) for j in again.unfinished()] == [
        (running, JobState.RUNNING, True),
        (unlisted, JobState.QUEUED, False),
        (canceling, JobState.CANCEL_REQUESTED, True),
    ]
    assert again.claim("w", 13.0, LEASE) is None  # every lease is the dead server's, still live by the clock
    assert again.release_all(13.0) == 3
    assert again.job(canceling).state is JobState.CANCELED
    mb = again.claim("w", 13.0, LEASE)
    assert mb is not None and (mb.job, mb.index, mb.attempts) == (running, 0, 0)


def test_usage_is_added_up(tmp_path: Path, store: BatchStore) -> None:
    name = submit(store, tmp_path, 1)
    store.add_usage(name, 1.5, 0.25)
    store.add_usage(name, 2.0)
    job = store.job(name)
    assert (job.core_seconds, job.gpu_seconds) == (3.5, 0.25)


def test_30k_files_are_enumerated_in_seconds_with_flat_memory(tmp_path: Path, store: BatchStore) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    # Enough that holding their names (about 70 bytes each as str objects in a list) would pass the 1 MiB bound
    # below twice over; a hundred thousand took seconds to make and told no more.
    for i in range(30_000):
        os.mknod(f"{folder}/{i:06d}.txt")  # empty: four times faster to make than files holding a byte
    job = store.submit(
        endpoint="ep",
        deployment="blue",
        inputs=[folder],
        output_folder=tmp_path / "out",
        settings=JobSettings(),
        now=1.0,
    )
    tracemalloc.start()
    started = time.perf_counter()
    listed = store.enumerate(job.name, 1.0)
    took = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert (listed.files_total, listed.mini_batches_total) == (30_000, 3_000)
    assert store.mini_batch(job.name, 2_999).files[-1] == str(folder / "029999.txt")
    # The brief's bound for the whole test is ~15 s on a shared 2-core machine; enumeration alone is far under it.
    assert took < 10, f"enumerating 30k files took {took:.1f} s"
    # Neither the names nor the mini-batches are held: SQLite sorts them, outside this process's heap.
    assert peak < 2**20, f"enumeration peaked at {peak / 2**20:.1f} MiB"
