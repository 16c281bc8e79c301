"""The batch queue's pure decisions: retries, the error threshold, settling, cancel, output lines, the walk."""

from pathlib import Path

import msgspec
import pytest

from runtime.batch.files import walk_inputs
from runtime.batch.jobs import (
    NOTHING_SUCCEEDED,
    Job,
    JobSettings,
    JobState,
    after_cancel_request,
    check_job_name,
    check_settings,
    chunks,
    gives_up,
    new_job_name,
    settled_state,
    successes,
    threshold_exceeded,
    threshold_message,
)
from runtime.errors import Conflict, SpecError


def _job(**kw: object) -> Job:
    base = Job(
        name="j",
        endpoint="e",
        deployment="d",
        inputs=("/in",),
        output_folder="/out",
        settings=JobSettings(),
        state=JobState.RUNNING,
        enumerated=True,
        created_at=0.0,
    )
    return msgspec.structs.replace(base, **kw)


def test_a_mini_batch_is_tried_max_retries_times_after_its_first_attempt() -> None:
    assert [gives_up(n, 3) for n in (1, 2, 3, 4)] == [False, False, False, True]
    assert gives_up(1, 0)


def test_the_threshold_is_passed_only_above_it_and_minus_one_ignores_every_failure() -> None:
    assert not threshold_exceeded(5, 5)
    assert threshold_exceeded(6, 5)
    assert threshold_exceeded(1, 0)
    assert not threshold_exceeded(0, 0)
    assert not threshold_exceeded(10**9, -1)


def test_the_threshold_message_names_the_failed_files_and_how_many_it_left_out() -> None:
    assert threshold_message(2, 1, ["/a", "/b"]) == (
        "The number of failed items (2) exceeded error_threshold (1). Failed files: /a, /b"
    )
    many = [f"/f{i}" for i in range(12)]
    assert threshold_message(12, 0, many).endswith("/f8, /f9 and 2 more")


def test_a_job_settles_once_every_mini_batch_is_done_or_failed() -> None:
    assert settled_state(_job(mini_batches_total=3, mini_batches_done=1, mini_batches_failed=1, files_done=5)) is None
    done = _job(mini_batches_total=3, mini_batches_done=2, mini_batches_failed=1, files_done=5)
    assert settled_state(done) == (JobState.FINALIZING, "")
    nothing = _job(mini_batches_total=2, mini_batches_done=1, mini_batches_failed=1, files_done=0)
    assert settled_state(nothing) == (JobState.FAILED, NOTHING_SUCCEEDED)
    assert NOTHING_SUCCEEDED == "No succeeded mini batch item returned from run()"


def test_fewer_rows_than_files_count_the_shortfall_as_failed() -> None:
    assert successes(10, 10) == 10
    assert successes(10, 7) == 7
    assert successes(2, 9) == 2
    assert successes(3, 0) == 0


def test_cancel_is_requested_from_queued_or_running_and_refused_once_the_run_is_over() -> None:
    assert after_cancel_request(_job(state=JobState.QUEUED)) is JobState.CANCEL_REQUESTED
    assert after_cancel_request(_job(state=JobState.RUNNING)) is JobState.CANCEL_REQUESTED
    assert after_cancel_request(_job(state=JobState.CANCEL_REQUESTED)) is JobState.CANCEL_REQUESTED
    assert after_cancel_request(_job(state=JobState.CANCELED)) is JobState.CANCELED
    for state in (JobState.FINALIZING, JobState.COMPLETED, JobState.FAILED):
        with pytest.raises(Conflict, match=rf"^job 'j' is {state}; only a Queued or Running job can be canceled$"):
            after_cancel_request(_job(state=state))


def test_settings_out_of_range_are_refused_naming_the_setting_and_what_is_allowed() -> None:
    check_settings(JobSettings())
    check_settings(JobSettings(error_threshold=0, max_retries=0, mini_batch_size=1))
    bad = {
        "mini_batch_size": (0, "mini_batch_size is 0; it must be 1 or more"),
        "max_retries": (-1, "max_retries is -1; it must be 0 or more"),
        "timeout_s": (0.0, "timeout is 0.0; it must be more than 0 seconds"),
        "error_threshold": (-2, r"error_threshold is -2; it must be -1 \(ignore all failures\) or 0 or more"),
        "output_file_name": ("a/b.csv", "output_file_name 'a/b.csv' must be a plain file name"),
    }
    for field, (value, message) in bad.items():
        with pytest.raises(SpecError, match=message):
            check_settings(JobSettings(**{field: value}))  # type: ignore[arg-type]
    for name in ("", ".", ".."):
        with pytest.raises(SpecError, match="must be a plain file name"):
            check_settings(JobSettings(output_file_name=name))


def test_job_names_are_generated_in_azures_form_and_chosen_ones_are_checked() -> None:
    name = new_job_name()
    assert name.startswith("batchjob-") and len(name) == len("batchjob-") + 36
    check_job_name(name)
    check_job_name("my_job-1")
    for bad in ("", "-x", "a b", "a/b", "x" * 256):
        with pytest.raises(SpecError, match="is not allowed: use 1-255 letters, digits"):
            check_job_name(bad)


def test_the_walk_sorts_depth_first_by_name_inputs_in_turn_and_skips_directory_links(tmp_path: Path) -> None:
    for rel in ("b.txt", "a/z.txt", "a/c/d.txt", "a-b.txt", "B.txt"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(rel)
    (tmp_path / "loop").symlink_to(tmp_path)
    (tmp_path / "link.txt").symlink_to(tmp_path / "b.txt")
    single = tmp_path / "a" / "z.txt"
    walked = walk_inputs([str(tmp_path), str(single)])
    got = [Path(p).relative_to(tmp_path).as_posix() for _, p in sorted(walked)]
    assert got == ["B.txt", "a/c/d.txt", "a/z.txt", "a-b.txt", "b.txt", "link.txt", "a/z.txt"]


def test_files_are_cut_into_mini_batches_of_the_given_size_the_last_one_shorter() -> None:
    assert list(chunks(iter("abcde"), 2)) == [(0, ("a", "b")), (1, ("c", "d")), (2, ("e",))]
    assert list(chunks(iter("ab"), 2)) == [(0, ("a", "b"))]
    assert list(chunks(iter(""), 3)) == []
