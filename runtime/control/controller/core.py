"""The state every management operation shares: registry, supervisors, the lock, and the router's tables.

It is the only writer of the state database. Mutations run under one lock so they apply in order; starting
workers happens outside the lock, so a slow init() never blocks other management calls.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
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
from runtime.control.batch_registry import BatchRegistry
from runtime.control.controller.choices import EnvironmentChoices
from runtime.control.environments import EnvironmentStore
from runtime.control.logfiles import rotate_all
from runtime.control.mirror_report import MirrorReports
from runtime.control.models import ModelStore
from runtime.control.plan import worker_plan
from runtime.control.registry import DeploymentRecord, Registry
from runtime.control.restarts import Backoff
from runtime.control.routes import build_routes
from runtime.control.supervisor import DeploymentSupervisor
from runtime.control.tasks import ServiceTasks, Task
from runtime.envs.cache import EnvCache
from runtime.errors import Conflict, ModelyardError, SpecError
from runtime.routing.router import Router
from runtime.routing.tokens import Tokens
from runtime.spec import (
    DEFAULT_INSTANCE_TYPE,
    DeploymentType,
    load_instance_types,
    resolve_instance_type,
    shape_from_resources,
)
from runtime.statedir import StateDir

log = logging.getLogger("modelyard.controller")

#: Error prefix of a failed update: the deployment shows Failed while its previous version keeps serving.
UPDATE_FAILED = "update failed, the previous version keeps serving: "
#: Error prefix of a deployment that served before a restart but did not come back: the next restart tries again,
#: as Azure keeps restarting a crashing container, while one that never came up stays down until updated.
RESTART_FAILED = "did not come back after a restart: "
#: How often worker logs are checked for rotation.
LOG_CHECK_S = 30.0


class ControllerCore:
    """The shared state, the server's lifecycle, and how a deployment record becomes running workers.

    The parts of the controller (endpoints, deployments, jobs, ...) each hold this one object."""

    def __init__(
        self,
        state: StateDir,
        *,
        cores: list[int],
        gpus: list[int],
        random: Callable[[], float],
        gpu_note: str = "",
        token_lifetime_s: int = 3600,
        envs: EnvCache | None = None,
    ) -> None:
        self.state = state
        state.ensure()
        self.registry = Registry(state.db)
        self.models = ModelStore(self.registry, state.models)
        self.envs = envs or EnvCache(state.environments)
        self.environments = EnvironmentStore(state.db, self.envs)
        self.batch = BatchRegistry(state.db)
        self.choices = EnvironmentChoices(self.envs, self.environments)
        self.router = Router(random, tokens=Tokens(state.token_secret(), token_lifetime_s, time.time))
        self.mirrors = MirrorReports(state.db, self.router.mirror.log)
        self.base_url = ""
        self.cores = cores
        self.gpus = gpus
        self.gpu_note = gpu_note
        self.lock = asyncio.Lock()
        self.sups: dict[tuple[str, str], DeploymentSupervisor] = {}
        #: deployments being created or updated: other changes to them wait with a Conflict, as in Azure
        self.busy: set[tuple[str, str]] = set()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._finishing: set[asyncio.Task[Any]] = set()
        #: the server's long-lived tasks (serve holds their group open); `_loops` are the controller's own
        self.tasks = ServiceTasks()
        self._loops: list[Task] = []
        self.socket_dir = _socket_dir(state)

    async def start(self) -> None:
        """Bring back every endpoint and deployment from the state database."""
        for folder in (self.state.snapshots, self.state.logs, self.state.batch_snapshots):
            for leftover in folder.glob(".deleted-*"):  # a server stopped in the middle of a delete
                shutil.rmtree(leftover, ignore_errors=True)
        for rec in self.registry.deployments():
            if rec.state == "Deleting":  # the server stopped before a delete finished: finish it
                self.registry.delete_deployment(rec.endpoint, rec.name)
                shutil.rmtree(Path(rec.snapshot).parent, ignore_errors=True)
                shutil.rmtree(self.state.logs / rec.endpoint / rec.name, ignore_errors=True)
                continue
            if rec.state == "Failed" and not rec.error.startswith((UPDATE_FAILED, RESTART_FAILED)):
                continue  # it never served (a failed update leaves the previous version serving, so that one returns)
            try:
                sup = self.supervisor(rec, self.taken())
            except ModelyardError as exc:
                self.registry.set_deployment_state(rec.endpoint, rec.name, "Failed", RESTART_FAILED + exc.message)
                continue
            self.sups[(rec.endpoint, rec.name)] = sup
            self.busy.add((rec.endpoint, rec.name))
            self.spawn(self.bring_up(rec.endpoint, rec.name, sup, all_traffic=False, restoring=True))
        self.rebuild_routes()
        self.loop("worker log rotation", self._rotate_logs)

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
        for loop in self._loops:
            loop.cancel()
        await asyncio.gather(*(s.stop() for s in self.sups.values()), *list(self._finishing), return_exceptions=True)
        self.sups.clear()
        for loop in self._loops:
            await loop.wait()
        self.mirrors.close()  # after the workers: the copies they answered while stopping are counted too
        self.registry.close()
        self.environments.close()
        self.batch.close()
        shutil.rmtree(self.socket_dir, ignore_errors=True)

    def taken(self) -> list[Allocation]:
        """Every allocation the running deployments hold."""
        return [a for s in self.sups.values() for a in s.allocations]

    def supervisor(self, rec: DeploymentRecord, taken: list[Allocation]) -> DeploymentSupervisor:
        """A supervisor for the deployment's workers, placed next to `taken`; not started yet."""
        plan = worker_plan(rec.spec, Path(rec.snapshot), self.envs)
        allocations, notes = self.place(rec, rec.spec.instance_count, taken)
        return DeploymentSupervisor(
            name=rec.name,
            plan=plan,
            spec=rec.spec,
            allocations=allocations,
            notes=notes,
            socket_dir=self.socket_dir,
            log_dir=self.state.logs / rec.endpoint / rec.name,
            on_change=self.rebuild_routes,
            tasks=self.tasks,
        )

    def place(
        self, rec: DeploymentRecord, count: int, taken: list[Allocation]
    ) -> tuple[tuple[Allocation, ...], tuple[str, ...]]:
        """Cores (and GPUs) for `count` instances of the deployment next to `taken`, and notes on the placement."""
        spec = rec.spec
        extra = load_instance_types(self.state.instance_types)
        if spec.instance_type:
            shape = resolve_instance_type(spec.instance_type, extra)
        elif spec.resources is not None:
            shape = shape_from_resources(spec.resources)
        elif spec.type is DeploymentType.KUBERNETES:
            shape = resolve_instance_type(DEFAULT_INSTANCE_TYPE, extra)  # as Azure's Kubernetes extension does
        else:
            raise SpecError(f"{rec.source}: $.instance_type: required (e.g. Standard_DS3_v2, or cpu1 locally)")
        result = allocate(
            count=count,
            cores_per=shape.cores,
            gpus_per=shape.gpus,
            machine_cores=self.cores,
            machine_gpus=self.gpus,
            taken=taken,
            placement="strict" if rec.placement == "strict" else "share",
            deployment=rec.name,
        )
        notes = list(result.notes)
        if shape.gpus and not self.gpus and self.gpu_note:
            notes.append(self.gpu_note)
        return result.allocations, tuple(notes)

    async def bring_up(
        self, endpoint: str, name: str, sup: DeploymentSupervisor, *, all_traffic: bool, restoring: bool = False
    ) -> None:
        """Start a new deployment's workers and record how it went; it stays busy until then."""
        key = (endpoint, name)
        try:
            error = await self.choices.environment_ready(sup.plan) or await sup.start()
            # The deployment stays busy (other changes wait with a Conflict) until its outcome is on record.
            backoff = Backoff()
            while failed := await self._settle(key, sup, error, all_traffic=all_traffic, restoring=restoring):
                # A full disk or database: the workers run on, and the row follows once there is room.
                outcome = "Succeeded" if error is None else "Failed"
                wait, backoff = backoff.failed()
                log.warning("%s/%s: cannot record its state %s: %s; next try in %.1f s", *key, outcome, failed, wait)
                await asyncio.sleep(wait)
        finally:
            self.busy.discard(key)

    async def _settle(
        self, key: tuple[str, str], sup: DeploymentSupervisor, error: str | None, *, all_traffic: bool, restoring: bool
    ) -> sqlite3.OperationalError | None:
        """Record how a start ended (Succeeded and its traffic, or Failed); the error if the database refused it."""
        endpoint, name = key
        async with self.lock:
            if self.sups.get(key) is not sup:
                self.spawn(sup.stop(), finish=True)  # the server is stopping, or the endpoint went away meanwhile
                return None
            try:
                if error is not None:
                    # A failed environment build names its own log; no worker ran, so get-logs has nothing.
                    built = sup.plan.selection is None or self.envs.get(sup.plan.selection.digest) is not None
                    hint = f"; see `modelyard online-deployment get-logs -n {name} -e {endpoint}`" if built else ""
                    prefix = RESTART_FAILED if restoring else ""
                    self.registry.set_deployment_state(endpoint, name, "Failed", f"{prefix}{error}{hint}")
                else:
                    self.registry.set_deployment_state(endpoint, name, "Succeeded")
                    if all_traffic:
                        ep = self.registry.endpoint(endpoint)
                        traffic = dict.fromkeys(ep.traffic, 0) | {name: 100}
                        mirror = {k: v for k, v in ep.mirror.items() if k != name}
                        self.registry.save_endpoint(with_changes(ep, traffic=traffic, mirror=mirror))
            except sqlite3.OperationalError as exc:
                return exc
            if error is not None:
                self.sups.pop(key, None)
                self.rebuild_routes()
                self.spawn(sup.stop(), finish=True)
            else:
                self.rebuild_routes()
            return None

    def check_idle(self, key: tuple[str, str]) -> None:
        """Conflict while the deployment is being created, updated, scaled or deleted."""
        if key in self.busy:
            state = self.registry.deployment(*key).state
            raise Conflict(
                f"deployment {key[1]!r} of endpoint {key[0]!r} is {state}; wait until it is done and try again"
            )

    def rebuild_routes(self) -> None:
        """Give the router tables that match the registry and the running supervisors."""
        try:
            endpoints = self.registry.endpoints()
        except sqlite3.ProgrammingError:  # the database is closed during shutdown
            return
        self.router.endpoints = build_routes(endpoints, self.sups, self.router.endpoints)

    def loop(self, name: str, fn: Callable[[], Any]) -> None:
        """Run `fn()` for the life of the server among its long-lived tasks; `stop` cancels it."""
        self._loops.append(self.tasks.start(name, fn))

    def spawn(self, coro: Any, *, finish: bool = False) -> asyncio.Task[Any]:
        """Run `coro` in the background; `finish`: it stops workers, so a stopping server awaits it, not cancels it
        (a cancelled stop would leave the workers of a deleted deployment running)."""
        task = asyncio.get_running_loop().create_task(coro)
        tasks = self._finishing if finish else self._tasks
        tasks.add(task)
        task.add_done_callback(tasks.discard)
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


