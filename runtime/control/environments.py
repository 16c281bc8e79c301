"""Registered environments (`environment create -f environment.yml`) and the cache that builds them.

A registered environment is a name and version for a requirement set, read once from its conda file when it is
created (the file may move later; the record does not) and built at once, so a bad pin fails the create rather
than a deployment later. Deployments name it as `azureml:<name>:<version>` or `azureml:<name>@latest`. The table
lives in the state database beside the models.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import msgspec

from runtime.envs.cache import EnvCache
from runtime.envs.refs import EnvironmentRef
from runtime.envs.requirements import RequirementSet
from runtime.envs.selection import Selection, conda_requirements, select
from runtime.errors import Conflict, NotFound, SpecError
from runtime.spec import EnvironmentSpec, Loaded
from runtime.spec.model import next_version
from runtime.statedir import connect_db

_SCHEMA = """
CREATE TABLE IF NOT EXISTS environments (
    name TEXT NOT NULL,
    version TEXT NOT NULL,
    record BLOB NOT NULL,
    created_at REAL NOT NULL,
    PRIMARY KEY (name, version)
);
"""


class EnvironmentRecord(msgspec.Struct, frozen=True, kw_only=True):
    """A registered environment version and the requirement set it stands for."""

    name: str
    version: str
    spec: EnvironmentSpec
    selection: Selection
    source: str
    created_at: float


class EnvironmentStore:
    """Registered environments: their records in the state database, their builds in the cache."""

    def __init__(self, db: Path, cache: EnvCache) -> None:
        self._db: sqlite3.Connection = connect_db(db)
        self._db.executescript(_SCHEMA)
        self.cache = cache

    def close(self) -> None:
        """Close the database connection."""
        self._db.close()

    def prepare(self, loaded: Loaded[EnvironmentSpec], relax: bool) -> EnvironmentRecord:
        """The record `environment create` would add (its set read from the conda file); nothing is stored."""
        spec = loaded.spec
        existing = self.versions(spec.name)
        version = str(spec.version) if spec.version is not None else next_version(r.version for r in existing)
        if any(r.version == version for r in existing):
            raise Conflict(f"environment {spec.name}:{version} exists already; leave out --version for the next one")
        if spec.conda_file is None:
            raise SpecError(
                f"{Path(loaded.source).name}: $.conda_file: required here; an image alone cannot be built "
                "without Docker (deployments that name only an image run modelyard's own environment)"
            )
        reqs = conda_requirements(spec.conda_file, base_dir=loaded.base_dir, source=loaded.source, key="$.conda_file")
        selection = select(reqs, relax=relax, name=f"{spec.name}:{version}")
        stored = msgspec.structs.replace(spec, version=version, conda_file=None)
        return EnvironmentRecord(
            name=spec.name,
            version=version,
            spec=stored,
            selection=selection,
            source=loaded.source,
            created_at=time.time(),
        )

    def add(self, rec: EnvironmentRecord) -> None:
        """Store a prepared record; Conflict when that version exists."""
        try:
            with self._db:
                self._db.execute(
                    "INSERT INTO environments VALUES (?,?,?,?)",
                    (rec.name, rec.version, msgspec.json.encode(rec), rec.created_at),
                )
        except sqlite3.IntegrityError:
            raise Conflict(f"environment {rec.name}:{rec.version} exists already") from None

    def versions(self, name: str | None = None) -> list[EnvironmentRecord]:
        """Registered versions (of one name, or all), oldest first."""
        sql = "SELECT record FROM environments" + (" WHERE name=?" if name else "") + " ORDER BY name, created_at"
        rows = self._db.execute(sql, (name,) if name else ())
        return [msgspec.json.decode(row[0], type=EnvironmentRecord) for row in rows]

    def find(self, name: str, version: str | None, label: str | None) -> EnvironmentRecord:
        """One version, by number or by the `latest` label; NotFound saying what exists."""
        records = self.versions(name)
        if not records:
            raise NotFound(
                f"environment {name!r} is not registered; register it with `modelyard environment create -f FILE`, "
                "or name one of Azure's curated environments"
            )
        if version is not None:
            for rec in records:
                if rec.version == version:
                    return rec
            have = ", ".join(r.version for r in records)
            raise NotFound(f"environment {name}:{version} is not registered (versions: {have})")
        if label not in (None, "latest"):
            raise SpecError(f"environment label @{label} is not known; use @latest or :<version>")
        return records[-1]

    def resolve(self, ref: EnvironmentRef) -> tuple[RequirementSet, bool, str]:
        """What a deployment's `azureml:` reference stands for: (requirement set, relax_pins, name:version)."""
        rec = self.find(ref.name, ref.version, ref.label)
        return rec.selection.requirements, rec.selection.relax, f"{rec.name}:{rec.version}"

    def delete(self, name: str, version: str) -> EnvironmentRecord:
        """Remove a version's record (its build stays until pruned, as deployments may use it)."""
        rec = self.find(name, version, None)
        with self._db:
            self._db.execute("DELETE FROM environments WHERE name=? AND version=?", (name, version))
        return rec
