"""Azure Monitor autoscale settings: a table of the state database, one row per setting.

As in the registry, the control process is the only writer and each change is one transaction. A setting names
its deployment by endpoint and deployment name and is not removed with it, as in Azure, where a setting outlives
the resource it targets: a deployment created again under that name is under the setting again.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import msgspec

from runtime.control.autoscale import AutoscaleSetting
from runtime.errors import Conflict, NotFound
from runtime.statedir import connect_db

_SCHEMA = """
CREATE TABLE IF NOT EXISTS autoscale_settings (
    name TEXT PRIMARY KEY COLLATE NOCASE,
    endpoint TEXT NOT NULL COLLATE NOCASE,
    deployment TEXT NOT NULL COLLATE NOCASE,
    setting BLOB NOT NULL,
    created_at REAL NOT NULL,
    UNIQUE (endpoint, deployment)
);
"""


class AutoscaleRegistry:
    """Reads and writes the autoscale settings table."""

    def __init__(self, path: Path) -> None:
        self._db = connect_db(path)
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        """Close the database."""
        self._db.close()

    def add(self, setting: AutoscaleSetting) -> None:
        """Store a new setting; Conflict if the name (in any case) or the deployment has one already."""
        same = self._db.execute(
            "SELECT name FROM autoscale_settings WHERE endpoint=? AND deployment=?",
            (setting.endpoint, setting.deployment),
        ).fetchone()
        if same is not None:
            raise Conflict(
                f"deployment {setting.deployment!r} of endpoint {setting.endpoint!r} has an autoscale setting "
                f"already, {same[0]!r}: a resource takes one; change it with `monitor autoscale update -n {same[0]}`"
            )
        try:
            self._db.execute(
                "INSERT INTO autoscale_settings VALUES (?,?,?,?,?)",
                (setting.name, setting.endpoint, setting.deployment, _enc(setting), setting.created_at),
            )
        except sqlite3.IntegrityError:
            raise Conflict(
                f"autoscale setting {self.get(setting.name).name!r} exists already; names differing only in case "
                "are the same name"
            ) from None

    def save(self, setting: AutoscaleSetting) -> None:
        """Overwrite an existing setting (its name and target stay)."""
        self._db.execute("UPDATE autoscale_settings SET setting=? WHERE name=?", (_enc(setting), setting.name))

    def get(self, name: str) -> AutoscaleSetting:
        """The setting called `name`, in any case; NotFound otherwise."""
        row = self._db.execute("SELECT setting FROM autoscale_settings WHERE name=?", (name,)).fetchone()
        if row is None:
            raise NotFound(f"autoscale setting {name!r} not found; `monitor autoscale list` shows those there are")
        return _dec(row[0])

    def for_deployment(self, endpoint: str, deployment: str) -> AutoscaleSetting | None:
        """The setting that targets a deployment, if any."""
        row = self._db.execute(
            "SELECT setting FROM autoscale_settings WHERE endpoint=? AND deployment=?", (endpoint, deployment)
        ).fetchone()
        return _dec(row[0]) if row else None

    def all(self) -> list[AutoscaleSetting]:
        """Every setting, oldest first."""
        rows = self._db.execute("SELECT setting FROM autoscale_settings ORDER BY created_at, name")
        return [_dec(r[0]) for r in rows]

    def delete(self, name: str) -> None:
        """Remove a setting; NotFound if there is none of that name."""
        if self._db.execute("DELETE FROM autoscale_settings WHERE name=?", (name,)).rowcount == 0:
            raise NotFound(f"autoscale setting {name!r} not found; `monitor autoscale list` shows those there are")


def _enc(setting: AutoscaleSetting) -> bytes:
    return msgspec.json.encode(setting)


def _dec(raw: bytes) -> AutoscaleSetting:
    return msgspec.json.decode(raw, type=AutoscaleSetting)
