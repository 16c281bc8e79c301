"""A batch job's log files, as Azure's parallel-run engine writes them for the user (azure-contract §5.3).

`job_progress_overview.txt` gets a line as mini-batches finish, `job_error.txt` every failed attempt with the
traceback the worker sent, `job_result.txt` the outcome once the job is over. They live in `logs/<job>/` inside
the job's output folder. Writing them is best effort: a log that cannot be written never fails the job.
"""

from __future__ import annotations

import datetime
import logging
from pathlib import Path

from runtime.batch.jobs import Job, MiniBatch

log = logging.getLogger("modelyard.batch")

PROGRESS = "job_progress_overview.txt"
ERRORS = "job_error.txt"
RESULT = "job_result.txt"


def log_folder(job: Job) -> Path:
    """Where a job's log files are written."""
    return Path(job.output_folder) / "logs" / job.name


def _stamp(now: float) -> str:
    return datetime.datetime.fromtimestamp(now, datetime.UTC).strftime("%Y-%m-%d %H:%M:%S")


def _append(path: Path, text: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a", encoding="utf-8") as f:
            f.write(text)
    except OSError as exc:
        log.warning("cannot write the job log %s: %s", path, exc.strerror or exc)


def progress_line(job: Job, now: float) -> str:
    """One progress line: mini-batches processed of the total, and the files that succeeded and failed."""
    processed = job.mini_batches_done + job.mini_batches_failed
    return (
        f"{_stamp(now)} {job.state}: {processed} of {job.mini_batches_total} mini-batches processed, "
        f"{job.files_done} of {job.files_total} files succeeded, {job.files_failed} failed, "
        f"{job.retries} retries\n"
    )


def write_progress(job: Job, now: float) -> None:
    """Append the job's progress to job_progress_overview.txt."""
    _append(log_folder(job) / PROGRESS, progress_line(job, now))


def write_note(job: Job, note: str, now: float) -> None:
    """Append a line about how the job runs (e.g. fewer instances than asked) to job_progress_overview.txt."""
    _append(log_folder(job) / PROGRESS, f"{_stamp(now)} {note}\n")


def write_error(job: Job, mb: MiniBatch, worker: str, error: str, now: float) -> None:
    """Append one failed attempt of a mini-batch, with its files and what the worker said, to job_error.txt."""
    attempt = mb.attempts + 1
    tries = job.settings.max_retries + 1
    files = "\n".join(f"  {f}" for f in mb.files)
    body = error if error.endswith("\n") else error + "\n"
    _append(
        log_folder(job) / ERRORS,
        f"{_stamp(now)} mini-batch {mb.index} failed on worker {worker} (attempt {attempt} of {tries}); "
        f"files:\n{files}\n{body}\n",
    )


def write_job_error(job: Job, error: str, now: float) -> None:
    """Append a failure of the job as a whole (its workers' init(), its deployment) to job_error.txt."""
    body = error if error.endswith("\n") else error + "\n"
    _append(log_folder(job) / ERRORS, f"{_stamp(now)} job {job.name} failed: {body}\n")


def write_result(job: Job, now: float) -> None:
    """Write job_result.txt: the job's final state, counts, usage and error."""
    lines = [
        f"{_stamp(now)} job {job.name} {job.state}",
        f"mini-batches: {job.mini_batches_done} done, {job.mini_batches_failed} failed, of {job.mini_batches_total}",
        f"files: {job.files_done} succeeded, {job.files_failed} failed, of {job.files_total}",
        f"retries: {job.retries}",
        f"core-seconds: {job.core_seconds:.3f}",
        f"GPU-seconds: {job.gpu_seconds:.3f}",
    ]
    if job.error:
        lines.append(f"error: {job.error}")
    path = log_folder(job) / RESULT
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    except OSError as exc:
        log.warning("cannot write the job log %s: %s", path, exc.strerror or exc)
