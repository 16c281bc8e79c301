"""The environment verbs: create (register and build), show, list, delete, prune and export.

`list` shows registered environments and, as Azure lists its anonymous ones, every built environment that a
deployment's inline conda file made, under the name CliV2AnonymousEnvironment with its hash as the version.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import msgspec

from runtime.control.controller.core import ControllerCore
from runtime.control.environments import EnvironmentRecord
from runtime.envs import selection as env_selection
from runtime.envs.cache import BuiltEnv
from runtime.errors import Conflict, NotFound, SpecError
from runtime.spec import load_environment
from runtime.spec.ignored import environment_ignored

#: Azure's name for the environments it registers from a deployment's inline environment.
ANONYMOUS = "CliV2AnonymousEnvironment"


class EnvironmentRequest(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """environment create -f FILE [--set ...] [--name] [--version] [--relax-pins]."""

    yaml: str | None = None
    source: str = "<api>"
    set: list[str] = []
    name: str | None = None
    version: str | None = None
    relax_pins: bool = False


class EnvironmentOps:
    """Registered and built environments."""

    def __init__(self, core: ControllerCore) -> None:
        self._core = core

    async def create_environment(self, req: EnvironmentRequest) -> dict[str, Any]:
        """environment create: read the conda file, build the set (or find it built), then register it."""
        if req.yaml is None:
            raise SpecError("no YAML given: pass the environment file with -f")
        loaded = load_environment(req.yaml, source=req.source, overrides=req.set, name=req.name, version=req.version)
        async with self._core.lock:
            rec = self._core.environments.prepare(loaded, req.relax_pins or self._core.envs.relax_pins)
        started = time.monotonic()
        chosen = rec.selection
        reused = chosen.runtime or self._core.envs.get(chosen.digest) is not None
        if not chosen.runtime:
            await self._core.envs.ensure(chosen.requirements, relax=chosen.relax)
        async with self._core.lock:
            self._core.environments.add(rec)
        shown = self._record_view(rec, self._usage())
        shown["ignored"] = list(environment_ignored(loaded.spec))
        shown["build_seconds"] = round(time.monotonic() - started, 2)
        shown["reused"] = reused  #: built before (or modelyard's own): nothing was installed
        return shown

    def list_environments(self) -> list[dict[str, Any]]:
        """environment list: the latest version of each registered environment, then the anonymous builds."""
        records, usage = self._core.environments.versions(), self._usage()
        latest = {rec.name: rec for rec in records}  # oldest first, so the last of each name wins
        named = {rec.selection.digest for rec in records}
        shown = [self._record_view(rec, usage) for rec in latest.values()]
        shown += [self._build_view(env, usage) for env in self._core.envs.builds() if env.digest not in named]
        return shown

    def get_environment(self, name: str, version: str | None, label: str | None) -> dict[str, Any]:
        """environment show: a registered version (-v, or -l latest), or a build by its hash."""
        if name == ANONYMOUS or (version is None and label is None and self._core.envs.get(name) is not None):
            env = self._core.envs.get(version or name)
            if env is None:
                raise NotFound(f"no built environment has the hash {version or name!r}")
            return self._build_view(env, self._usage())
        if version is None and label is None:
            raise SpecError("name the version with -v/--version or a label with -l/--label (latest)")
        return self._record_view(self._core.environments.find(name, version, label), self._usage())

    async def delete_environment(self, name: str, version: str) -> None:
        """environment delete: remove a registered version; deployments that use it keep their build."""
        async with self._core.lock:
            self._core.environments.delete(name, version)

    async def prune_environments(self) -> dict[str, Any]:
        """environment prune: remove every build that no deployment and no registered environment uses."""
        async with self._core.lock:
            kept = set(self._usage()) | {rec.selection.digest for rec in self._core.environments.versions()}
            removed: list[str] = []
            freed = 0
            for env in self._core.envs.builds():
                if env.digest in kept:
                    continue
                freed += _size(Path(env.path))
                if await self._core.envs.remove(env.digest):
                    removed.append(env.digest)
        return {"removed": removed, "kept": sorted(kept - {""}), "freed_mib": round(freed / 2**20, 1)}

    async def export_environment(self, name: str, version: str | None, dest: str) -> dict[str, Any]:
        """environment export: every wheel the environment holds, into `dest`, for building with no index."""
        key = self._digest_of(name, version)
        folder = Path(dest)
        if not folder.is_absolute():  # the CLI sends an absolute path; another client is told what is needed
            raise SpecError(f"the export folder {dest!r} must be an absolute path")
        wheels = await self._core.envs.export(key, folder)
        return {"hash": key, "path": str(folder), "wheels": wheels}

    def _digest_of(self, name: str, version: str | None) -> str:
        if self._core.envs.get(name) is not None:
            return name
        if name == ANONYMOUS and version:
            return version
        rec = self._core.environments.find(name, version, None if version else "latest")
        if rec.selection.runtime:
            raise Conflict(f"environment {rec.name}:{rec.version} is modelyard's own (nothing was built to export)")
        return rec.selection.digest

    def _usage(self) -> dict[str, list[str]]:
        """Each built environment's digest -> the online and batch deployments that run in it."""
        snapshots = [(rec.snapshot, f"{rec.endpoint}/{rec.name}") for rec in self._core.registry.deployments()]
        snapshots += [(rec.snapshot, f"{rec.endpoint}/{rec.name} (batch)") for rec in self._core.batch.deployments()]
        usage: dict[str, list[str]] = {}
        for snap, user in snapshots:
            if (chosen := _read(snap)) is not None and chosen.digest:
                usage.setdefault(chosen.digest, []).append(user)
        return usage

    def _record_view(self, rec: EnvironmentRecord, usage: dict[str, list[str]]) -> dict[str, Any]:
        chosen = rec.selection
        view: dict[str, Any] = {
            "name": rec.name,
            "version": rec.version,
            "description": rec.spec.description or "",
            "tags": dict(rec.spec.tags),
            "image": rec.spec.image,
            "hash": chosen.digest,
            "requirements": list(chosen.requirements.requirements),
            "python": chosen.requirements.python,
            "notes": list(chosen.notes),
            "relax_pins": chosen.relax,
            "creation_context": {"created_at": _utc(rec.created_at)},
            "id": f"azureml:{rec.name}:{rec.version}",
        }
        if chosen.runtime:
            view.update(state="Runtime", used_by=[])
            return view
        built = self._core.envs.get(chosen.digest)
        view["state"] = "Built" if built is not None else "NotBuilt"
        if built is not None:
            view.update(packages=list(built.installed), relaxed=list(built.relaxed), path=built.path)
        view["used_by"] = usage.get(chosen.digest, [])
        return view

    def _build_view(self, env: BuiltEnv, usage: dict[str, list[str]]) -> dict[str, Any]:
        return {
            "name": ANONYMOUS,
            "version": env.digest,
            "hash": env.digest,
            "state": "Built",
            "requirements": list(env.requirements),
            "packages": list(env.installed),
            "relaxed": list(env.relaxed),
            "path": env.path,
            "installer": env.installer,
            "offline": env.offline,  #: built from find-links folders alone
            "build_seconds": env.build_seconds,
            "creation_context": {"created_at": _utc(env.created_at)},
            "used_by": usage.get(env.digest, []),
        }


def _read(snapshot: str) -> env_selection.Selection | None:
    try:
        return env_selection.read(Path(snapshot))
    except SpecError:
        return None


def _size(path: Path) -> int:
    total = 0
    for item in path.rglob("*"):
        try:
            if item.is_file() and not item.is_symlink():
                total += item.stat().st_size
        except OSError:
            continue
    return total


def _utc(stamp: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(stamp))
