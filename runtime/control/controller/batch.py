"""Batch endpoint and batch deployment operations: create, update, delete, show, list.

A batch deployment is its spec plus a snapshot of its code and model, made as an online deployment's is; no
worker runs for it until a job does. Its endpoint and its compute must exist, and the endpoint's default
deployment (`defaults.deployment_name`) must be one of its deployments.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import time
from pathlib import Path
from typing import Any

import msgspec

from runtime.control import views
from runtime.control.batch_registry import BatchDeploymentRecord, BatchEndpointRecord
from runtime.control.controller.core import ControllerCore, as_yaml, set_aside, spec_yaml, stop_and_remove, with_changes
from runtime.control.controller.jobs import JobOps
from runtime.control.plan import discard_snapshot, snapshot
from runtime.errors import Conflict, NotFound, SpecError
from runtime.spec import BatchDeploymentSpec, load_batch_deployment, load_batch_endpoint


class BatchOps:
    """The batch-endpoint and batch-deployment verbs; a delete waits for no job, `jobs` refuses it while one runs."""

    def __init__(self, core: ControllerCore, jobs: JobOps) -> None:
        self._core = core
        self._jobs = jobs

    # --- endpoints ---------------------------------------------------------------------------------------------

    async def create_batch_endpoint(self, req: views.SpecRequest) -> dict[str, Any]:
        """batch-endpoint create: from YAML, or from -n alone (token auth, no default yet)."""
        if req.yaml is None and req.name is None:
            raise SpecError("no YAML given: pass the file with -f, or name the endpoint with -n")
        text = req.yaml if req.yaml is not None else "{}"
        loaded = load_batch_endpoint(text, source=req.source, overrides=req.set, name=req.name)
        spec = loaded.spec
        if spec.defaults.deployment_name is not None:
            raise SpecError(
                f"{_file(loaded.source)}$.defaults.deployment_name: no deployment exists when an endpoint is created; "
                "leave it out and use `batch-deployment create --set-default`, or `batch-endpoint update "
                f"-n {spec.name} --set defaults.deployment_name=<deployment>` once it exists"
            )
        now = time.time()
        rec = BatchEndpointRecord(
            name=spec.name, spec=spec, source=loaded.source, ignored=loaded.ignored, created_at=now, updated_at=now
        )
        async with self._core.lock:
            self._core.batch.add_endpoint(rec)
        return views.batch_endpoint_view(rec, self._core.base_url)

    async def update_batch_endpoint(self, name: str, req: views.SpecRequest) -> dict[str, Any]:
        """batch-endpoint update: a file and/or --set (defaults.deployment_name=D switches the default)."""
        async with self._core.lock:
            rec = self._core.batch.endpoint(name)
            text = req.yaml if req.yaml is not None else as_yaml(rec.spec)
            source = req.source if req.yaml is not None else rec.source
            loaded = load_batch_endpoint(text, source=source, overrides=req.set, name=name)
            spec = loaded.spec
            default = spec.defaults.deployment_name
            if default is not None:
                names = {d.name.lower(): d.name for d in self._core.batch.deployments(name)}
                if default.lower() not in names:
                    have = ", ".join(sorted(names.values())) or "none yet"
                    raise SpecError(
                        f"{_file(loaded.source)}$.defaults.deployment_name: {default!r} is not a deployment of batch "
                        f"endpoint {name!r} (its deployments: {have}); create it with `batch-deployment create` first"
                    )
                spec = with_changes(spec, defaults=with_changes(spec.defaults, deployment_name=names[default.lower()]))
            ignored = loaded.ignored if req.yaml is not None else rec.ignored
            rec = with_changes(rec, spec=spec, source=source, ignored=ignored)
            self._core.batch.save_endpoint(rec)
        return views.batch_endpoint_view(rec, self._core.base_url)

    async def delete_batch_endpoint(self, name: str) -> None:
        """batch-endpoint delete: its deployments and their snapshots go too, as in az ml; refused while one of
        its jobs is unfinished."""
        self._jobs.refuse_unfinished(self._core.batch.endpoint(name).name, None)
        async with self._core.lock:
            self._core.batch.endpoint(name)
            self._core.batch.delete_endpoint(name)
            # Moved aside under the lock, so an endpoint created again under this name keeps its new files.
            doomed = [set_aside(self._core.state.batch_snapshots / name, self._core.state.batch_snapshots)]
        await stop_and_remove([], doomed)

    def get_batch_endpoint(self, name: str) -> dict[str, Any]:
        """batch-endpoint show."""
        return views.batch_endpoint_view(self._core.batch.endpoint(name), self._core.base_url)

    def list_batch_endpoints(self) -> list[dict[str, Any]]:
        """batch-endpoint list."""
        return [views.batch_endpoint_view(rec, self._core.base_url) for rec in self._core.batch.endpoints()]

    # --- deployments -------------------------------------------------------------------------------------------

    async def create_batch_deployment(self, endpoint: str, req: views.BatchDeploymentRequest) -> dict[str, Any]:
        """batch-deployment create: check the endpoint and compute, snapshot code and model, record it."""
        named = req.endpoint_name or endpoint
        # `endpoint` is the stored spelling; -e may give the same name in another case.
        named = endpoint if named.lower() == endpoint.lower() else named
        loaded = load_batch_deployment(
            spec_yaml(req), source=req.source, overrides=req.set, name=req.name, endpoint_name=named
        )
        spec = loaded.spec
        if spec.endpoint_name != endpoint:
            raise SpecError(f"{req.source}: $.endpoint_name: {spec.endpoint_name!r} does not match {endpoint!r}")
        async with self._core.lock:
            self._core.batch.endpoint(endpoint)
            spec = self._check_compute(spec, loaded.source)
            for other in self._core.batch.deployments(endpoint):
                if other.name.lower() == spec.name.lower():
                    raise Conflict(
                        f"batch deployment {other.name!r} exists already under endpoint {endpoint!r}; "
                        "use `batch-deployment update`"
                    )
            snap = await self._snapshot(spec, loaded.base_dir, loaded.source)
            now = time.time()
            rec = BatchDeploymentRecord(
                endpoint=endpoint,
                name=spec.name,
                spec=spec,
                source=loaded.source,
                ignored=loaded.ignored,
                snapshot=str(snap),
                created_at=now,
                updated_at=now,
            )
            try:
                self._core.batch.add_deployment(rec, make_default=req.set_default)
            except BaseException:
                discard_snapshot(snap)
                raise
        return views.batch_deployment_view(rec)

    async def update_batch_deployment(
        self, endpoint: str, name: str, req: views.BatchDeploymentRequest
    ) -> dict[str, Any]:
        """batch-deployment update: a file is snapshotted again; --set alone keeps the files unless it moves them."""
        async with self._core.lock:
            old = self._core.batch.deployment(endpoint, name)
            text = req.yaml if req.yaml is not None else as_yaml(old.spec)
            source = req.source if req.yaml is not None else old.source
            loaded = load_batch_deployment(text, source=source, overrides=req.set, name=name, endpoint_name=endpoint)
            spec = self._check_compute(loaded.spec, loaded.source)
            same_files = spec.model == old.spec.model and spec.code_configuration == old.spec.code_configuration
            snap = Path(old.snapshot)
            if req.yaml is not None or not same_files:
                # --set alone resolves relative paths against the folder of the file the deployment came from.
                base_dir = loaded.base_dir or (os.path.dirname(old.source) if not old.source.startswith("<") else "")
                snap = await self._snapshot(spec, base_dir, source)
            ignored = loaded.ignored if req.yaml is not None else old.ignored
            new = with_changes(
                old, spec=spec, source=source, ignored=ignored, snapshot=str(snap), updated_at=time.time()
            )
            try:
                self._core.batch.save_deployment(new, make_default=req.set_default)
            except BaseException:
                if snap != Path(old.snapshot):
                    discard_snapshot(snap)
                raise
            if snap != Path(old.snapshot):
                shutil.rmtree(old.snapshot, ignore_errors=True)
        return views.batch_deployment_view(new)

    async def delete_batch_deployment(self, endpoint: str, name: str) -> None:
        """batch-deployment delete: refused while the endpoint names it as its default or one of its jobs is
        unfinished."""
        found = self._core.batch.deployment(endpoint, name)
        self._jobs.refuse_unfinished(found.endpoint, found.name)
        async with self._core.lock:
            ep = self._core.batch.endpoint(endpoint)
            rec = self._core.batch.deployment(endpoint, name)
            if ep.spec.defaults.deployment_name == name:
                raise Conflict(
                    f"batch deployment {name!r} is the default of batch endpoint {endpoint!r}; make another "
                    f"deployment the default first with `modelyard batch-endpoint update -n {endpoint} --set "
                    f"defaults.deployment_name=<other>`, or delete the endpoint with its deployments"
                )
            self._core.batch.delete_deployment(endpoint, name)
            doomed = [set_aside(Path(rec.snapshot).parent, self._core.state.batch_snapshots)]
        await stop_and_remove([], doomed)

    def get_batch_deployment(self, endpoint: str, name: str) -> dict[str, Any]:
        """batch-deployment show."""
        rec = self._core.batch.deployment(endpoint, name)
        return {
            **views.batch_deployment_view(rec),
            "environment_build": self._core.choices.environment_view(Path(rec.snapshot)),
        }

    def list_batch_deployments(self, endpoint: str) -> list[dict[str, Any]]:
        """batch-deployment list."""
        self._core.batch.endpoint(endpoint)
        return [views.batch_deployment_view(rec) for rec in self._core.batch.deployments(endpoint)]

    def _check_compute(self, spec: BatchDeploymentSpec, source: str) -> BatchDeploymentSpec:
        """`spec` naming its compute as stored (names ignore case); NotFound saying how to create a missing one."""
        try:
            found = self._core.batch.compute(self._core.batch.spelling("compute", spec.compute))
        except NotFound:
            raise NotFound(
                f"{_file(source)}$.compute: compute {spec.compute!r} does not exist; create it with "
                f"`modelyard compute create --name {spec.compute} --type amlcompute`"
            ) from None
        return msgspec.structs.replace(spec, compute=found.name)

    async def _snapshot(self, spec: BatchDeploymentSpec, base_dir: str, source: str) -> Path:
        """Copy code and model, choose the environment and build it: a bad pin fails the create, leaving nothing."""
        snap = await asyncio.to_thread(
            snapshot,
            spec,
            base_dir=base_dir,
            source=source,
            into=self._core.state.batch_snapshots / spec.endpoint_name / spec.name,
            resolve_model=self._core.models.resolve,
        )
        try:
            chosen = await asyncio.to_thread(self._core.choices.choose_environment, spec, base_dir, source, snap)
            await self._core.choices.build_environment(chosen)
        except BaseException:
            discard_snapshot(snap)
            raise
        return snap


def _file(source: str) -> str:
    """The file an error names, as the spec loaders name it; nothing for a request without a file."""
    return "" if source.startswith("<") else f"{os.path.basename(source)}: "