def set_aside(path: Path, root: Path) -> Path | None:
    """Rename `path` to a hidden name directly under `root` that nothing else will use; None if it is not there."""
    aside = root / f".deleted-{path.name}-{uuid.uuid4().hex[:8]}"
    try:
        path.rename(aside)
    except FileNotFoundError:
        return None
    return aside


async def stop_and_remove(sups: list[DeploymentSupervisor], doomed: list[Path | None]) -> None:
    """Stop the workers of deleted deployments, then remove the folders set aside for them."""
    await asyncio.gather(*(s.stop() for s in sups), return_exceptions=True)
    for path in doomed:
        if path is not None:
            shutil.rmtree(path, ignore_errors=True)


def spec_yaml(req: views.SpecRequest) -> str:
    """The YAML text of a create request; SpecError when none was sent."""
    if req.yaml is None:
        raise SpecError("no YAML given: pass the file with -f")
    return req.yaml


def as_yaml(spec: Any) -> str:
    """A stored spec as text that the spec loaders read again."""
    # JSON is YAML: re-decoding the stored spec lets --set apply to it with the same rules as to a file.
    return msgspec.json.encode(spec).decode()


def with_changes(rec: Any, **changes: Any) -> Any:
    """A copy of a frozen record with some fields changed."""
    return msgspec.structs.replace(rec, **changes)
