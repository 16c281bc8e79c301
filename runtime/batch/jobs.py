"""Batch jobs and their mini-batches as values, and the pure decisions the queue makes about them.

Nothing here touches the disk or the clock: the store (runtime.batch.store) reads and writes these Structs and asks
the functions below what a failure, a completion or a cancel does to a job, so the rules have exact unit tests.
"""

from __future__ import annotations

import enum
import re
import uuid
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import msgspec

from runtime.errors import Conflict, SpecError
from runtime.spec import OutputAction

#: Azure's message for a job none of whose mini-batches gave back a row.
NOTHING_SUCCEEDED = "No succeeded mini batch item returned from run()"
#: How many failed files a threshold message names before it says how many more there were.
NAMED_FAILURES = 10
_JOB_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,254}")


class JobState(enum.StrEnum):
    """A batch job's status, with the names of Azure's JobStatus enum."""

    QUEUED = "Queued"  #: submitted; mini-batches may not be listed yet
    RUNNING = "Running"  #: a mini-batch has been claimed
    FINALIZING = "Finalizing"  #: every mini-batch is done or failed; the output file is being written
    COMPLETED = "Completed"
    FAILED = "Failed"
    CANCEL_REQUESTED = "CancelRequested"  #: no new claims; waits for the leases still held
    CANCELED = "Canceled"


#: States a job never leaves.
TERMINAL = frozenset({JobState.COMPLETED, JobState.FAILED, JobState.CANCELED})
#: States whose mini-batches can be claimed.
CLAIMABLE = frozenset({JobState.QUEUED, JobState.RUNNING})


class MiniBatchState(enum.StrEnum):
    """Where one mini-batch stands."""

    PENDING = "Pending"  #: waiting for a worker
    LEASED = "Leased"  #: a worker holds it until its lease runs out
    DONE = "Done"  #: its rows are stored; a later answer for it is ignored
    FAILED = "Failed"  #: failed more than max_retries times; its files count against error_threshold


class Priority(enum.StrEnum):
    """Which jobs' mini-batches are claimed first."""

    NORMAL = "normal"
    LOW = "low"


class JobSettings(msgspec.Struct, frozen=True, kw_only=True):
    """What the queue keeps of the settings a job runs with (the deployment's, after its --set overrides); Azure's
    defaults, as in runtime.spec.BatchSettings."""

    mini_batch_size: int = 10  #: files per run() call
    max_retries: int = 3  #: retries of a failed or timed-out mini-batch, after its first attempt
    timeout_s: float = 30.0  #: per run() call; enforced by the runner, stored here so a resumed job keeps it
    error_threshold: int = -1  #: failed files over the whole job before it fails; -1 ignores all failures
    output_action: OutputAction = OutputAction.APPEND_ROW
    output_file_name: str = "predictions.csv"
    priority: Priority = Priority.NORMAL
    #: instances the job runs on; None, for a job queued before the count was kept: the deployment's
    instance_count: int | None = None


class Job(msgspec.Struct, frozen=True, kw_only=True):
    """A batch job as stored: what it runs on, where it writes, and how far it got."""

    name: str  #: `batchjob-<uuid>` unless the caller chose one
    endpoint: str
    deployment: str
    inputs: tuple[str, ...]  #: absolute paths, each a folder (walked recursively) or one file
    output_folder: str  #: absolute path
    settings: JobSettings
    state: JobState
    enumerated: bool  #: its mini-batches are listed (all of them: listing is one transaction)
    created_at: float
    started_at: float | None = None  #: first claim
    ended_at: float | None = None  #: reached a terminal state
    files_total: int = 0
    files_done: int = 0  #: files run() gave a row for
    files_failed: int = 0  #: files of failed mini-batches, plus files a done mini-batch gave no row for
    mini_batches_total: int = 0
    mini_batches_done: int = 0
    mini_batches_failed: int = 0
    retries: int = 0  #: failed attempts that were tried again
    error: str = ""
    core_seconds: float = 0.0  #: CPU core time its mini-batches used, added to by the runner
    gpu_seconds: float = 0.0

    @property
    def priority(self) -> Priority:
        """The job's claim priority (from its settings)."""
        return self.settings.priority

    @property
    def output_file_name(self) -> str:
        """The append_row file's name inside output_folder."""
        return self.settings.output_file_name

    @property
    def output_path(self) -> Path:
        """Where append_row writes (written at finalize)."""
        return Path(self.output_folder) / self.settings.output_file_name


