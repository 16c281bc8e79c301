"""Deployment operations: create, rolling update, delete, show, list and logs."""

from __future__ import annotations

import asyncio
import shutil
import time
from pathlib import Path
from typing import Any

from runtime.control import views
from runtime.control.controller.core import (
    UPDATE_FAILED,
    ControllerCore,
    as_yaml,
    set_aside,
    spec_yaml,
    with_changes,
)
from runtime.control.logfiles import tail
from runtime.control.plan import discard_snapshot, snapshot
from runtime.control.registry import DeploymentRecord
from runtime.control.supervisor import DeploymentSupervisor
from runtime.errors import Conflict, NotFound, SpecError
from runtime.spec import load_deployment
from runtime.spec.ignored import deployment_ignored


class DeploymentOps(ControllerCore):
    """The online-deployment verbs."""

    async def create_deployment(self, endpoint: str, req: views.DeploymentRequest) -> dict[str, Any]:
        """online-deployment create: snapshot, place, start; with wait, answer once Succeeded or Failed."""
        if req.placement not in ("share", "strict"):
            raise SpecError(f"placement {req.placement!r} is not allowed; use share or strict")
        named = req.endpoint_name or endpoint
        # `endpoint` is the stored spelling; -e may give the same name in another case.
        named = endpoint if named.lower() == endpoint.lower() else named
        loaded = load_deployment(
            spec_yaml(req), source=req.source, overrides=req.set, name=req.name, endpoint_name=named
        )
        spec = loaded.spec
        if spec.endpoint_name != endpoint:
            raise SpecError(f"{req.source}: $.endpoint_name: {spec.endpoint_name!r} does not match {endpoint!r}")
        async with self._lock:
            self.registry.endpoint(endpoint)
            key = (endpoint, spec.name)
            for other in self.registry.deployments(endpoint):
                if other.name.lower() == spec.name.lower():
                    same = "" if other.name == spec.name else " (names differing only in case are the same name)"
                    raise Conflict(f"deployment {other.name!r} exists already under endpoint {endpoint!r}{same}")
            if key in self._sups:
                raise Conflict(f"deployment {spec.name!r} exists already under endpoint {endpoint!r}")
            snap = await asyncio.to_thread(
                snapshot,
                spec,
                base_dir=loaded.base_dir,
                source=loaded.source,
                into=self.state.snapshots / endpoint / spec.name,
                resolve_model=self.models.resolve,
            )
            now = time.time()
            rec = DeploymentRecord(
                endpoint=endpoint,
                name=spec.name,
                spec=spec,
                source=loaded.source,
                snapshot=str(snap),
                placement=req.placement,
                state="Creating",
                error="",
                notes=(),
                created_at=now,
                updated_at=now,
            )
            try:
                sup = self._supervisor(rec, self._taken())
                rec = with_changes(rec, notes=sup.notes)
                self.registry.add_deployment(rec)  # a full disk can refuse the row: then no files either
            except BaseException:
                discard_snapshot(snap)
                raise
            self._sups[key] = sup
            self._busy.add(key)
            self._rebuild_routes()
        task = self._spawn(self._bring_up(endpoint, spec.name, sup, all_traffic=req.all_traffic))
        if req.wait:
            await asyncio.shield(task)
        return self.get_deployment(endpoint, spec.name)

    async def update_deployment(self, endpoint: str, name: str, req: views.SpecRequest) -> dict[str, Any]:
        """online-deployment update: start the new version beside the old, then swap; the old one keeps serving
        if the new one fails."""
        key = (endpoint, name)
        async with self._lock:
            old = self.registry.deployment(endpoint, name)
            self._check_idle(key)
            text = req.yaml if req.yaml is not None else as_yaml(old.spec)
            source = req.source if req.yaml is not None else old.source
            loaded = load_deployment(text, source=source, overrides=req.set, name=name, endpoint_name=endpoint)
            spec = loaded.spec
            same_files = spec.model == old.spec.model and spec.code_configuration == old.spec.code_configuration
            snap = Path(old.snapshot)
            if not same_files:
                snap = await asyncio.to_thread(
                    snapshot,
                    spec,
                    base_dir=loaded.base_dir,
                    source=source,
                    into=self.state.snapshots / endpoint / name,
                    resolve_model=self.models.resolve,
                )
            new = with_changes(old, spec=spec, source=source, snapshot=str(snap), state="Updating", error="")
            old_sup = self._sups.get(key)
            taken = [a for k, s in self._sups.items() if k != key for a in s.allocations]
            try:
                sup = self._supervisor(new, taken)
                self.registry.set_deployment_state(endpoint, name, "Updating")
            except BaseException:
                if not same_files:
                    discard_snapshot(snap)
                raise
            self._busy.add(key)
        try:
            error = await sup.start()
        except BaseException:
            self._busy.discard(key)
            await _stop_then_discard(sup, None if same_files else snap)
            raise
        async with self._lock:
            self._busy.discard(key)
            if error is not None:
                # Its other instances may still be importing from the new snapshot: stop them before removing it,
                # or they log a misleading FileNotFoundError into logs the serving version shares.
                self._spawn(_stop_then_discard(sup, None if same_files else snap))
                self.registry.set_deployment_state(endpoint, name, "Failed", UPDATE_FAILED + error)
            else:
                self._sups[key] = sup
                self.registry.save_deployment(with_changes(new, state="Succeeded", notes=sup.notes))
                self._rebuild_routes()
                if old_sup is not None:
                    self._spawn(old_sup.stop())
                if not same_files:
                    shutil.rmtree(old.snapshot, ignore_errors=True)
        return self.get_deployment(endpoint, name)

    async def delete_deployment(self, endpoint: str, name: str) -> None:
        """online-deployment delete; refused while the deployment takes live or mirrored traffic."""
        async with self._lock:
            ep = self.registry.endpoint(endpoint)
            rec = self.registry.deployment(endpoint, name)
            self._check_idle((endpoint, name))
            live, mirrored = ep.traffic.get(name, 0), ep.mirror.get(name, 0)
            if live > 0 or mirrored > 0:
                how = f'--traffic "{name}=0 ..."' if live > 0 else f'--mirror-traffic "{name}=0"'
                raise Conflict(
                    f"deployment {name!r} still takes traffic ({live} % live, {mirrored} % mirrored); set it to 0 "
                    f"first with `online-endpoint update -n {endpoint} {how}`"
                )
            sup = self._sups.pop((endpoint, name), None)
            self.registry.delete_deployment(endpoint, name)
            ep = with_changes(ep, traffic={k: v for k, v in ep.traffic.items() if k != name})
            self.registry.save_endpoint(ep)
            self._rebuild_routes()
            # As for endpoints: a deployment created again under this name keeps its new files.
            doomed = [
                set_aside(Path(rec.snapshot).parent, self.state.snapshots),
                set_aside(self.state.logs / endpoint / name, self.state.logs),
            ]
        if sup is not None:
            await sup.stop()
        for path in doomed:
            if path is not None:
                shutil.rmtree(path, ignore_errors=True)

    def deployment_name(self, endpoint: str, name: str) -> str:
        """The stored spelling of a deployment name given in any case."""
        return self.registry.deployment_name(endpoint, name)

    def get_deployment(self, endpoint: str, name: str) -> dict[str, Any]:
        """online-deployment show."""
        rec = self.registry.deployment(endpoint, name)
        sup = self._sups.get((endpoint, name))
        # Derived from the stored spec, so `show` lists the same ignored keys after a restart as after create.
        ignored = tuple(dict.fromkeys(deployment_ignored(rec.spec)))
        return views.deployment_view(rec, sup.workers() if sup else [], ignored=ignored)

    def list_deployments(self, endpoint: str) -> list[dict[str, Any]]:
        """online-deployment list."""
        self.registry.endpoint(endpoint)
        return [self.get_deployment(endpoint, d.name) for d in self.registry.deployments(endpoint)]

    async def logs(self, endpoint: str, name: str, lines: int, instance: int = 0) -> str:
        """online-deployment get-logs: the last `lines` lines of one instance's log (bounded; see logfiles.tail)."""
        self.registry.deployment(endpoint, name)
        path = self.state.logs / endpoint / name / f"{name}-{instance}.log"
        try:
            # In a thread: even a bounded read of a large log must not hold up requests to every endpoint.
            return await asyncio.to_thread(tail, path, lines)
        except FileNotFoundError:
            raise NotFound(f"no log for instance {instance} of deployment {name!r}") from None


async def _stop_then_discard(sup: DeploymentSupervisor, snap: Path | None) -> None:
    await sup.stop()
    if snap is not None:
        discard_snapshot(snap)
