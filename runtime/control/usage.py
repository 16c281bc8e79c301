"""The cost basis of online deployments: core-seconds and GPU-seconds since each was created, kept in the state DB.

A deployment is known by its endpoint, its name and its creation time, so one deleted and created again under the
same name starts from zero. Rows of deployments that no longer exist are dropped at each save.
"""

from __future__ import annotations

from pathlib import Path

from runtime.statedir import connect_db, write_transaction

_SCHEMA = """
CREATE TABLE IF NOT EXISTS usage (
    endpoint TEXT NOT NULL,
    deployment TEXT NOT NULL,
    created_at REAL NOT NULL,
    core_seconds REAL NOT NULL,
    gpu_seconds REAL NOT NULL,
    PRIMARY KEY (endpoint, deployment)
);
"""

#: (endpoint, deployment) -> (created_at, core-seconds, GPU-seconds)
Usage = dict[tuple[str, str], tuple[float, float, float]]


class UsageStore:
    """Reads and writes the usage table."""

    def __init__(self, path: Path) -> None:
        self._db = connect_db(path)
        self._db.executescript(_SCHEMA)

    def load(self) -> Usage:
        """Every stored row."""
        rows = self._db.execute("SELECT endpoint, deployment, created_at, core_seconds, gpu_seconds FROM usage")
        return {(e, d): (c, cs, gs) for e, d, c, cs, gs in rows}

    def save(self, usage: Usage) -> None:
        """Replace the table's content with `usage`, in one transaction."""
        rows = [(e, d, c, cs, gs) for (e, d), (c, cs, gs) in usage.items()]
        with write_transaction(self._db) as db:
            db.execute("DELETE FROM usage")
            db.executemany("INSERT INTO usage VALUES (?,?,?,?,?)", rows)

    def close(self) -> None:
        """Close the database."""
        self._db.close()
