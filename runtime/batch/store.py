"""The durable batch queue: jobs, their mini-batches and their output rows in the state database (SQLite WAL).

It shares `state.db` with the registry but has its own connection and tables. Every change is one transaction, so
a crash (of a worker, or of the whole server) loses nothing and doubles nothing:

- `submit` stores a Queued job; `enumerate` lists its mini-batches in one transaction (a crash leaves it
  unlisted, and `unfinished` offers it to be listed again).
- `claim` leases the next mini-batch; `renew` extends the lease; a lease that runs out makes the mini-batch
  claimable again without counting an attempt. `fail` counts one; `requeue` gives a pre-empted one back.
- `complete` stores a mini-batch's rows and marks it done together; a second answer for it changes nothing.
- once every mini-batch is done or failed the job is Finalizing; `finalize` writes the output file (temporary
  file, fsync, rename) and then marks the job Completed, so doing it again after a crash is safe.

The clock is passed in (`now`, seconds since the epoch), so leases are exact in tests. The methods are safe to
call from several threads. The two that touch the disk at length, `enumerate` and `finalize`, work on a connection
of their own and hold the store's lock only for their last short transaction: the runner calls them in a thread,
and claims and answers go on meanwhile. Everything else is a short transaction, fine to call from the event loop.

Leases: `lease_s` is the runner's choice; it should outlast the run() call it covers (retry_settings.timeout,
`settings.timeout_s`) or be renewed while run() works, and a run() that overruns its timeout is reported with
`fail`, which counts an attempt, unlike a lease that runs out.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import msgspec

from runtime.batch.files import NoFiles, list_mini_batches, write_output
from runtime.batch.jobs import (
    CLAIMABLE,
    TERMINAL,
    Job,
    JobSettings,
    JobState,
    MiniBatch,
    MiniBatchState,
    Priority,
    after_cancel_request,
    check_job_name,
    check_settings,
    gives_up,
    new_job_name,
    settled_state,
    successes,
    threshold_exceeded,
    threshold_message,
)
from runtime.batch.schema import FILES, JOB_COLUMNS, MB_COLUMNS, SCHEMA, connect, job_from_row, mini_batch_from_row
from runtime.errors import Conflict, NotFound, SpecError, storage_error
from runtime.spec import OutputAction
from runtime.statedir import write_transaction

_PRIORITY_RANK = {Priority.NORMAL: 0, Priority.LOW: 1}
_UNFINISHED = tuple(s.value for s in JobState if s not in TERMINAL)
_RUNNING = JobState.RUNNING.value


class BatchStore:
    """Reads and writes batch jobs and their mini-batches in the state database."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._db = connect(path)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(SCHEMA)
        self._lock = threading.RLock()

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()

    @contextlib.contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, taken at once so two writers never deadlock on an upgrade."""
        with self._lock, write_transaction(self._db) as db:
            yield db

    # --- jobs ------------------------------------------------------------------------------------------------

    def submit(
        self,
        *,
        endpoint: str,
        deployment: str,
        inputs: Sequence[str | os.PathLike[str]],
        output_folder: str | os.PathLike[str],
        settings: JobSettings,
        now: float,
        name: str | None = None,
    ) -> Job:
        """Store a new Queued job (not yet enumerated); SpecError or Conflict, storing nothing, when it cannot run."""
        check_settings(settings)
        name = new_job_name() if name is None else name
        check_job_name(name)
        if not inputs:
            raise SpecError("a batch job needs an input: a folder or a file")
        paths = tuple(os.path.abspath(p) for p in inputs)
        for p in paths:
            if not os.path.exists(p):
                raise SpecError(f"input {p} does not exist; give a folder or a file that exists")
        folder = os.path.abspath(output_folder)
        if os.path.exists(folder) and not os.path.isdir(folder):
            raise SpecError(f"output folder {folder} is a file; give a folder (it is created if missing)")
        job = Job(
            name=name,
            endpoint=endpoint,
            deployment=deployment,
            inputs=paths,
            output_folder=folder,
            settings=settings,
            state=JobState.QUEUED,
            enumerated=False,
            created_at=now,
        )
        with self._tx() as db:
            if db.execute("SELECT 1 FROM batch_jobs WHERE name=?", (name,)).fetchone():
                raise Conflict(f"job {name!r} exists already; choose another job name")
            if settings.output_action is OutputAction.APPEND_ROW:
                self._check_output_free(job)
            db.execute(
                "INSERT INTO batch_jobs (name, endpoint, deployment, inputs, output_folder, settings, priority, state,"
                " created_at) VALUES (?,?,?,?,?,?,?,?,?)",
                (
                    name,
                    endpoint,
                    deployment,
                    msgspec.json.encode(paths),
                    folder,
                    msgspec.json.encode(settings),
                    _PRIORITY_RANK[settings.priority],
                    job.state.value,
                    now,
                ),
            )
        return job

    def _check_output_free(self, job: Job) -> None:
        # Azure fails a job whose output file exists. Two unfinished jobs writing the same file would have the
        # second replace the first's output, so that is refused too.
        if job.output_path.exists():
            raise Conflict(
                f"output file {job.output_path} exists already, and a batch job does not overwrite it: "
                "choose another output_file_name or output folder, or remove the file"
            )
        marks = ",".join("?" * len(_UNFINISHED))
        for other, blob in self._db.execute(
            f"SELECT name, settings FROM batch_jobs WHERE output_folder=? AND state IN ({marks})",
            (job.output_folder, *_UNFINISHED),
        ):
            theirs = msgspec.json.decode(blob, type=JobSettings)
            if theirs.output_action is OutputAction.APPEND_ROW and theirs.output_file_name == job.output_file_name:
                raise Conflict(
                    f"output file {job.output_path} is the output of job {other!r}, which has not finished: "
                    "choose another output_file_name or output folder"
                )

    def job(self, name: str) -> Job:
        """The job called `name`; NotFound otherwise."""
        with self._lock:
            return self._job(name)

    def _job(self, name: str) -> Job:
        row = self._db.execute(f"SELECT {JOB_COLUMNS} FROM batch_jobs WHERE name=?", (name,)).fetchone()
        if row is None:
            raise NotFound(f"job {name!r} not found")
        return job_from_row(row)

    def jobs(self, endpoint: str | None = None, deployment: str | None = None) -> list[Job]:
        """Jobs of one endpoint (and deployment), or all, oldest first."""
        where, args = _scope(endpoint, deployment)
        with self._lock:
            rows = self._db.execute(f"SELECT {JOB_COLUMNS} FROM batch_jobs{where} ORDER BY created_at, seq", args)
            return [job_from_row(r) for r in rows]

    def unfinished(self) -> list[Job]:
        """Jobs to pick up again after a restart (not Completed, Failed or Canceled), in claim order.

        A job not `enumerated` needs `enumerate`, a Finalizing one `finalize`; the others need workers.
        """
        marks = ",".join("?" * len(_UNFINISHED))
        with self._lock:
            rows = self._db.execute(
                f"SELECT {JOB_COLUMNS} FROM batch_jobs WHERE state IN ({marks}) ORDER BY priority, created_at, seq",
                _UNFINISHED,
            )
            return [job_from_row(r) for r in rows]

    def add_usage(self, name: str, core_seconds: float, gpu_seconds: float = 0.0) -> None:
        """Add the CPU core and GPU time a mini-batch of the job used."""
        with self._tx() as db:
            db.execute(
                "UPDATE batch_jobs SET core_seconds=core_seconds+?, gpu_seconds=gpu_seconds+? WHERE name=?",
                (core_seconds, gpu_seconds, name),
            )

    def cancel(self, name: str, now: float) -> Job:
        """Stop claims of the job: CancelRequested, then Canceled once no lease is held (finished rows are kept)."""
        with self._tx() as db:
            job = self._job(name)
            state = after_cancel_request(job)
            if state is not job.state:
                db.execute("UPDATE batch_jobs SET state=? WHERE name=?", (state.value, name))
            self._sweep(now)
            return self._job(name)

    def sweep(self, now: float) -> None:
        """Mark Canceled every CancelRequested job that holds no live lease any more."""
        with self._tx():
            self._sweep(now)

    def _sweep(self, now: float) -> None:
        self._db.execute(
            "UPDATE batch_jobs SET state=?, ended_at=? WHERE state=? AND NOT EXISTS (SELECT 1 FROM batch_mini_batches"
            " WHERE job=batch_jobs.name AND state=? AND lease_until>?)",
            (JobState.CANCELED.value, now, JobState.CANCEL_REQUESTED.value, MiniBatchState.LEASED.value, now),
        )

    def abort(self, name: str, now: float, error: str) -> Job:
        """Fail a Queued or Running job that cannot run at all (its workers' init() failed, its deployment is gone).

        Leases it still holds are let go; a job in any other state is returned as it is.
        """
        with self._tx() as db:
            if self._job(name).state in CLAIMABLE:
                db.execute(
                    "UPDATE batch_mini_batches SET state=?, worker='', lease_until=0 WHERE job=? AND state=?",
                    (MiniBatchState.PENDING.value, name, MiniBatchState.LEASED.value),
                )
                self._end(name, JobState.FAILED, now, error)
            return self._job(name)

    # --- enumeration -----------------------------------------------------------------------------------------

    def enumerate(self, name: str, now: float) -> Job:
        """List the job's files into mini-batches in one transaction; a job listed already is left as it is.

        Files stream from the walk through SQLite's sort into the database, so memory stays flat however many
        there are. It works on a connection of its own and takes the database's write lock only once the walk
        is over, so run it in a thread: the other methods go on meanwhile. An input that cannot be read (or
        holds no file) fails the job with a message saying which.
        """
        job = self.job(name)
        if job.enumerated or job.state is not JobState.QUEUED:
            return job
        error = ""
        db = connect(self._path)
        try:
            list_mini_batches(db, job)
        except NoFiles:
            error = f"the input holds no files: {', '.join(job.inputs)}"
        except OSError as exc:  # from the walk: the database raises sqlite3.Error
            error = f"cannot list the input: {exc.strerror or exc} ({exc.filename})"
        except UnicodeEncodeError as exc:
            error = f"cannot list the input: a file name is not valid UTF-8 ({exc.object[exc.start : exc.end]!r})"
        except sqlite3.Error as exc:
            raise storage_error(exc) or exc from exc
        finally:
            db.close()  # which rolls back whatever it had not committed
        with self._tx():
            if error and self._job(name).state is JobState.QUEUED:
                self._end(name, JobState.FAILED, now, error)
            return self._job(name)

    # --- claims and leases -----------------------------------------------------------------------------------

    def claim(
        self,
        worker: str,
        now: float,
        lease_s: float,
        *,
        endpoint: str | None = None,
        deployment: str | None = None,
        job: str | None = None,
    ) -> MiniBatch | None:
        """Lease the next mini-batch to `worker` until now + lease_s; None when none is claimable.

        Order: normal-priority jobs before low, then the oldest job, then the lowest mini-batch index. A
        mini-batch whose lease ran out is claimable again, with no attempt counted. `endpoint` and `deployment`
        restrict the claim to that deployment's jobs, `job` to one job.
        """
        where, args = _scope(endpoint, deployment)
        if job is not None:
            where = f"{where} AND name=?" if where else " WHERE name=?"
            args = (*args, job)
        where = f"{where} AND" if where else " WHERE"
        states = tuple(s.value for s in CLAIMABLE)
        with self._tx() as db:
            self._sweep(now)
            jobs = db.execute(
                f"SELECT name, state FROM batch_jobs{where} state IN (?,?) AND enumerated=1"
                " ORDER BY priority, created_at, seq",
                (*args, *states),
            ).fetchall()
            for job, state in jobs:
                found = db.execute(
                    "SELECT min(idx) FROM (SELECT min(idx) AS idx FROM batch_mini_batches WHERE job=? AND state=?"
                    " UNION ALL SELECT min(idx) FROM batch_mini_batches WHERE job=? AND state=? AND lease_until<=?)",
                    (job, MiniBatchState.PENDING.value, job, MiniBatchState.LEASED.value, now),
                ).fetchone()
                if found[0] is None:
                    continue
                db.execute(
                    "UPDATE batch_mini_batches SET state=?, claim=claim+1, worker=?, lease_until=?"
                    " WHERE job=? AND idx=?",
                    (MiniBatchState.LEASED.value, worker, now + lease_s, job, found[0]),
                )
                if state == JobState.QUEUED:
                    db.execute(
                        "UPDATE batch_jobs SET state=?, started_at=? WHERE name=?", (JobState.RUNNING.value, now, job)
                    )
                return self._mini_batch(job, found[0])
        return None

    def renew(self, mb: MiniBatch, now: float, lease_s: float) -> bool:
        """Extend the lease to now + lease_s; False when the holder should stop (lease lost, job not Running)."""
        with self._tx() as db:
            cur = db.execute(
                "UPDATE batch_mini_batches SET lease_until=? WHERE job=? AND idx=? AND claim=? AND state=?"
                " AND (SELECT state FROM batch_jobs WHERE name=?)=?",
                (now + lease_s, mb.job, mb.index, mb.claim, MiniBatchState.LEASED.value, mb.job, _RUNNING),
            )
            return cur.rowcount == 1

    def requeue(self, mb: MiniBatch, now: float) -> bool:
        """Give back a pre-empted mini-batch, counting no attempt; False when its lease was lost already."""
        with self._tx():
            if not self._holds(mb):
                return False
            self._release(mb)
            self._sweep(now)
            return True

    def release_all(self, now: float) -> int:
        """Make every leased mini-batch claimable (no attempt counted): at startup, every lease is a dead server's."""
        with self._tx() as db:
            cur = db.execute(
                "UPDATE batch_mini_batches SET state=?, worker='', lease_until=0 WHERE state=?",
                (MiniBatchState.PENDING.value, MiniBatchState.LEASED.value),
            )
            self._sweep(now)
            return cur.rowcount

    def _holds(self, mb: MiniBatch) -> bool:
        row = self._db.execute(
            "SELECT state, claim FROM batch_mini_batches WHERE job=? AND idx=?", (mb.job, mb.index)
        ).fetchone()
        return row is not None and row[0] == MiniBatchState.LEASED and row[1] == mb.claim

    def _release(self, mb: MiniBatch, error: str | None = None, attempts: int = 0) -> None:
        self._db.execute(
            "UPDATE batch_mini_batches SET state=?, worker='', lease_until=0, attempts=attempts+?,"
            " error=coalesce(?, error) WHERE job=? AND idx=?",
            (MiniBatchState.PENDING.value, attempts, error, mb.job, mb.index),
        )

    def mini_batch(self, name: str, index: int) -> MiniBatch:
        """One mini-batch as stored; NotFound otherwise."""
        with self._lock:
            return self._mini_batch(name, index)

    def _mini_batch(self, name: str, index: int) -> MiniBatch:
        row = self._db.execute(
            f"SELECT {MB_COLUMNS} FROM batch_mini_batches WHERE job=? AND idx=?", (name, index)
        ).fetchone()
        if row is None:
            raise NotFound(f"mini-batch {index} of job {name!r} not found")
        return mini_batch_from_row(row)

    # --- outcomes --------------------------------------------------------------------------------------------

    def fail(self, mb: MiniBatch, error: str, now: float) -> MiniBatchState | None:
        """Count a failed attempt (run() raised or timed out): Pending to try again, or Failed past max_retries.

        Failed files count against the job's error_threshold; past it the job is Failed naming them. Returns the
        mini-batch's new state; None when the failure counts for nothing (it came under a lease since lost, or the
        job is being canceled or is over).
        """
        with self._tx() as db:
            if not self._holds(mb):
                return None
            job = self._job(mb.job)
            if job.state is not JobState.RUNNING:  # CancelRequested or over: no retry to count
                self._release(mb)
                self._sweep(now)
                return None
            attempts = self._mini_batch(mb.job, mb.index).attempts + 1
            if not gives_up(attempts, job.settings.max_retries):
                self._release(mb, error, attempts=1)
                db.execute("UPDATE batch_jobs SET retries=retries+1 WHERE name=?", (mb.job,))
                return MiniBatchState.PENDING
            db.execute(
                "UPDATE batch_mini_batches SET state=?, worker='', lease_until=0, attempts=?, error=?"
                " WHERE job=? AND idx=?",
                (MiniBatchState.FAILED.value, attempts, error, mb.job, mb.index),
            )
            db.execute(
                "UPDATE batch_jobs SET mini_batches_failed=mini_batches_failed+1, files_failed=files_failed+?"
                " WHERE name=?",
                (len(mb.files), mb.job),
            )
            self._after_outcome(mb.job, now)
            return MiniBatchState.FAILED

    def complete(self, mb: MiniBatch, text: bytes, rows: int, now: float) -> bool:
        """Store the mini-batch's append_row lines (`rows` of them) and mark it done, together; False (nothing
        changed) when it was done.

        An answer is taken whichever lease it came under, as long as the mini-batch is not done or failed yet: the
        first answer wins and any later one is a no-op, so each row reaches the output exactly once. A file run()
        gave no row for counts as failed (each returned element stands for one input that succeeded).
        """
        with self._tx() as db:
            row = db.execute(
                "SELECT m.state, m.files, j.state, j.settings FROM batch_mini_batches m JOIN batch_jobs j"
                " ON j.name=m.job WHERE m.job=? AND m.idx=?",
                (mb.job, mb.index),
            ).fetchone()
            if row is None:
                return False
            mb_state, files_blob, job_state, settings_blob = row
            open_states = (MiniBatchState.PENDING, MiniBatchState.LEASED)
            if mb_state not in open_states or job_state not in (JobState.RUNNING, JobState.CANCEL_REQUESTED):
                return False
            files = len(msgspec.json.decode(files_blob, type=FILES))
            settings = msgspec.json.decode(settings_blob, type=JobSettings)
            if settings.output_action is OutputAction.APPEND_ROW:
                db.execute("INSERT INTO batch_outputs VALUES (?,?,?)", (mb.job, mb.index, text))
            db.execute(
                "UPDATE batch_mini_batches SET state=?, worker='', lease_until=0 WHERE job=? AND idx=?",
                (MiniBatchState.DONE.value, mb.job, mb.index),
            )
            done = successes(files, rows)
            db.execute(
                "UPDATE batch_jobs SET mini_batches_done=mini_batches_done+1, files_done=files_done+?,"
                " files_failed=files_failed+? WHERE name=?",
                (done, files - done, mb.job),
            )
            self._after_outcome(mb.job, now)
            return True

    def _after_outcome(self, name: str, now: float) -> None:
        """Fail the job past its threshold, or move it on once every mini-batch is settled."""
        job = self._job(name)
        if job.state is JobState.CANCEL_REQUESTED:
            self._sweep(now)
            return
        if threshold_exceeded(job.files_failed, job.settings.error_threshold):
            self._end(name, JobState.FAILED, now, self._threshold_message(job))
            return
        settled = settled_state(job)
        if settled is None:
            return
        state, error = settled
        if state is JobState.FINALIZING:
            self._db.execute("UPDATE batch_jobs SET state=? WHERE name=?", (state.value, name))
        else:
            self._end(name, state, now, error)

    def _threshold_message(self, job: Job) -> str:
        failed: list[str] = []
        for (blob,) in self._db.execute(
            "SELECT files FROM batch_mini_batches WHERE job=? AND state=? ORDER BY idx",
            (job.name, MiniBatchState.FAILED.value),
        ):
            failed.extend(msgspec.json.decode(blob, type=FILES))
        return threshold_message(job.files_failed, job.settings.error_threshold, failed)

    def _end(self, name: str, state: JobState, now: float, error: str = "") -> None:
        self._db.execute(
            "UPDATE batch_jobs SET state=?, ended_at=?, error=? WHERE name=?", (state.value, now, error, name)
        )
        if state is not JobState.COMPLETED:
            return
        # The file holds them now; the database need not keep a second copy.
        self._db.execute("DELETE FROM batch_outputs WHERE job=?", (name,))

    # --- finalize --------------------------------------------------------------------------------------------

    def finalize(self, name: str, now: float) -> Job:
        """Write a Finalizing job's output file and mark it Completed; a Completed job is returned as it is.

        append_row writes every stored row, in mini-batch order, to a temporary file in the output folder, syncs
        it and renames it to output_file_name; only then is the job marked Completed, so a crash anywhere in
        between leaves the job Finalizing and doing it again writes the same file. summary_only writes no file.
        The file is written from a connection of its own: run it in a thread, the other methods go on meanwhile.
        """
        job = self.job(name)
        if job.state is JobState.COMPLETED:
            return job
        if job.state is not JobState.FINALIZING:
            raise Conflict(f"job {name!r} is {job.state}; only a Finalizing job is finalized")
        if job.settings.output_action is OutputAction.APPEND_ROW:
            db = connect(self._path)
            try:
                write_output(db, job)
            except OSError as exc:
                raise storage_error(exc) or exc from exc
            finally:
                db.close()
        with self._tx():
            if self._job(name).state is JobState.FINALIZING:
                self._end(name, JobState.COMPLETED, now)
            return self._job(name)


def _scope(endpoint: str | None, deployment: str | None) -> tuple[str, tuple[str, ...]]:
    parts, args = [], []
    if endpoint is not None:
        parts.append("endpoint=?")
        args.append(endpoint)
    if deployment is not None:
        parts.append("deployment=?")
        args.append(deployment)
    return (" WHERE " + " AND ".join(parts) if parts else ""), tuple(args)
