"""The mirror comparison counts in the state DB: one row per endpoint, mirror deployment and minute, and samples.

Counts of a minute add up across flushes (a minute's row is merged with what the log counted since), so they
survive a restart of serve. Minutes older than KEEP_S are compacted away at each flush, and the samples of each
endpoint and mirror deployment are kept to the newest SAMPLES_KEPT. The `endpoint` column holds the endpoint's
uid (which creation of it), so copies still in flight at a delete never count for an endpoint created again
under the same name.
"""

from __future__ import annotations

from pathlib import Path

import msgspec

from runtime.routing.mirror_stats import SAMPLES_KEPT, Key, Sample, Tally
from runtime.statedir import connect_db, write_transaction

#: How long minute rows are kept.
KEEP_S = 7 * 24 * 3600

_SCHEMA = """
CREATE TABLE IF NOT EXISTS mirror_minutes (
    endpoint TEXT NOT NULL,
    deployment TEXT NOT NULL,
    minute INTEGER NOT NULL,
    tally BLOB NOT NULL,
    PRIMARY KEY (endpoint, deployment, minute)
);
CREATE TABLE IF NOT EXISTS mirror_samples (
    endpoint TEXT NOT NULL,
    deployment TEXT NOT NULL,
    at REAL NOT NULL,
    sample BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS mirror_samples_at ON mirror_samples (endpoint, deployment, at);
"""

_tally = msgspec.json.Decoder(Tally)
_sample = msgspec.json.Decoder(Sample)


class MirrorStore:
    """Reads and writes the mirror tables."""

    def __init__(self, path: Path) -> None:
        self._db = connect_db(path)
        self._db.executescript(_SCHEMA)

    def add(self, tallies: dict[Key, Tally], samples: list[tuple[str, Sample]], now: float) -> None:
        """Add counts and samples, in one transaction, and drop what is older than KEEP_S."""
        with write_transaction(self._db) as db:
            for (endpoint, deployment, minute), tally in tallies.items():
                row = db.execute(
                    "SELECT tally FROM mirror_minutes WHERE endpoint=? AND deployment=? AND minute=?",
                    (endpoint, deployment, minute),
                ).fetchone()
                if row is not None:
                    merged = _tally.decode(row[0])
                    merged.add(tally)
                    tally = merged
                db.execute(
                    "INSERT OR REPLACE INTO mirror_minutes VALUES (?,?,?,?)",
                    (endpoint, deployment, minute, msgspec.json.encode(tally)),
                )
            db.executemany(
                "INSERT INTO mirror_samples VALUES (?,?,?,?)",
                [(e, s.deployment, s.at, msgspec.json.encode(s)) for e, s in samples],
            )
            for endpoint, deployment in {(e, s.deployment) for e, s in samples}:
                db.execute(
                    "DELETE FROM mirror_samples WHERE endpoint=? AND deployment=? AND rowid NOT IN (SELECT rowid "
                    "FROM mirror_samples WHERE endpoint=? AND deployment=? ORDER BY at DESC, rowid DESC LIMIT ?)",
                    (endpoint, deployment, endpoint, deployment, SAMPLES_KEPT),
                )
            db.execute("DELETE FROM mirror_minutes WHERE minute < ?", (int((now - KEEP_S) // 60),))
            db.execute("DELETE FROM mirror_samples WHERE at < ?", (now - KEEP_S,))

    def tallies(self, endpoint: str, since_minute: int) -> dict[str, Tally]:
        """Per mirror deployment, the endpoint's counts from `since_minute` on, summed."""
        out: dict[str, Tally] = {}
        rows = self._db.execute(
            "SELECT deployment, tally FROM mirror_minutes WHERE endpoint=? AND minute>=? ORDER BY deployment",
            (endpoint, since_minute),
        )
        for deployment, blob in rows:
            out.setdefault(deployment, Tally()).add(_tally.decode(blob))
        return out

    def samples(self, endpoint: str, since: float) -> list[Sample]:
        """The endpoint's stored samples from `since` on, newest first."""
        rows = self._db.execute(
            "SELECT sample FROM mirror_samples WHERE endpoint=? AND at>=? ORDER BY at DESC, rowid DESC",
            (endpoint, since),
        )
        return [_sample.decode(blob) for (blob,) in rows]

    def drop(self, endpoint: str) -> None:
        """Forget an endpoint's rows (it was deleted)."""
        with write_transaction(self._db) as db:
            db.execute("DELETE FROM mirror_minutes WHERE endpoint=?", (endpoint,))
            db.execute("DELETE FROM mirror_samples WHERE endpoint=?", (endpoint,))

    def close(self) -> None:
        """Close the database."""
        self._db.close()
