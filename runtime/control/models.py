"""The local model registry: `model create` copies a model in under name and version; deployments resolve
`azureml:<name>:<version>` and `azureml:<name>@latest` against it."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import time
from pathlib import Path

import msgspec

from runtime.control.plan import copy_into_registry
from runtime.control.registry import ModelRecord, Registry
from runtime.errors import Conflict, NotFound, SpecError
from runtime.spec import Loaded, ModelSpec, ModelType
from runtime.spec.model import next_version


class ModelStore:
    """Registered models: their files under `root`, their records in the registry."""

    def __init__(self, registry: Registry, root: Path) -> None:
        self._registry = registry
        self._root = root

    async def register(self, loaded: Loaded[ModelSpec]) -> ModelRecord:
        """Copy the model in and record it; the version defaults to one past the highest numeric version."""
        spec = loaded.spec
        existing = self._registry.models(spec.name)
        version = spec.version or next_version(m.version for m in existing)
        if any(m.version == version for m in existing):
            raise Conflict(f"model {spec.name}:{version} exists already; register a new version")
        src = (Path(loaded.base_dir) / spec.path).resolve()
        if not src.exists():
            raise SpecError(f"{Path(loaded.source).name}: $.path: {spec.path} does not exist (resolved to {src})")
        dest = self._root / spec.name / version
        if dest.exists():  # left by a registration that failed before its record was written
            shutil.rmtree(dest)
        rec = ModelRecord(
            name=spec.name,
            version=version,
            type=spec.type,
            path=str(dest),
            description=spec.description or "",
            source=loaded.source,
            created_at=time.time(),
        )
        try:
            await asyncio.to_thread(copy_into_registry, src, dest)
            self._registry.add_model(rec)
        except BaseException:  # no files without their record (a full disk can refuse either)
            shutil.rmtree(dest, ignore_errors=True)
            with contextlib.suppress(OSError):
                dest.parent.rmdir()  # the model's folder, when this was to be its first version
            raise
        return rec

    def resolve(self, name: str, version: str | None, label: str | None) -> tuple[str, ModelType]:
        """The folder holding a registered model's files, and its type; NotFound if there is no such version."""
        rec = self.find(name, version, label)
        return rec.path, rec.type

    def find(self, name: str, version: str | None, label: str | None) -> ModelRecord:
        """One registered version, by number or by label (`latest`: the newest that is not archived)."""
        models = self._registry.models(name)
        if not models:
            raise NotFound(f"model {name!r} is not registered; register it with `modelyard model create -f model.yml`")
        if version is not None:
            found = [m for m in models if m.version == version]
            if not found:
                have = ", ".join(m.version for m in models)
                raise NotFound(f"model {name}:{version} is not registered (versions: {have})")
            return found[0]
        if label not in (None, "latest"):
            raise SpecError(f"model label @{label} is not known locally; use @latest or :<version>")
        live = [m for m in models if not m.archived]
        if not live:
            have = ", ".join(m.version for m in models)
            raise NotFound(f"every version of model {name!r} is archived ({have}), so it has no latest; name a version")
        return live[-1]

    def archive(self, name: str, version: str) -> ModelRecord:
        """Hide a version from `model list` and `@latest`; deployments that use it keep running."""
        rec = self.find(name, version, None)
        self._registry.set_model_archived(name, version, True)
        return msgspec.structs.replace(rec, archived=True)

    async def delete(self, name: str, version: str, users: list[str]) -> None:
        """Remove a version and its files; refused while `users` (deployments, as endpoint/deployment) use it."""
        rec = self.find(name, version, None)
        if users:
            raise Conflict(
                f"model {name}:{version} is used by deployment(s) {', '.join(users)}; update or delete them first"
            )
        self._registry.delete_model(name, version)
        await asyncio.to_thread(shutil.rmtree, rec.path, True)
