"""The batch queue's tables in the state database, the connection settings, and rows back into Structs."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import msgspec

from runtime.batch.jobs import Job, JobSettings, JobState, MiniBatch, MiniBatchState
from runtime.statedir import connect_db

SCHEMA = """
CREATE TABLE IF NOT EXISTS batch_jobs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    endpoint TEXT NOT NULL,
    deployment TEXT NOT NULL,
    inputs BLOB NOT NULL,
    output_folder TEXT NOT NULL,
    settings BLOB NOT NULL,
    priority INTEGER NOT NULL,
    state TEXT NOT NULL,
    enumerated INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    started_at REAL,
    ended_at REAL,
    files_total INTEGER NOT NULL DEFAULT 0,
    files_done INTEGER NOT NULL DEFAULT 0,
    files_failed INTEGER NOT NULL DEFAULT 0,
    mini_batches_total INTEGER NOT NULL DEFAULT 0,
    mini_batches_done INTEGER NOT NULL DEFAULT 0,
    mini_batches_failed INTEGER NOT NULL DEFAULT 0,
    retries INTEGER NOT NULL DEFAULT 0,
    error TEXT NOT NULL DEFAULT '',
    core_seconds REAL NOT NULL DEFAULT 0,
    gpu_seconds REAL NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS batch_jobs_by_state ON batch_jobs(state, priority, created_at, seq);
CREATE TABLE IF NOT EXISTS batch_mini_batches (
    job TEXT NOT NULL REFERENCES batch_jobs(name) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    files BLOB NOT NULL,
    state TEXT NOT NULL DEFAULT 'Pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    claim INTEGER NOT NULL DEFAULT 0,
    worker TEXT NOT NULL DEFAULT '',
    lease_until REAL NOT NULL DEFAULT 0,
    error TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (job, idx)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS batch_mini_batches_by_state ON batch_mini_batches(job, state, idx);
CREATE TABLE IF NOT EXISTS batch_outputs (
    job TEXT NOT NULL REFERENCES batch_jobs(name) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    rows BLOB NOT NULL,
    PRIMARY KEY (job, idx)
) WITHOUT ROWID;
"""
JOB_COLUMNS = (
    "name, endpoint, deployment, inputs, output_folder, settings, state, enumerated, created_at, started_at,"
    " ended_at, files_total, files_done, files_failed, mini_batches_total, mini_batches_done, mini_batches_failed,"
    " retries, error, core_seconds, gpu_seconds"
)
MB_COLUMNS = "job, idx, files, state, attempts, claim, worker, lease_until, error"
#: How a mini-batch's (or a job's inputs') paths are stored: a JSON list.
FILES = tuple[str, ...]


def connect(path: Path) -> sqlite3.Connection:
    """A connection to the state database for the queue."""
    # Enumeration holds the write lock for a while on big inputs, and the registries write to the same file: wait
    # longer for them than the registries do.
    return connect_db(path, wait_s=10.0)


def job_from_row(row: tuple[Any, ...]) -> Job:
    """A Job from a row of JOB_COLUMNS."""
    return Job(
        name=row[0],
        endpoint=row[1],
        deployment=row[2],
        inputs=msgspec.json.decode(row[3], type=FILES),
        output_folder=row[4],
        settings=msgspec.json.decode(row[5], type=JobSettings),
        state=JobState(row[6]),
        enumerated=bool(row[7]),
        created_at=row[8],
        started_at=row[9],
        ended_at=row[10],
        files_total=row[11],
        files_done=row[12],
        files_failed=row[13],
        mini_batches_total=row[14],
        mini_batches_done=row[15],
        mini_batches_failed=row[16],
        retries=row[17],
        error=row[18],
        core_seconds=row[19],
        gpu_seconds=row[20],
    )


def mini_batch_from_row(row: tuple[Any, ...]) -> MiniBatch:
    """A MiniBatch from a row of MB_COLUMNS."""
    return MiniBatch(
        job=row[0],
        index=row[1],
        files=msgspec.json.decode(row[2], type=FILES),
        state=MiniBatchState(row[3]),
        attempts=row[4],
        claim=row[5],
        worker=row[6],
        lease_until=row[7],
        error=row[8],
    )
