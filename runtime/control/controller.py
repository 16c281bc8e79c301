"""The control process's brain: applies management requests to the registry, supervisors and router tables.

It is the only writer of the state database. Mutations run under one lock so they apply in order; starting
workers happens outside the lock, so a slow init() never blocks other management calls.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import secrets
import shutil
import sqlite3
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec

from runtime.control import views
from runtime.control.allocator import Allocation, allocate
from runtime.control.logfiles import rotate_all, tail
from runtime.control.models import ModelStore
from runtime.control.plan import discard_snapshot, snapshot, worker_plan
from runtime.control.registry import DeploymentRecord, EndpointRecord, Registry
from runtime.control.routes import build_routes
from runtime.control.supervisor import DeploymentSupervisor
from runtime.errors import Conflict, ModelyardError, NotFound, SpecError
from runtime.routing.router import Router
from runtime.routing.tokens import Tokens
from runtime.spec import (
    AuthMode,
    load_deployment,
    load_endpoint,
    load_instance_types,
    load_model,
    parse_traffic_arg,
    resolve_instance_type,
    shape_from_resources,
    validate_mirror,
    validate_traffic,
)
from runtime.spec.ignored import deployment_ignored
from runtime.statedir import StateDir

log = logging.getLogger("modelyard.controller")

#: Error prefix of a failed update: the deployment shows Failed while its previous version keeps serving.
UPDATE_FAILED = "update failed, the previous version keeps serving: "
#: Error prefix of a deployment that served before a restart but did not come back: the next restart tries again,
#: as Azure keeps restarting a crashing container, while one that never came up stays down until updated.
RESTART_FAILED = "did not come back after a restart: "
#: How often worker logs are checked for rotation.
LOG_CHECK_S = 30.0


class Controller:
    """Owns the registry, one supervisor per deployment, and the router's tables."""

    def __init__(
        self,
        state: StateDir,
        *,
        cores: list[int],
        gpus: list[int],
        random: Callable[[], float],
        gpu_note: str = "",
        token_lifetime_s: int = 3600,
    ) -> None:
        self.state = state
        state.ensure()
        self.registry = Registry(state.db)
        self.models = ModelStore(self.registry, state.models)
        self.router = Router(random, tokens=Tokens(state.token_secret(), token_lifetime_s, time.time))
        self.base_url = ""
        self._cores = cores
        self._gpus = gpus
        self._gpu_note = gpu_note
        self._lock = asyncio.Lock()
        self._sups: dict[tuple[str, str], DeploymentSupervisor] = {}
        #: deployments being created or updated: other changes to them wait with a Conflict, as in Azure
        self._busy: set[tuple[str, str]] = set()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._socket_dir = _socket_dir(state)

    # --- lifecycle -------------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Bring back every endpoint and deployment from the state database."""
        for folder in (self.state.snapshots, self.state.logs):
            for leftover in folder.glob(".deleted-*"):  # a server stopped in the middle of a delete
                shutil.rmtree(leftover, ignore_errors=True)
        for rec in self.registry.deployments():
            if rec.state == "Failed" and not rec.error.startswith((UPDATE_FAILED, RESTART_FAILED)):
                continue  # it never served (a failed update leaves the previous version serving, so that one returns)
            try:
                sup = self._supervisor(rec, self._taken())
            except ModelyardError as exc:
                self.registry.set_deployment_state(rec.endpoint, rec.name, "Failed", RESTART_FAILED + exc.message)
                continue
            self._sups[(rec.endpoint, rec.name)] = sup
            self._busy.add((rec.endpoint, rec.name))
            self._spawn(self._bring_up(rec.endpoint, rec.name, sup, all_traffic=False, restoring=True))
        self._rebuild_routes()
        self._spawn(self._rotate_logs())

    async def _rotate_logs(self) -> None:
        """Keep every worker log to a bounded size for as long as the server runs."""
        while True:
            await asyncio.sleep(LOG_CHECK_S)
            # logs/<endpoint>/<deployment>/<deployment>-<instance>.log
            try:
                rotated = await asyncio.to_thread(rotate_all, self.state.logs.glob("*/*/*.log"))
            except OSError as exc:  # a full disk, say: keep serving, and try again at the next check
                log.warning("rotating worker logs failed: %s", exc)
                continue
            for path in rotated:
                log.info("rotated %s (kept the older part as %s.1)", path, path.name)

    async def stop(self) -> None:
        """Stop every worker and close the database."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*(s.stop() for s in self._sups.values()), return_exceptions=True)
        self._sups.clear()
        self.registry.close()
        shutil.rmtree(self._socket_dir, ignore_errors=True)

    # --- endpoints -------------------------------------------------------------------------------------------

    async def create_endpoint(self, req: views.SpecRequest) -> dict[str, Any]:
        """online-endpoint create."""
        loaded = load_endpoint(_yaml(req), source=req.source, overrides=req.set, name=req.name)
        spec = loaded.spec
        async with self._lock:
            if spec.traffic or spec.mirror_traffic:
                raise SpecError(
                    f"{Path(loaded.source).name}: $.traffic: traffic cannot be set when an endpoint is created, "
                    "because its deployments do not exist yet; use `online-deployment create --all-traffic` or "
                    '`online-endpoint update --traffic "blue=100"` afterwards'
                )
            now = time.time()
            rec = EndpointRecord(
                name=spec.name,
                spec=spec,
                source=loaded.source,
                primary_key=_new_key(),
                secondary_key=_new_key(),
                traffic=dict(spec.traffic),
                mirror=dict(spec.mirror_traffic),
                created_at=now,
                updated_at=now,
            )
            self.registry.add_endpoint(rec)
            self._rebuild_routes()
        view = views.endpoint_view(rec, self.base_url)
        ignored = list(loaded.ignored)
        if spec.auth_mode is AuthMode.AAD_TOKEN:
            ignored.append(
                "auth_mode aad_token: Entra ID tokens cannot be checked on this machine; modelyard issues its own "
                "tokens (online-endpoint get-credentials), as for aml_token"
            )
        if ignored:
            view["ignored"] = ignored
        return view

    async def update_endpoint(self, name: str, req: views.EndpointUpdate) -> dict[str, Any]:
        """online-endpoint update: from YAML / --set, or --traffic / --mirror-traffic."""
        async with self._lock:
            rec = self.registry.endpoint(name)
            spec = rec.spec
            traffic, mirror = dict(rec.traffic), dict(rec.mirror)
            if req.yaml is not None or req.set:
                text = req.yaml if req.yaml is not None else _as_yaml(spec)
                spec = load_endpoint(text, source=req.source, overrides=req.set, name=name).spec
                if spec.name != name:
                    raise SpecError(f"{req.source}: $.name: {spec.name!r} does not match the endpoint {name!r}")
                # A file or --set that names traffic replaces it; one that does not leaves the live split alone.
                if req.yaml is not None and spec.traffic or _sets(req.set, "traffic"):
                    traffic = dict(spec.traffic)
                if req.yaml is not None and spec.mirror_traffic or _sets(req.set, "mirror_traffic"):
                    mirror = dict(spec.mirror_traffic)
            if req.traffic is not None:
                traffic = {**traffic, **parse_traffic_arg(req.traffic)}
            if req.mirror_traffic is not None:
                mirror = parse_traffic_arg(req.mirror_traffic)
            names = [d.name for d in self.registry.deployments(name)]
            traffic, mirror = _spelled_as(traffic, names), _spelled_as(mirror, names)
            validate_traffic(traffic, names)
            validate_mirror(mirror, traffic, names)
            self._check_running(name, traffic, rec.traffic, "traffic")
            self._check_running(name, mirror, rec.mirror, "mirror traffic")
            rec = _replace(rec, spec=spec, traffic=traffic, mirror={k: v for k, v in mirror.items() if v})
            self.registry.save_endpoint(rec)
            self._rebuild_routes()
        return views.endpoint_view(rec, self.base_url)

    async def delete_endpoint(self, name: str) -> None:
        """online-endpoint delete: stops and removes every deployment too."""
        async with self._lock:
            self.registry.endpoint(name)
            for key in self._busy:
                if key[0] == name:
                    self._check_idle(key)
            sups = [(k, self._sups.pop(k)) for k in list(self._sups) if k[0] == name]
            self.registry.delete_endpoint(name)
            self._rebuild_routes()
            # Moved aside under the lock: an endpoint created again under this name while the old workers stop
            # must not lose its new files to the removal below.
            doomed = [
                _set_aside(self.state.snapshots / name, self.state.snapshots),
                _set_aside(self.state.logs / name, self.state.logs),
            ]
        await asyncio.gather(*(s.stop() for _, s in sups), return_exceptions=True)
        for path in doomed:
            if path is not None:
                shutil.rmtree(path, ignore_errors=True)

    def endpoint_name(self, name: str) -> str:
        """The stored spelling of an endpoint name given in any case (Azure's names ignore case)."""
        return self.registry.endpoint_name(name)

    def deployment_name(self, endpoint: str, name: str) -> str:
        """The stored spelling of a deployment name given in any case."""
        return self.registry.deployment_name(endpoint, name)

    def get_endpoint(self, name: str) -> dict[str, Any]:
        """online-endpoint show."""
        return views.endpoint_view(self.registry.endpoint(name), self.base_url)

    def list_endpoints(self) -> list[dict[str, Any]]:
        """online-endpoint list."""
        return [views.endpoint_view(r, self.base_url) for r in self.registry.endpoints()]

    def keys(self, name: str) -> dict[str, Any]:
        """online-endpoint get-credentials: the keys, or a new token for token endpoints."""
        rec = self.registry.endpoint(name)
        if rec.spec.auth_mode is not AuthMode.KEY:
            assert self.router.tokens is not None
            return self.router.tokens.issue(name)
        return {"primaryKey": rec.primary_key, "secondaryKey": rec.secondary_key}

    async def regenerate_keys(self, name: str, req: views.RegenerateKeys) -> dict[str, str]:
        """online-endpoint regenerate-keys: only the named key changes."""
        if self.registry.endpoint(name).spec.auth_mode is not AuthMode.KEY:
            raise Conflict(
                f"endpoint {name!r} authenticates with tokens, not keys; "
                f"get a fresh token with `online-endpoint get-credentials -n {name}`"
            )
        kind = req.keyType.lower()
        if kind not in ("primary", "secondary"):
            raise SpecError(f"key type {req.keyType!r} is not allowed; use primary or secondary")
        if req.keyValue is not None:
            _check_key_value(req.keyValue)
        async with self._lock:
            rec = self.registry.endpoint(name)
            new = req.keyValue or _new_key()
            rec = _replace(rec, **{f"{kind}_key": new})
            self.registry.save_endpoint(rec)
            self._rebuild_routes()
        return {"primaryKey": rec.primary_key, "secondaryKey": rec.secondary_key}

    # --- deployments -----------------------------------------------------------------------------------------

    async def create_deployment(self, endpoint: str, req: views.DeploymentRequest) -> dict[str, Any]:
        """online-deployment create: snapshot, place, start; with wait, answer once Succeeded or Failed."""
        if req.placement not in ("share", "strict"):
            raise SpecError(f"placement {req.placement!r} is not allowed; use share or strict")
        named = req.endpoint_name or endpoint
        # `endpoint` is the stored spelling; -e may give the same name in another case.
        named = endpoint if named.lower() == endpoint.lower() else named
        loaded = load_deployment(_yaml(req), source=req.source, overrides=req.set, name=req.name, endpoint_name=named)
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
            except BaseException:
                discard_snapshot(snap)
                raise
            rec = _replace(rec, notes=sup.notes)
            self.registry.add_deployment(rec)
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
            text = req.yaml if req.yaml is not None else _as_yaml(old.spec)
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
            new = _replace(old, spec=spec, source=source, snapshot=str(snap), state="Updating", error="")
            old_sup = self._sups.get(key)
            taken = [a for k, s in self._sups.items() if k != key for a in s.allocations]
            try:
                sup = self._supervisor(new, taken)
            except BaseException:
                if not same_files:
                    discard_snapshot(snap)
                raise
            self.registry.set_deployment_state(endpoint, name, "Updating")
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
                self.registry.save_deployment(_replace(new, state="Succeeded", notes=sup.notes))
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
            ep = _replace(ep, traffic={k: v for k, v in ep.traffic.items() if k != name})
            self.registry.save_endpoint(ep)
            self._rebuild_routes()
            # As for endpoints: a deployment created again under this name keeps its new files.
            doomed = [
                _set_aside(Path(rec.snapshot).parent, self.state.snapshots),
                _set_aside(self.state.logs / endpoint / name, self.state.logs),
            ]
        if sup is not None:
            await sup.stop()
        for path in doomed:
            if path is not None:
                shutil.rmtree(path, ignore_errors=True)

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

    def logs(self, endpoint: str, name: str, lines: int, instance: int = 0) -> str:
        """online-deployment get-logs: the last `lines` lines of one instance's log."""
        self.registry.deployment(endpoint, name)
        path = self.state.logs / endpoint / name / f"{name}-{instance}.log"
        if not path.exists():
            raise NotFound(f"no log for instance {instance} of deployment {name!r}")
        return tail(path, lines)

    # --- models ----------------------------------------------------------------------------------------------

    async def create_model(self, req: views.SpecRequest) -> dict[str, Any]:
        """model create: copy the model into the local registry under name and version."""
        loaded = load_model(_yaml(req), source=req.source, overrides=req.set, name=req.name, version=req.version)
        async with self._lock:
            rec = await self.models.register(loaded)
        return views.model_view(rec)

    def list_models(self, name: str | None = None) -> list[dict[str, Any]]:
        """model list."""
        return [views.model_view(m) for m in self.registry.models(name)]

    # --- internals -------------------------------------------------------------------------------------------

    def _taken(self) -> list[Allocation]:
        return [a for s in self._sups.values() for a in s.allocations]

    def _supervisor(self, rec: DeploymentRecord, taken: list[Allocation]) -> DeploymentSupervisor:
        spec = rec.spec
        plan = worker_plan(spec, Path(rec.snapshot))
        extra = load_instance_types(self.state.instance_types)
        if spec.instance_type:
            shape = resolve_instance_type(spec.instance_type, extra)
        elif spec.resources is not None:
            shape = shape_from_resources(spec.resources)
        else:
            raise SpecError(f"{rec.source}: $.instance_type: required (e.g. Standard_DS3_v2, or cpu1 locally)")
        result = allocate(
            count=spec.instance_count,
            cores_per=shape.cores,
            gpus_per=shape.gpus,
            machine_cores=self._cores,
            machine_gpus=self._gpus,
            taken=taken,
            placement="strict" if rec.placement == "strict" else "share",
            label=f"instance of {rec.name}",
        )
        notes = list(result.notes)
        if shape.gpus and not self._gpus and self._gpu_note:
            notes.append(self._gpu_note)
        return DeploymentSupervisor(
            name=rec.name,
            plan=plan,
            spec=spec,
            allocations=result.allocations,
            notes=tuple(notes),
            socket_dir=self._socket_dir,
            log_dir=self.state.logs / rec.endpoint / rec.name,
            on_change=self._rebuild_routes,
        )

    async def _bring_up(
        self, endpoint: str, name: str, sup: DeploymentSupervisor, *, all_traffic: bool, restoring: bool = False
    ) -> None:
        try:
            error = await sup.start()
        finally:
            self._busy.discard((endpoint, name))
        async with self._lock:
            if self._sups.get((endpoint, name)) is not sup:
                self._spawn(sup.stop())  # the server is stopping, or the endpoint went away meanwhile
                return
            if error is not None:
                self._sups.pop((endpoint, name), None)
                hint = f"see `modelyard online-deployment get-logs -n {name} -e {endpoint}`"
                prefix = RESTART_FAILED if restoring else ""
                self.registry.set_deployment_state(endpoint, name, "Failed", f"{prefix}{error}; {hint}")
                self._rebuild_routes()
                self._spawn(sup.stop())
                return
            self.registry.set_deployment_state(endpoint, name, "Succeeded")
            if all_traffic:
                ep = self.registry.endpoint(endpoint)
                traffic = dict.fromkeys(ep.traffic, 0) | {name: 100}
                mirror = {k: v for k, v in ep.mirror.items() if k != name}
                self.registry.save_endpoint(_replace(ep, traffic=traffic, mirror=mirror))
            self._rebuild_routes()

    def _check_running(self, endpoint: str, shares: dict[str, int], before: dict[str, int], what: str) -> None:
        """A deployment with no workers (it failed to come up) cannot be given a share it did not have."""
        for dep, percent in shares.items():
            if percent > 0 and before.get(dep, 0) == 0 and (endpoint, dep) not in self._sups:
                state = self.registry.deployment(endpoint, dep).state
                raise Conflict(
                    f"deployment {dep!r} is {state} and has no workers, so it cannot take {what}; fix it with "
                    f"`online-deployment update -n {dep} -e {endpoint}` first (see its get-logs)"
                )

    def _check_idle(self, key: tuple[str, str]) -> None:
        if key in self._busy:
            state = self.registry.deployment(*key).state
            raise Conflict(
                f"deployment {key[1]!r} of endpoint {key[0]!r} is {state}; wait until it is done and try again"
            )

    def _rebuild_routes(self) -> None:
        try:
            endpoints = self.registry.endpoints()
        except sqlite3.ProgrammingError:  # the database is closed during shutdown
            return
        self.router.endpoints = build_routes(endpoints, self._sups, self.router.endpoints)

    def _spawn(self, coro: Any) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task


def _socket_dir(state: StateDir) -> Path:
    """A private folder for worker sockets, named after the state directory.

    It lives in the temp folder because Unix socket paths are limited to about 107 bytes. Only one server runs per
    state directory, so a folder left by a server that was killed is emptied here.
    """
    digest = hashlib.sha1(str(state.root).encode()).hexdigest()[:12]
    path = Path(tempfile.gettempdir()) / f"modelyard-{os.getuid()}-{digest}"
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(mode=0o700)
    return path


def _sets(overrides: list[str], key: str) -> bool:
    """True when a --set override writes `key` or something under it."""
    return any(o.partition("=")[0].strip().split(".")[0] == key for o in overrides)


async def _stop_then_discard(sup: DeploymentSupervisor, snap: Path | None) -> None:
    await sup.stop()
    if snap is not None:
        discard_snapshot(snap)


def _set_aside(path: Path, root: Path) -> Path | None:
    """Rename `path` to a hidden name directly under `root` that nothing else will use; None if it is not there."""
    aside = root / f".deleted-{path.name}-{uuid.uuid4().hex[:8]}"
    try:
        path.rename(aside)
    except FileNotFoundError:
        return None
    return aside


def _spelled_as(shares: dict[str, int], names: list[str]) -> dict[str, int]:
    """Deployment names in a traffic map, in their stored spelling (Azure's names ignore case)."""
    stored = {n.lower(): n for n in names}
    return {stored.get(k.lower(), k): v for k, v in shares.items()}


def _new_key() -> str:
    return secrets.token_urlsafe(24)


def _check_key_value(key: str) -> None:
    # The key travels in an Authorization header, which clients send as ASCII and the front end strips: a key with
    # spaces or other characters would be saved yet never match, locking the user out of it.
    if not 16 <= len(key) <= 1024 or not all("!" <= ch <= "~" for ch in key):
        raise SpecError(
            "a key value must be 16 to 1024 visible ASCII characters (letters, digits and punctuation; no spaces)"
        )


def _yaml(req: views.SpecRequest) -> str:
    if req.yaml is None:
        raise SpecError("no YAML given: pass the file with -f")
    return req.yaml


def _as_yaml(spec: Any) -> str:
    # JSON is YAML: re-decoding the stored spec lets --set apply to it with the same rules as to a file.
    return msgspec.json.encode(spec).decode()


def _replace(rec: Any, **changes: Any) -> Any:
    return msgspec.structs.replace(rec, **changes)
