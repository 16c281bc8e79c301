"""Desired state in one SQLite database (WAL): endpoints, their keys and traffic, deployments, models.

The control process is the only writer. Every change is one transaction, so a crash never leaves half a change.
Specs are stored as the decoded Structs (msgspec JSON), so a restart needs no YAML and no re-validation.
"""

from __future__ import annotations

import secrets
import sqlite3
import time
from pathlib import Path
from typing import Any

import msgspec

from runtime.errors import Conflict, NotFound
from runtime.spec import ModelType, OnlineDeploymentSpec, OnlineEndpointSpec
from runtime.statedir import connect_db

_SCHEMA = """
CREATE TABLE IF NOT EXISTS endpoints (
    name TEXT PRIMARY KEY,
    spec BLOB NOT NULL,
    source TEXT NOT NULL,
    primary_key TEXT NOT NULL,
    secondary_key TEXT NOT NULL,
    traffic BLOB NOT NULL,
    mirror BLOB NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    uid TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS deployments (
    endpoint TEXT NOT NULL REFERENCES endpoints(name) ON DELETE CASCADE,
    name TEXT NOT NULL,
    spec BLOB NOT NULL,
    source TEXT NOT NULL,
    snapshot TEXT NOT NULL,
    placement TEXT NOT NULL,
    state TEXT NOT NULL,
    error TEXT NOT NULL DEFAULT '',
    notes BLOB NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    PRIMARY KEY (endpoint, name)
);
CREATE TABLE IF NOT EXISTS models (
    name TEXT NOT NULL,
    version TEXT NOT NULL,
    type TEXT NOT NULL,
    path TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    source TEXT NOT NULL,
    created_at REAL NOT NULL,
    archived INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (name, version)
);
"""
_MODEL_COLUMNS = "name, version, type, path, description, source, created_at, archived"


class EndpointRecord(msgspec.Struct, frozen=True, kw_only=True):
    """An endpoint as stored: its spec plus the state the service owns (keys, traffic)."""

    name: str
    spec: OnlineEndpointSpec
    source: str
    primary_key: str
    secondary_key: str
    traffic: dict[str, int]
    mirror: dict[str, int]
    created_at: float
    updated_at: float
    #: new at each creation: tokens carry it, so one issued before a delete does not open a namesake created after
    uid: str = msgspec.field(default_factory=lambda: secrets.token_hex(16))


class DeploymentRecord(msgspec.Struct, frozen=True, kw_only=True):
    """A deployment as stored: spec, where its snapshot lives, and its provisioning state."""

    endpoint: str
    name: str
    spec: OnlineDeploymentSpec
    source: str
    snapshot: str  #: folder holding the copied code and model
    placement: str  #: "share" or "strict"
    state: str  #: Creating, Updating, Succeeded, Failed, Deleting
    error: str
    notes: tuple[str, ...]
    created_at: float
    updated_at: float


class ModelRecord(msgspec.Struct, frozen=True, kw_only=True):
    """A registered model version; `path` is the registry folder that holds the model's basename."""

    name: str
    version: str
    type: ModelType
    path: str
    description: str
    source: str
    created_at: float
    archived: bool = False  #: hidden from `model list` and from `@latest`, still usable by its version


