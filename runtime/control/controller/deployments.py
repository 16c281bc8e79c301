"""Deployment operations: create, rolling update, delete, show, list and logs."""

from __future__ import annotations

import asyncio
import shutil
import time
from pathlib import Path
from typing import Any

import msgspec

from runtime.control import sources, views
from runtime.control.controller.autoscaling import AutoscalingOps
from runtime.control.controller.core import (
    UPDATE_FAILED,
    ControllerCore,
    as_yaml,
    set_aside,
    spec_yaml,
    stop_and_remove,
    with_changes,
)
from runtime.control.controller.scaling import ScaleOps
from runtime.control.logfiles import tail
from runtime.control.plan import current_sources, discard_snapshot, snapshot
from runtime.control.registry import DeploymentRecord
from runtime.control.supervisor import DeploymentSupervisor
from runtime.errors import Conflict, NotFound, SpecError
from runtime.spec import OnlineDeploymentSpec, load_deployment
from runtime.spec.ignored import deployment_ignored

#: get-logs --container: the scoring server's log (each instance's), or what was copied into the deployment.
INFERENCE, STORAGE = "inference-server", "storage-initializer"
CONTAINERS = (INFERENCE, STORAGE)
#: What an update that changes nothing says (as `rolled: false` beside it).
NOTHING_CHANGED = "nothing changed (same spec, same code and model content): the workers were not restarted"
#: What an update that changes only instance_count says: the count changed in place.
SCALED = "only instance_count changed: instances were added or drained in place, the others were not restarted"


