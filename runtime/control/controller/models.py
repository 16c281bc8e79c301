"""Model operations: register a version in the local registry, show, list, archive and delete."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from runtime.control import views
from runtime.control.controller.core import ControllerCore
from runtime.control.plan import model_ref_path
from runtime.errors import SpecError
from runtime.spec import load_model


class ModelOps:
    """The model verbs."""

    def __init__(self, core: ControllerCore) -> None:
        self._core = core

    async def create_model(self, req: views.ModelRequest) -> dict[str, Any]:
        """model create: copy the model into the local registry under name and version."""
        if req.yaml is None and (req.name is None or req.path is None):
            raise SpecError("no YAML given: pass the file with -f, or --name and --path (with --version, --type)")
        loaded = load_model(
            req.yaml if req.yaml is not None else "{}",
            source=req.source,
            overrides=req.set,
            name=req.name,
            version=req.version,
            path=req.path,
            type=req.type,
        )
        async with self._core.lock:
            rec = await self._core.models.register(loaded)
        return views.model_view(rec)

    def list_models(self, name: str | None = None, include_archived: bool = False) -> list[dict[str, Any]]:
        """model list: archived versions only with --include-archived, as az ml lists them."""
        return [views.model_view(m) for m in self._core.registry.models(name) if include_archived or not m.archived]

    def get_model(self, name: str, version: str | None, label: str | None) -> dict[str, Any]:
        """model show: one version, or the one a label (latest) names."""
        if version is None and label is None:
            raise SpecError("name the version with -v/--version or a label with -l/--label (latest)")
        return views.model_view(self._core.models.find(name, version, label))

    async def archive_model(self, name: str, version: str) -> dict[str, Any]:
        """model archive."""
        async with self._core.lock:
            return views.model_view(self._core.models.archive(name, version))

    async def delete_model(self, name: str, version: str) -> None:
        """model delete: refused while a deployment serves that version."""
        core = self._core
        async with core.lock:
            path = core.models.find(name, version, None).path
            deployments = core.registry.deployments()
            users = [f"{d.endpoint}/{d.name}" for d in deployments if model_ref_path(Path(d.snapshot)) == path]
            batch = core.batch.deployments()
            users += [f"{d.endpoint}/{d.name} (batch)" for d in batch if model_ref_path(Path(d.snapshot)) == path]
            await core.models.delete(name, version, users)
