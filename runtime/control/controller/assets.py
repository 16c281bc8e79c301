"""Data asset and compute cluster operations.

A data asset records the absolute local path it names: nothing is copied, since data folders can be large. A
compute cluster is a name and a size that batch deployments run on; no process belongs to it.
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

import msgspec

from runtime.control import views
from runtime.control.batch_registry import ComputeRecord, DataRecord
from runtime.control.controller.core import ControllerCore
from runtime.errors import NotFound, SpecError
from runtime.spec import DataType, load_compute, load_data, local_path
from runtime.spec.model import next_version


class AssetOps:
    """The data and compute verbs, over the core's batch registry."""

    def __init__(self, core: ControllerCore) -> None:
        self._core = core

    # --- data --------------------------------------------------------------------------------------------------

    async def create_data(self, req: views.DataRequest) -> dict[str, Any]:
        """data create: record a version of a local file or folder; the version counts up when none is given."""
        if req.yaml is None and (req.name is None or req.path is None):
            raise SpecError("no YAML given: pass the file with -f, or --name and --path (with --type, --version)")
        loaded = load_data(
            req.yaml,
            source=req.source,
            overrides=req.set,
            name=req.name,
            version=req.version,
            path=req.path,
            type=req.type,
            description=req.description,
        )
        spec = loaded.spec
        path = await asyncio.to_thread(_checked_path, spec.path, loaded.base_dir, spec.type, loaded.source)
        async with self._core.lock:
            versions = self._core.batch.data(spec.name)
            version = str(spec.version) if spec.version is not None else next_version(v.version for v in versions)
            rec = DataRecord(
                name=spec.name,
                version=version,
                spec=msgspec.structs.replace(spec, path=path, version=version),
                source=loaded.source,
                ignored=loaded.ignored,
                created_at=time.time(),
            )
            self._core.batch.add_data(rec)
        return views.data_view(rec)

    def list_data(self, name: str | None = None) -> list[dict[str, Any]]:
        """data list: the latest version of each asset, or every version of one (-n), as az ml lists them."""
        records = self._core.batch.data(name)
        if name is None:
            latest = {rec.name: rec for rec in records}  # oldest first, so the last of each name wins
            records = list(latest.values())
        return [views.data_view(rec) for rec in records]

    def get_data(self, name: str, version: str | None, label: str | None) -> dict[str, Any]:
        """data show: one version, or the newest (label latest)."""
        if version is None and label is None:
            raise SpecError("name the version with -v/--version or a label with -l/--label (latest)")
        return views.data_view(self.find_data(name, version, label))

    def find_data(self, name: str, version: str | None, label: str | None) -> DataRecord:
        """One data asset version, by number or by the `latest` label; NotFound saying what exists."""
        records = self._core.batch.data(name)
        if not records:
            raise NotFound(f"data asset {name!r} not found; register it with `modelyard data create`")
        if version is not None:
            for rec in records:
                if rec.version == version:
                    return rec
            have = ", ".join(r.version for r in records)
            raise NotFound(f"data asset {name}:{version} not found (versions: {have})")
        if label != "latest":
            raise SpecError(f"data asset label {label!r} is not known; the only label is latest")
        return records[-1]

    # --- computes ----------------------------------------------------------------------------------------------

    async def create_compute(self, req: views.ComputeRequest) -> dict[str, Any]:
        """compute create: record a cluster batch deployments can name as azureml:<name>."""
        if req.yaml is None and (req.name is None or req.type is None):
            raise SpecError("no YAML given: pass the file with -f, or --name and --type amlcompute")
        loaded = load_compute(
            req.yaml,
            source=req.source,
            overrides=req.set,
            name=req.name,
            type=req.type,
            size=req.size,
            min_instances=req.min_instances,
            max_instances=req.max_instances,
        )
        rec = ComputeRecord(
            name=loaded.spec.name,
            spec=loaded.spec,
            source=loaded.source,
            ignored=loaded.ignored,
            created_at=time.time(),
        )
        async with self._core.lock:
            self._core.batch.add_compute(rec)
        return views.compute_view(rec)

    def get_compute(self, name: str) -> dict[str, Any]:
        """compute show."""
        return views.compute_view(self._core.batch.compute(name))

    def list_computes(self) -> list[dict[str, Any]]:
        """compute list."""
        return [views.compute_view(rec) for rec in self._core.batch.computes()]

    async def delete_compute(self, name: str) -> None:
        """compute delete: refused while a batch deployment runs on it."""
        async with self._core.lock:
            self._core.batch.compute(name)
            self._core.batch.delete_compute(name)


def _checked_path(given: str, base_dir: str, kind: DataType, source: str) -> str:
    """The absolute path a data asset names; it must exist and be what the type says (a folder for uri_folder)."""
    path = os.path.abspath(local_path(given, base_dir))
    where = f"{os.path.basename(source) or source}: $.path" if not source.startswith("<") else "$.path"
    if not os.path.exists(path):
        raise SpecError(f"{where}: {path} does not exist; a data asset names a local file or folder that exists")
    if kind is DataType.URI_FOLDER and not os.path.isdir(path):
        raise SpecError(f"{where}: {path} is not a folder; a uri_folder asset names a folder (use uri_file for a file)")
    if kind is DataType.URI_FILE and not os.path.isfile(path):
        raise SpecError(f"{where}: {path} is not a file; a uri_file asset names a file (use uri_folder for a folder)")
    return path