class Registry:
    """Reads and writes the state database."""

    def __init__(self, path: Path) -> None:
        self._db = connect_db(path)
        self._db.executescript(_SCHEMA)
        self._migrate()

    def _migrate(self) -> None:
        """Bring a database written by an older version up to this schema."""
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(models)")}
        if "archived" not in columns:  # a state directory from before models could be archived
            self._db.execute("ALTER TABLE models ADD COLUMN archived INTEGER NOT NULL DEFAULT 0")
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(endpoints)")}
        if "uid" not in columns:
            self._db.execute("ALTER TABLE endpoints ADD COLUMN uid TEXT NOT NULL DEFAULT ''")
        self._db.execute("UPDATE endpoints SET uid=lower(hex(randomblob(16))) WHERE uid=''")

    def close(self) -> None:
        """Close the database."""
        self._db.close()

    # --- endpoints -------------------------------------------------------------------------------------------

    def add_endpoint(self, rec: EndpointRecord) -> None:
        """Store a new endpoint; Conflict if the name exists, in any case."""
        # Azure names resources case-insensitively (an endpoint's name is also its host name): "Fix" is "fix".
        same = self._db.execute("SELECT name FROM endpoints WHERE lower(name)=lower(?)", (rec.name,)).fetchone()
        if same is not None and same[0] != rec.name:
            raise Conflict(f"endpoint {same[0]!r} exists already; names differing only in case are the same name")
        try:
            self._db.execute("INSERT INTO endpoints VALUES (?,?,?,?,?,?,?,?,?,?)", _ep_row(rec))
        except sqlite3.IntegrityError:
            raise Conflict(f"endpoint {rec.name!r} exists already; use `online-endpoint update`") from None

    def save_endpoint(self, rec: EndpointRecord) -> None:
        """Overwrite an existing endpoint."""
        # An UPDATE, not INSERT OR REPLACE: replacing the row would cascade-delete the endpoint's deployments.
        # The uid is left alone: it names this creation of the endpoint, whatever changes later.
        name, *rest = _ep_row(msgspec.structs.replace(rec, updated_at=time.time()))[:-1]
        self._db.execute(
            "UPDATE endpoints SET spec=?, source=?, primary_key=?, secondary_key=?, traffic=?, mirror=?,"
            " created_at=?, updated_at=? WHERE name=?",
            (*rest, name),
        )

    def endpoint_name(self, name: str) -> str:
        """The stored spelling of an endpoint name given in any case; `name` itself when there is none."""
        row = self._db.execute("SELECT name FROM endpoints WHERE lower(name)=lower(?)", (name,)).fetchone()
        return str(row[0]) if row else name

    def deployment_name(self, endpoint: str, name: str) -> str:
        """The stored spelling of a deployment name given in any case; `name` itself when there is none."""
        row = self._db.execute(
            "SELECT name FROM deployments WHERE endpoint=? AND lower(name)=lower(?)", (endpoint, name)
        ).fetchone()
        return str(row[0]) if row else name

    def endpoint(self, name: str) -> EndpointRecord:
        """The endpoint called `name`; NotFound otherwise."""
        row = self._db.execute("SELECT * FROM endpoints WHERE name=?", (name,)).fetchone()
        if row is None:
            raise NotFound(f"endpoint {name!r} not found")
        return _endpoint(row)

    def endpoints(self) -> list[EndpointRecord]:
        """Every endpoint, oldest first."""
        return [_endpoint(r) for r in self._db.execute("SELECT * FROM endpoints ORDER BY created_at")]

    def delete_endpoint(self, name: str) -> None:
        """Remove an endpoint and its deployments."""
        self._db.execute("DELETE FROM endpoints WHERE name=?", (name,))

    # --- deployments -----------------------------------------------------------------------------------------

    def add_deployment(self, rec: DeploymentRecord) -> None:
        """Store a new deployment; Conflict if the name exists under the endpoint, in any case."""
        same = self._db.execute(
            "SELECT name FROM deployments WHERE endpoint=? AND lower(name)=lower(?)", (rec.endpoint, rec.name)
        ).fetchone()
        if same is not None and same[0] != rec.name:
            raise Conflict(
                f"deployment {same[0]!r} exists already under endpoint {rec.endpoint!r}; "
                "names differing only in case are the same name"
            )
        try:
            self._db.execute("INSERT INTO deployments VALUES (?,?,?,?,?,?,?,?,?,?,?)", _dep_row(rec))
        except sqlite3.IntegrityError:
            raise Conflict(
                f"deployment {rec.name!r} exists already under endpoint {rec.endpoint!r}; "
                "use `online-deployment update`"
            ) from None

    def save_deployment(self, rec: DeploymentRecord) -> None:
        """Overwrite a deployment row."""
        self._db.execute("INSERT OR REPLACE INTO deployments VALUES (?,?,?,?,?,?,?,?,?,?,?)", _dep_row(rec))

    def set_deployment_state(self, endpoint: str, name: str, state: str, error: str = "") -> None:
        """Record a provisioning state change."""
        self._db.execute(
            "UPDATE deployments SET state=?, error=?, updated_at=? WHERE endpoint=? AND name=?",
            (state, error, time.time(), endpoint, name),
        )

    def deployment(self, endpoint: str, name: str) -> DeploymentRecord:
        """The deployment `name` of `endpoint`; NotFound naming whichever of the two is missing."""
        row = self._db.execute("SELECT * FROM deployments WHERE endpoint=? AND name=?", (endpoint, name)).fetchone()
        if row is None:
            self.endpoint(endpoint)  # "endpoint 'x' not found" when it is the endpoint that is missing
            raise NotFound(f"deployment {name!r} not found under endpoint {endpoint!r}")
        return _deployment(row)

    def deployments(self, endpoint: str | None = None) -> list[DeploymentRecord]:
        """Deployments of one endpoint, or of all, oldest first."""
        if endpoint is None:
            rows = self._db.execute("SELECT * FROM deployments ORDER BY created_at")
        else:
            rows = self._db.execute("SELECT * FROM deployments WHERE endpoint=? ORDER BY created_at", (endpoint,))
        return [_deployment(r) for r in rows]

    def delete_deployment(self, endpoint: str, name: str) -> None:
        """Remove a deployment row."""
        self._db.execute("DELETE FROM deployments WHERE endpoint=? AND name=?", (endpoint, name))

    # --- models ----------------------------------------------------------------------------------------------

    def add_model(self, rec: ModelRecord) -> None:
        """Register a model version; Conflict if that version exists."""
        try:
            self._db.execute(
                f"INSERT INTO models ({_MODEL_COLUMNS}) VALUES (?,?,?,?,?,?,?,?)",
                (
                    rec.name,
                    rec.version,
                    rec.type.value,
                    rec.path,
                    rec.description,
                    rec.source,
                    rec.created_at,
                    int(rec.archived),
                ),
            )
        except sqlite3.IntegrityError:
            raise Conflict(f"model {rec.name}:{rec.version} exists already; register a new version") from None

    def models(self, name: str | None = None) -> list[ModelRecord]:
        """Registered models (one name, or all), newest version last."""
        sql = f"SELECT {_MODEL_COLUMNS} FROM models" + (" WHERE name=?" if name else "") + " ORDER BY name, created_at"
        return [_model(r) for r in self._db.execute(sql, (name,) if name else ())]

    def set_model_archived(self, name: str, version: str, archived: bool) -> None:
        """Archive a model version (or restore it)."""
        self._db.execute("UPDATE models SET archived=? WHERE name=? AND version=?", (int(archived), name, version))

    def delete_model(self, name: str, version: str) -> None:
        """Remove a model version's record."""
        self._db.execute("DELETE FROM models WHERE name=? AND version=?", (name, version))


