"""The batch queue's disk work: walking a job's inputs into mini-batches, and writing its output file."""

from __future__ import annotations

import errno
import os
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path

import msgspec

from runtime.batch.jobs import Job, JobState, chunks


def walk_inputs(inputs: Sequence[str]) -> Iterator[tuple[bytes, str]]:
    """(sort key, path) for every file under `inputs`, in the order the disk gives them.

    Sorting by key (bytes order, as SQLite sorts a BLOB) is the stable order a job runs in: each input in turn,
    a folder depth-first with names sorted. The key is the input's position followed by the path's parts, each
    after a NUL byte, which sorts below any byte a name holds, so a folder's files sort where its name does.
    Nothing is held but the folders still to visit, so memory stays flat however many files there are.
    Directory symlinks are not followed (a loop cannot make the walk endless); file symlinks count as files.
    """
    for position, top in enumerate(inputs):
        prefix = position.to_bytes(4, "big")
        if not os.path.isdir(top):
            if not os.path.isfile(top):  # gone since the job was submitted
                raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), top)
            yield prefix, top
            continue
        folders = [(top, prefix)]
        while folders:
            folder, key = folders.pop()
            with os.scandir(folder) as entries:
                for entry in entries:
                    child = key + b"\0" + os.fsencode(entry.name)
                    if entry.is_dir(follow_symlinks=False):
                        folders.append((entry.path, child))
                    elif entry.is_file():
                        yield child, entry.path


def list_mini_batches(db: sqlite3.Connection, job: Job) -> None:
    """Walk the job's inputs and write its mini-batches, all in one transaction of `db`."""
    # The walk goes into this connection's temporary table, which SQLite sorts (in its page cache, spilling to a
    # temporary file), so neither the names nor the mini-batches pile up in memory. Writing only the temporary
    # database leaves the state database free for other writers while the disk is walked.
    db.execute("CREATE TEMP TABLE batch_walk (key BLOB PRIMARY KEY, path TEXT NOT NULL) WITHOUT ROWID")
    db.execute("BEGIN")
    db.executemany("INSERT INTO temp.batch_walk VALUES (?,?)", walk_inputs(job.inputs))
    db.execute("COMMIT")
    db.execute("BEGIN IMMEDIATE")
    row = db.execute("SELECT enumerated, state FROM batch_jobs WHERE name=?", (job.name,)).fetchone()
    if row is None or row[0] or row[1] != JobState.QUEUED:
        return  # listed, canceled or gone meanwhile; closing the connection rolls back
    counts = [0, 0]  # files, mini-batches

    def rows() -> Iterator[tuple[str, int, bytes]]:
        ordered = (path for (path,) in db.execute("SELECT path FROM temp.batch_walk ORDER BY key"))
        for index, files in chunks(ordered, job.settings.mini_batch_size):
            counts[0] += len(files)
            counts[1] += 1
            yield job.name, index, msgspec.json.encode(files)

    db.execute("DELETE FROM batch_mini_batches WHERE job=?", (job.name,))
    db.executemany("INSERT INTO batch_mini_batches (job, idx, files) VALUES (?,?,?)", rows())
    if counts[0] == 0:
        raise NoFiles
    db.execute(
        "UPDATE batch_jobs SET enumerated=1, files_total=?, mini_batches_total=? WHERE name=?",
        (counts[0], counts[1], job.name),
    )
    db.execute("COMMIT")


class NoFiles(Exception):
    """Raised inside the enumeration transaction to roll it back when the input holds no file."""


def write_output(db: sqlite3.Connection, job: Job) -> None:
    """Write the job's stored rows, in mini-batch order, to its output file: temporary file, sync, rename, sync."""
    folder = Path(job.output_folder)
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{job.output_file_name}.{job.name}.partial"
    with open(tmp, "wb") as out:
        for (blob,) in db.execute("SELECT rows FROM batch_outputs WHERE job=? ORDER BY idx", (job.name,)):
            out.write(blob)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, job.output_path)
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)  # the rename itself must survive a power cut before the job says Completed
    finally:
        os.close(fd)
