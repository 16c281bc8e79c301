"""Batch endpoints, batch deployments, data assets and compute clusters: tables of the same state database.

As in the registry, the control process is the only writer and every change is one transaction. Specs are stored
as decoded Structs (msgspec JSON), with the keys each file carried that mean nothing here, so `show` lists the
same ignored keys after a restart as after create.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from pathlib import Path
from typing import Any

import msgspec

from runtime.errors import Conflict, NotFound
from runtime.spec import BatchDeploymentSpec, BatchEndpointSpec, ComputeSpec, DataSpec
from runtime.statedir import connect_db, write_transaction

_SCHEMA = """
CREATE TABLE IF NOT EXISTS batch_endpoints (
    name TEXT PRIMARY KEY,
    spec BLOB NOT NULL,
    source TEXT NOT NULL,
    ignored BLOB NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS batch_deployments (
    endpoint TEXT NOT NULL REFERENCES batch_endpoints(name) ON DELETE CASCADE,
    name TEXT NOT NULL,
    spec BLOB NOT NULL,
    source TEXT NOT NULL,
    ignored BLOB NOT NULL,
    snapshot TEXT NOT NULL,
    compute TEXT NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    PRIMARY KEY (endpoint, name)
);
CREATE TABLE IF NOT EXISTS data_assets (
    name TEXT NOT NULL,
    version TEXT NOT NULL,
    spec BLOB NOT NULL,
    source TEXT NOT NULL,
    ignored BLOB NOT NULL,
    created_at REAL NOT NULL,
    PRIMARY KEY (name, version)
);
CREATE TABLE IF NOT EXISTS computes (
    name TEXT PRIMARY KEY,
    spec BLOB NOT NULL,
    source TEXT NOT NULL,
    ignored BLOB NOT NULL,
    created_at REAL NOT NULL
);
"""


class BatchEndpointRecord(msgspec.Struct, frozen=True, kw_only=True):
    """A batch endpoint as stored; its default deployment is `spec.defaults.deployment_name`."""

    name: str
    spec: BatchEndpointSpec
    source: str
    ignored: tuple[str, ...]
    created_at: float
    updated_at: float


class BatchDeploymentRecord(msgspec.Struct, frozen=True, kw_only=True):
    """A batch deployment as stored: its spec and the snapshot folder of its code and model."""

    endpoint: str
    name: str
    spec: BatchDeploymentSpec
    source: str
    ignored: tuple[str, ...]
    snapshot: str
    created_at: float
    updated_at: float


class DataRecord(msgspec.Struct, frozen=True, kw_only=True):
    """A data asset version; `spec.path` is the absolute local path it names (nothing is copied)."""

    name: str
    version: str
    spec: DataSpec
    source: str
    ignored: tuple[str, ...]
    created_at: float


class ComputeRecord(msgspec.Struct, frozen=True, kw_only=True):
    """A compute cluster as stored."""

    name: str
    spec: ComputeSpec
    source: str
    ignored: tuple[str, ...]
    created_at: float


class BatchRegistry:
    """Reads and writes the batch resources' tables of the state database."""

    def __init__(self, path: Path) -> None:
        self._db = connect_db(path)
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        """Close the database."""
        self._db.close()

    def spelling(self, kind: str, name: str, endpoint: str | None = None) -> str:
        """The stored spelling of a batch endpoint, batch deployment (of `endpoint`) or compute name given in any
        case, as Azure's names ignore case; `name` itself when there is none."""
        table = {"endpoint": "batch_endpoints", "deployment": "batch_deployments", "compute": "computes"}[kind]
        sql = f"SELECT name FROM {table} WHERE lower(name)=lower(?)"
        args: tuple[str, ...] = (name,)
        if kind == "deployment":
            sql, args = sql + " AND endpoint=?", (name, endpoint or "")
        row = self._db.execute(sql, args).fetchone()
        return str(row[0]) if row else name

    # --- batch endpoints -------------------------------------------------------------------------------------

    def add_endpoint(self, rec: BatchEndpointRecord) -> None:
        """Store a new batch endpoint; Conflict if the name exists, in any case."""
        same = self._db.execute("SELECT name FROM batch_endpoints WHERE lower(name)=lower(?)", (rec.name,)).fetchone()
        if same is not None:
            case = "" if same[0] == rec.name else "; names differing only in case are the same name"
            raise Conflict(f"batch endpoint {same[0]!r} exists already{case}; use `batch-endpoint update`")
        self._db.execute("INSERT INTO batch_endpoints VALUES (?,?,?,?,?,?)", _endpoint_row(rec))

    def save_endpoint(self, rec: BatchEndpointRecord) -> None:
        """Overwrite an existing batch endpoint (an UPDATE: a REPLACE would cascade to its deployments)."""
        self._db.execute(
            "UPDATE batch_endpoints SET spec=?, source=?, ignored=?, updated_at=? WHERE name=?",
            (_enc(rec.spec), rec.source, _enc(list(rec.ignored)), time.time(), rec.name),
        )

    def endpoint(self, name: str) -> BatchEndpointRecord:
        """The batch endpoint `name`; NotFound otherwise."""
        row = self._db.execute("SELECT * FROM batch_endpoints WHERE name=?", (name,)).fetchone()
        if row is None:
            raise NotFound(
                f"batch endpoint {name!r} not found; create it with `modelyard batch-endpoint create -n {name}`"
            )
        return _endpoint(row)

    def endpoints(self) -> list[BatchEndpointRecord]:
        """Every batch endpoint, oldest first."""
        return [_endpoint(r) for r in self._db.execute("SELECT * FROM batch_endpoints ORDER BY created_at")]

    def delete_endpoint(self, name: str) -> None:
        """Remove a batch endpoint and, in the same transaction, its deployments."""
        self._db.execute("DELETE FROM batch_endpoints WHERE name=?", (name,))

    # --- batch deployments -----------------------------------------------------------------------------------

    def add_deployment(self, rec: BatchDeploymentRecord, *, make_default: bool = False) -> None:
        """Store a new batch deployment, and with `make_default` name it the endpoint's default, in one transaction."""
        same = self._db.execute(
            "SELECT name FROM batch_deployments WHERE endpoint=? AND lower(name)=lower(?)", (rec.endpoint, rec.name)
        ).fetchone()
        if same is not None:
            case = "" if same[0] == rec.name else "; names differing only in case are the same name"
            raise Conflict(
                f"batch deployment {same[0]!r} exists already under endpoint {rec.endpoint!r}{case}; "
                "use `batch-deployment update`"
            )
        with self._transaction():
            self._db.execute("INSERT INTO batch_deployments VALUES (?,?,?,?,?,?,?,?,?)", _deployment_row(rec))
            if make_default:
                self._set_default(rec.endpoint, rec.name)

    def save_deployment(self, rec: BatchDeploymentRecord, *, make_default: bool = False) -> None:
        """Overwrite a batch deployment, and with `make_default` name it the endpoint's default."""
        with self._transaction():
            sql = "INSERT OR REPLACE INTO batch_deployments VALUES (?,?,?,?,?,?,?,?,?)"
            self._db.execute(sql, _deployment_row(rec))
            if make_default:
                self._set_default(rec.endpoint, rec.name)

    def _set_default(self, endpoint: str, name: str) -> None:
        ep = self.endpoint(endpoint)
        defaults = msgspec.structs.replace(ep.spec.defaults, deployment_name=name)
        spec = msgspec.structs.replace(ep.spec, defaults=defaults)
        self._db.execute(
            "UPDATE batch_endpoints SET spec=?, updated_at=? WHERE name=?", (_enc(spec), time.time(), endpoint)
        )

    def deployment(self, endpoint: str, name: str) -> BatchDeploymentRecord:
        """The batch deployment `name` of `endpoint`; NotFound naming whichever of the two is missing."""
        row = self._db.execute(
            "SELECT * FROM batch_deployments WHERE endpoint=? AND name=?", (endpoint, name)
        ).fetchone()
        if row is None:
            self.endpoint(endpoint)
            raise NotFound(f"batch deployment {name!r} not found under batch endpoint {endpoint!r}")
        return _deployment(row)

    def deployments(self, endpoint: str | None = None) -> list[BatchDeploymentRecord]:
        """Batch deployments of one endpoint, or of all, oldest first."""
        if endpoint is None:
            rows = self._db.execute("SELECT * FROM batch_deployments ORDER BY created_at")
        else:
            rows = self._db.execute("SELECT * FROM batch_deployments WHERE endpoint=? ORDER BY created_at", (endpoint,))
        return [_deployment(r) for r in rows]

    def delete_deployment(self, endpoint: str, name: str) -> None:
        """Remove a batch deployment row."""
        self._db.execute("DELETE FROM batch_deployments WHERE endpoint=? AND name=?", (endpoint, name))

    def compute_users(self, compute: str) -> list[str]:
        """`<endpoint>/<deployment>` of each batch deployment that runs on `compute`."""
        rows = self._db.execute(
            "SELECT endpoint, name FROM batch_deployments WHERE compute=? ORDER BY created_at", (compute,)
        )
        return [f"{e}/{n}" for e, n in rows]

    # --- data assets -----------------------------------------------------------------------------------------

    def add_data(self, rec: DataRecord) -> None:
        """Register a data asset version; Conflict if that version exists."""
        try:
            self._db.execute(
                "INSERT INTO data_assets VALUES (?,?,?,?,?,?)",
                (rec.name, rec.version, _enc(rec.spec), rec.source, _enc(list(rec.ignored)), rec.created_at),
            )
        except sqlite3.IntegrityError:
            raise Conflict(
                f"data asset {rec.name}:{rec.version} exists already; leave out -v/--version for the next one"
            ) from None

    def data(self, name: str | None = None) -> list[DataRecord]:
        """Data asset versions (of one name, or of all), oldest first."""
        sql = "SELECT * FROM data_assets" + (" WHERE name=?" if name else "") + " ORDER BY name, created_at"
        return [_data(r) for r in self._db.execute(sql, (name,) if name else ())]

    # --- computes --------------------------------------------------------------------------------------------

    def add_compute(self, rec: ComputeRecord) -> None:
        """Store a compute cluster; Conflict if the name exists, in any case."""
        same = self._db.execute("SELECT name FROM computes WHERE lower(name)=lower(?)", (rec.name,)).fetchone()
        if same is not None:
            raise Conflict(f"compute {same[0]!r} exists already; delete it first to create it again")
        self._db.execute(
            "INSERT INTO computes VALUES (?,?,?,?,?)",
            (rec.name, _enc(rec.spec), rec.source, _enc(list(rec.ignored)), rec.created_at),
        )

    def compute(self, name: str) -> ComputeRecord:
        """The compute `name`; NotFound otherwise."""
        row = self._db.execute("SELECT * FROM computes WHERE name=?", (name,)).fetchone()
        if row is None:
            raise NotFound(
                f"compute {name!r} not found; create it with `modelyard compute create --name {name} --type amlcompute`"
            )
        return _compute(row)

    def computes(self) -> list[ComputeRecord]:
        """Every compute cluster, oldest first."""
        return [_compute(r) for r in self._db.execute("SELECT * FROM computes ORDER BY created_at")]

    def delete_compute(self, name: str) -> None:
        """Remove a compute cluster; Conflict while a batch deployment runs on it (checked in the same statement)."""
        with self._transaction():
            users = self.compute_users(name)
            if users:
                raise Conflict(
                    f"compute {name!r} is used by batch deployment(s) {', '.join(users)}; delete them, or move them "
                    "to another compute with `batch-deployment update --set compute=azureml:<other>`, first"
                )
            self._db.execute("DELETE FROM computes WHERE name=?", (name,))

    def _transaction(self) -> contextlib.AbstractContextManager[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT, rolled back on any error (the connection is otherwise in autocommit mode)."""
        return write_transaction(self._db)


def _enc(value: Any) -> bytes:
    return msgspec.json.encode(value)


def _ignored(raw: bytes) -> tuple[str, ...]:
    return tuple(msgspec.json.decode(raw, type=list[str]))


def _endpoint_row(rec: BatchEndpointRecord) -> tuple[Any, ...]:
    return (rec.name, _enc(rec.spec), rec.source, _enc(list(rec.ignored)), rec.created_at, rec.updated_at)


def _endpoint(row: tuple[Any, ...]) -> BatchEndpointRecord:
    return BatchEndpointRecord(
        name=row[0],
        spec=msgspec.json.decode(row[1], type=BatchEndpointSpec),
        source=row[2],
        ignored=_ignored(row[3]),
        created_at=row[4],
        updated_at=row[5],
    )


def _deployment_row(rec: BatchDeploymentRecord) -> tuple[Any, ...]:
    return (
        rec.endpoint,
        rec.name,
        _enc(rec.spec),
        rec.source,
        _enc(list(rec.ignored)),
        rec.snapshot,
        rec.spec.compute,
        rec.created_at,
        rec.updated_at,
    )


def _deployment(row: tuple[Any, ...]) -> BatchDeploymentRecord:
    return BatchDeploymentRecord(
        endpoint=row[0],
        name=row[1],
        spec=msgspec.json.decode(row[2], type=BatchDeploymentSpec),
        source=row[3],
        ignored=_ignored(row[4]),
        snapshot=row[5],
        created_at=row[7],
        updated_at=row[8],
    )


def _data(row: tuple[Any, ...]) -> DataRecord:
    return DataRecord(
        name=row[0],
        version=row[1],
        spec=msgspec.json.decode(row[2], type=DataSpec),
        source=row[3],
        ignored=_ignored(row[4]),
        created_at=row[5],
    )


def _compute(row: tuple[Any, ...]) -> ComputeRecord:
    return ComputeRecord(
        name=row[0],
        spec=msgspec.json.decode(row[1], type=ComputeSpec),
        source=row[2],
        ignored=_ignored(row[3]),
        created_at=row[4],
    )