class DeploymentOps:
    """The online-deployment verbs; `scaling` changes a count in place, `autoscaling` adds to what show says."""

    def __init__(self, core: ControllerCore, scaling: ScaleOps, autoscaling: AutoscalingOps) -> None:
        self._core = core
        self._scaling = scaling
        self._autoscaling = autoscaling

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
        async with self._core.lock:
            self._core.registry.endpoint(endpoint)
            key = (endpoint, spec.name)
            for other in self._core.registry.deployments(endpoint):
                if other.name.lower() == spec.name.lower():
                    same = "" if other.name == spec.name else " (names differing only in case are the same name)"
                    raise Conflict(f"deployment {other.name!r} exists already under endpoint {endpoint!r}{same}")
            if key in self._core.sups:
                raise Conflict(f"deployment {spec.name!r} exists already under endpoint {endpoint!r}")
            snap = await asyncio.to_thread(
                snapshot,
                spec,
                base_dir=loaded.base_dir,
                source=loaded.source,
                into=self._core.state.snapshots / endpoint / spec.name,
                resolve_model=self._core.models.resolve,
            )
            try:
                await asyncio.to_thread(
                    self._core.choices.choose_environment, spec, loaded.base_dir, loaded.source, snap
                )
            except BaseException:
                discard_snapshot(snap)
                raise
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
                sup = self._core.supervisor(rec, self._core.taken())
                rec = with_changes(rec, notes=sup.notes)
                self._core.registry.add_deployment(rec)  # a full disk can refuse the row: then no files either
            except BaseException:
                discard_snapshot(snap)
                raise
            self._core.sups[key] = sup
            self._core.busy.add(key)
            self._core.rebuild_routes()
        task = self._core.spawn(self._core.bring_up(endpoint, spec.name, sup, all_traffic=req.all_traffic))
        if req.wait:
            await asyncio.shield(task)
        return self.get_deployment(endpoint, spec.name)

    async def update_deployment(self, endpoint: str, name: str, req: views.SpecRequest) -> dict[str, Any]:
        """online-deployment update: start the new version beside the old, then swap; the old one keeps serving
        if the new one fails. A file re-reads the code and model folders: changed content is copied again and
        rolls the workers, while the same spec over the same content rolls nothing."""
        key = (endpoint, name)
        async with self._core.lock:
            old = self._core.registry.deployment(endpoint, name)
            self._core.check_idle(key)
            text = req.yaml if req.yaml is not None else as_yaml(old.spec)
            source = req.source if req.yaml is not None else old.source
            loaded = load_deployment(text, source=source, overrides=req.set, name=name, endpoint_name=endpoint)
            spec = loaded.spec
            if req.yaml is None:  # --set alone: the files are those of the serving version, as az ml keeps them
                same_files = spec.model == old.spec.model and spec.code_configuration == old.spec.code_configuration
            else:
                now = await asyncio.to_thread(
                    current_sources,
                    spec,
                    base_dir=loaded.base_dir,
                    source=source,
                    resolve_model=self._core.models.resolve,
                )
                same_files = now.same_content(sources.stored(Path(old.snapshot)))
            # A conda file edited in place changes the environment under the same spec: compare what was chosen.
            same_files = same_files and await asyncio.to_thread(
                self._core.choices.same_environment, spec, loaded.base_dir, source, Path(old.snapshot)
            )
            if same_files and spec == old.spec and old.state == "Succeeded" and key in self._core.sups:
                shown = self.get_deployment(endpoint, name)
                shown.update(rolled=False, note=NOTHING_CHANGED)
                return shown
            count_only = msgspec.structs.replace(spec, instance_count=old.spec.instance_count) == old.spec
            scale = same_files and count_only and old.state == "Succeeded" and key in self._core.sups
            if not scale:
                sup, new = await self._prepare_roll(old, spec, loaded.base_dir, source, same_files)
        if scale:  # Azure changes the count in place: instances are added or drained, the others serve on
            task = self._core.spawn(
                self._scaling.scale_deployment(endpoint, name, spec.instance_count, reason="update")
            )
            if req.wait:
                await asyncio.shield(task)
            shown = self.get_deployment(endpoint, name)
            shown.update(rolled=False, note=SCALED)
            return shown
        task = self._core.spawn(self._roll(old, new, sup, same_files))
        if req.wait:
            await asyncio.shield(task)
        shown = self.get_deployment(endpoint, name)
        shown["rolled"] = True
        return shown

    async def _prepare_roll(
        self, old: DeploymentRecord, spec: OnlineDeploymentSpec, base_dir: str, source: str, same_files: bool
    ) -> tuple[DeploymentSupervisor, DeploymentRecord]:
        """The new version's supervisor and record, its files copied unless they are the same; the lock is held."""
        endpoint, name = key = (old.endpoint, old.name)
        snap = Path(old.snapshot)
        if not same_files:
            snap = await asyncio.to_thread(
                snapshot,
                spec,
                base_dir=base_dir,
                source=source,
                into=self._core.state.snapshots / endpoint / name,
                resolve_model=self._core.models.resolve,
            )
            try:
                await asyncio.to_thread(self._core.choices.choose_environment, spec, base_dir, source, snap)
            except BaseException:
                discard_snapshot(snap)
                raise
        new = with_changes(old, spec=spec, source=source, snapshot=str(snap), state="Updating", error="")
        taken = [a for k, s in self._core.sups.items() if k != key for a in s.allocations]
        try:
            sup = self._core.supervisor(new, taken)
            self._core.registry.set_deployment_state(endpoint, name, "Updating")
        except BaseException:
            if not same_files:
                discard_snapshot(snap)
            raise
        self._core.busy.add(key)
        return sup, new

    async def _roll(self, old: DeploymentRecord, new: DeploymentRecord, sup: DeploymentSupervisor, same: bool) -> None:
        """Bring the new version up beside the old one, then swap them; keep the old one if the new one fails."""
        key = (old.endpoint, old.name)
        snap = Path(new.snapshot)
        try:
            error = await self._core.choices.environment_ready(sup.plan) or await sup.start()
        except BaseException:
            self._core.busy.discard(key)
            await _stop_then_discard(sup, None if same else snap)
            raise
        async with self._core.lock:
            self._core.busy.discard(key)
            if error is not None:
                # Its other instances may still be importing from the new snapshot: stop them before removing it,
                # or they log a misleading FileNotFoundError into logs the serving version shares.
                self._core.spawn(_stop_then_discard(sup, None if same else snap), finish=True)
                self._core.registry.set_deployment_state(old.endpoint, old.name, "Failed", UPDATE_FAILED + error)
                return
            old_sup = self._core.sups.get(key)
            self._core.sups[key] = sup
            self._core.registry.save_deployment(with_changes(new, state="Succeeded", notes=sup.notes))
            self._core.rebuild_routes()
            if old_sup is not None:
                self._core.spawn(old_sup.stop(), finish=True)
            if not same:
                shutil.rmtree(old.snapshot, ignore_errors=True)

    async def delete_deployment(self, endpoint: str, name: str, *, wait: bool = True) -> None:
        """online-deployment delete; refused while the deployment takes live or mirrored traffic.

        It leaves the routes at once and shows `Deleting` until its workers have stopped; then it is gone. Without
        `wait` the answer comes at once."""
        key = (endpoint, name)
        async with self._core.lock:
            ep = self._core.registry.endpoint(endpoint)
            rec = self._core.registry.deployment(endpoint, name)
            self._core.check_idle(key)
            live, mirrored = ep.traffic.get(name, 0), ep.mirror.get(name, 0)
            if live > 0 or mirrored > 0:
                how = f'--traffic "{name}=0 ..."' if live > 0 else f'--mirror-traffic "{name}=0"'
                raise Conflict(
                    f"deployment {name!r} still takes traffic ({live} % live, {mirrored} % mirrored); set it to 0 "
                    f"first with `online-endpoint update -n {endpoint} {how}`"
                )
            sup = self._core.sups.pop(key, None)
            self._core.registry.set_deployment_state(endpoint, name, "Deleting")
            self._core.registry.save_endpoint(
                with_changes(ep, traffic={k: v for k, v in ep.traffic.items() if k != name})
            )
            self._core.busy.add(key)  # other changes to it wait with a Conflict, as while Creating or Updating
            self._core.rebuild_routes()
        task = self._core.spawn(self._finish_delete(rec, sup), finish=True)
        if wait:
            await asyncio.shield(task)

    async def _finish_delete(self, rec: DeploymentRecord, sup: DeploymentSupervisor | None) -> None:
        """Stop a deleted deployment's workers, then remove its record and files."""
        try:
            if sup is not None:
                await sup.stop()
        finally:
            async with self._core.lock:
                self._core.busy.discard((rec.endpoint, rec.name))
                self._core.registry.delete_deployment(rec.endpoint, rec.name)
                # As for endpoints: a deployment created again under this name keeps its new files.
                doomed = [
                    set_aside(Path(rec.snapshot).parent, self._core.state.snapshots),
                    set_aside(self._core.state.logs / rec.endpoint / rec.name, self._core.state.logs),
                ]
            await stop_and_remove([], doomed)

    def deployment_name(self, endpoint: str, name: str) -> str:
        """The stored spelling of a deployment name given in any case."""
        return self._core.registry.deployment_name(endpoint, name)

    def get_deployment(self, endpoint: str, name: str) -> dict[str, Any]:
        """online-deployment show."""
        rec = self._core.registry.deployment(endpoint, name)
        sup = self._core.sups.get((endpoint, name))
        # Derived from the stored spec, so `show` lists the same ignored keys after a restart as after create.
        ignored = tuple(dict.fromkeys(deployment_ignored(rec.spec)))
        shown = views.deployment_view(rec, sup.workers() if sup else [], ignored=ignored)
        shown["environment_build"] = self._core.choices.environment_view(Path(rec.snapshot))
        if (autoscale := self._autoscaling.view(endpoint, name)) is not None:
            shown["autoscale"] = autoscale
        return shown

    def list_deployments(self, endpoint: str) -> list[dict[str, Any]]:
        """online-deployment list."""
        self._core.registry.endpoint(endpoint)
        return [self.get_deployment(endpoint, d.name) for d in self._core.registry.deployments(endpoint)]

    async def restart_worker(self, endpoint: str, name: str, instance: int, process: int = 0) -> dict[str, Any]:
        """Replace one worker process: kill it, and the supervisor starts a new one as after a crash."""
        self._core.registry.deployment(endpoint, name)
        sup = self._core.sups.get((endpoint, name))
        if sup is None:
            raise Conflict(f"deployment {name!r} runs no workers now (it is being created, updated or deleted)")
        pid = await sup.restart_worker(instance, process)
        return {"endpoint": endpoint, "deployment": name, "instance": instance, "process": process, "killed_pid": pid}

    async def logs(self, endpoint: str, name: str, lines: int, instance: int = 0, container: str = INFERENCE) -> str:
        """online-deployment get-logs: the last `lines` lines of one instance's log (bounded), or of what was copied."""
        rec = self._core.registry.deployment(endpoint, name)
        if container not in CONTAINERS:
            raise SpecError(f"container {container!r} is not known; use {' or '.join(CONTAINERS)}")
        if container == STORAGE:
            # One record per snapshot: every instance was initialised from the same copy.
            path = sources.log_path(Path(rec.snapshot))
            if not path.exists():
                raise NotFound(f"deployment {name!r} has no storage-initializer log (copied before logs were kept)")
            return await asyncio.to_thread(tail, path, lines)
        path = self._core.state.logs / endpoint / name / f"{name}-{instance}.log"
        try:
            # In a thread: even a bounded read of a large log must not hold up requests to every endpoint.
            return await asyncio.to_thread(tail, path, lines)
        except FileNotFoundError:
            raise NotFound(f"no log for instance {instance} of deployment {name!r}") from None


async def _stop_then_discard(sup: DeploymentSupervisor, snap: Path | None) -> None:
    await sup.stop()
    if snap is not None:
        discard_snapshot(snap)