class MiniBatch(msgspec.Struct, frozen=True, kw_only=True):
    """One run() call's worth of files, as claimed by a worker."""

    job: str
    index: int  #: 0-based, in enumeration order
    files: tuple[str, ...]
    state: MiniBatchState
    attempts: int  #: failed attempts so far (an expired or requeued lease is not one)
    claim: int  #: bumped by every claim: answers carrying an older claim number come from a lease since lost
    worker: str = ""
    lease_until: float = 0.0
    error: str = ""  #: the last failure


# --- pure decisions ------------------------------------------------------------------------------------------


def new_job_name() -> str:
    """A generated job name in Azure's form."""
    return f"batchjob-{uuid.uuid4()}"


def check_job_name(name: str) -> None:
    """SpecError unless `name` is 1-255 letters, digits, `-` and `_`, starting with a letter or digit."""
    if not _JOB_NAME.fullmatch(name):
        raise SpecError(
            f"job name {name!r} is not allowed: use 1-255 letters, digits, '-' and '_', starting with a letter or digit"
        )


def check_settings(settings: JobSettings) -> None:
    """SpecError naming the first setting out of range, and what is allowed."""
    if settings.mini_batch_size < 1:
        raise SpecError(f"mini_batch_size is {settings.mini_batch_size}; it must be 1 or more (files per run() call)")
    if settings.max_retries < 0:
        raise SpecError(f"retry_settings.max_retries is {settings.max_retries}; it must be 0 or more")
    if not settings.timeout_s > 0:
        raise SpecError(f"retry_settings.timeout is {settings.timeout_s}; it must be more than 0 seconds")
    if settings.error_threshold < -1:
        raise SpecError(
            f"error_threshold is {settings.error_threshold}; it must be -1 (ignore all failures) or 0 or more"
        )
    name = settings.output_file_name
    if name in ("", ".", "..") or "/" in name or "\0" in name:
        raise SpecError(f"output_file_name {name!r} must be a plain file name (no folders), such as predictions.csv")


def gives_up(attempts: int, max_retries: int) -> bool:
    """Whether a mini-batch that has now failed `attempts` times is failed for good (else it is tried again)."""
    return attempts > max_retries


def threshold_exceeded(files_failed: int, error_threshold: int) -> bool:
    """Whether that many failed files over the whole job fail it; -1 ignores every failure."""
    return error_threshold >= 0 and files_failed > error_threshold


def threshold_message(files_failed: int, error_threshold: int, failed_files: Sequence[str]) -> str:
    """Why a job failed on its error threshold, naming the failed files (the first NAMED_FAILURES of them)."""
    named = ", ".join(failed_files[:NAMED_FAILURES])
    more = len(failed_files) - NAMED_FAILURES
    if more > 0:
        named += f" and {more} more"
    return (
        f"The number of failed items ({files_failed}) exceeded error_threshold ({error_threshold}). "
        f"Failed files: {named}"
    )


def settled_state(job: Job) -> tuple[JobState, str] | None:
    """What a running job becomes once no mini-batch is left to run, with its error; None while some are left."""
    if job.mini_batches_done + job.mini_batches_failed < job.mini_batches_total:
        return None
    if job.files_done == 0:
        return JobState.FAILED, NOTHING_SUCCEEDED
    return JobState.FINALIZING, ""


def after_cancel_request(job: Job) -> JobState:
    """What `cancel` moves a job to: CancelRequested from Queued or Running (again for a repeated cancel).

    Conflict for a job whose run is over: Finalizing (only its file is left to write), Completed or Failed.
    """
    if job.state in CLAIMABLE or job.state in (JobState.CANCEL_REQUESTED, JobState.CANCELED):
        return JobState.CANCELED if job.state is JobState.CANCELED else JobState.CANCEL_REQUESTED
    raise Conflict(f"job {job.name!r} is {job.state}; only a Queued or Running job can be canceled")


def successes(files: int, rows: int) -> int:
    """Files counted as succeeded when run() returned `rows` rows for `files` files.

    Each returned element stands for one input that succeeded, so fewer rows than files count the shortfall as
    failed; more rows (one file giving many) count every file as done.
    """
    return min(files, rows)


# --- files ------------------------------------------------------------------------------------------------


def chunks(files: Iterable[str], size: int) -> Iterator[tuple[int, tuple[str, ...]]]:
    """(index, files) for consecutive mini-batches of `size` files; the last may be shorter."""
    batch: list[str] = []
    index = 0
    for f in files:
        batch.append(f)
        if len(batch) == size:
            yield index, tuple(batch)
            index += 1
            batch = []
    if batch:
        yield index, tuple(batch)