def _enc(value: Any) -> bytes:
    return msgspec.json.encode(value)


def _ep_row(rec: EndpointRecord) -> tuple[Any, ...]:
    return (
        rec.name,
        _enc(rec.spec),
        rec.source,
        rec.primary_key,
        rec.secondary_key,
        _enc(rec.traffic),
        _enc(rec.mirror),
        rec.created_at,
        rec.updated_at,
        rec.uid,
    )


def _endpoint(row: tuple[Any, ...]) -> EndpointRecord:
    return EndpointRecord(
        name=row[0],
        spec=msgspec.json.decode(row[1], type=OnlineEndpointSpec),
        source=row[2],
        primary_key=row[3],
        secondary_key=row[4],
        traffic=msgspec.json.decode(row[5], type=dict[str, int]),
        mirror=msgspec.json.decode(row[6], type=dict[str, int]),
        created_at=row[7],
        updated_at=row[8],
        uid=row[9],
    )


def _dep_row(rec: DeploymentRecord) -> tuple[Any, ...]:
    return (
        rec.endpoint,
        rec.name,
        _enc(rec.spec),
        rec.source,
        rec.snapshot,
        rec.placement,
        rec.state,
        rec.error,
        _enc(list(rec.notes)),
        rec.created_at,
        rec.updated_at,
    )


def _deployment(row: tuple[Any, ...]) -> DeploymentRecord:
    return DeploymentRecord(
        endpoint=row[0],
        name=row[1],
        spec=msgspec.json.decode(row[2], type=OnlineDeploymentSpec),
        source=row[3],
        snapshot=row[4],
        placement=row[5],
        state=row[6],
        error=row[7],
        notes=tuple(msgspec.json.decode(row[8], type=list[str])),
        created_at=row[9],
        updated_at=row[10],
    )


def _model(row: tuple[Any, ...]) -> ModelRecord:
    return ModelRecord(
        name=row[0],
        version=row[1],
        type=ModelType(row[2]),
        path=row[3],
        description=row[4],
        source=row[5],
        created_at=row[6],
        archived=bool(row[7]),
    )
