"""The control process's brain: applies management requests to the registry, supervisors and router tables.

The verbs live beside the state they share: `core` (registry, supervisors, lock, routes), `endpoints` and
`deployments`, `autoscale` (Azure Monitor settings), `environments` (registered and built environments), for
batch `assets` (data, computes), `batch` and `jobs`
(with the batch runner), and `status` (the sampler loop and the status snapshot); `Controller` is all of them,
the one object the API and `serve` hold.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from runtime.control import views
from runtime.control.controller.autoscaling import AutoscalingOps
from runtime.control.controller.endpoints import EndpointOps
from runtime.control.controller.environments import EnvironmentOps, EnvironmentRequest
from runtime.control.controller.jobs import InvokeRequest
from runtime.control.plan import model_ref_path
from runtime.errors import SpecError
from runtime.spec import load_model

__all__ = ["Controller", "EnvironmentRequest", "InvokeRequest"]


class Controller(EndpointOps, AutoscalingOps, EnvironmentOps):
    """Owns the registry, one supervisor per deployment, and the router's tables."""

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
        async with self._lock:
            rec = await self.models.register(loaded)
        return views.model_view(rec)

    def list_models(self, name: str | None = None, include_archived: bool = False) -> list[dict[str, Any]]:
        """model list: archived versions only with --include-archived, as az ml lists them."""
        return [views.model_view(m) for m in self.registry.models(name) if include_archived or not m.archived]

    def get_model(self, name: str, version: str | None, label: str | None) -> dict[str, Any]:
        """model show: one version, or the one a label (latest) names."""
        if version is None and label is None:
            raise SpecError("name the version with -v/--version or a label with -l/--label (latest)")
        return views.model_view(self.models.find(name, version, label))

    async def archive_model(self, name: str, version: str) -> dict[str, Any]:
        """model archive."""
        async with self._lock:
            return views.model_view(self.models.archive(name, version))

    async def delete_model(self, name: str, version: str) -> None:
        """model delete: refused while a deployment serves that version."""
        async with self._lock:
            path = self.models.find(name, version, None).path
            deployments = self.registry.deployments()
            users = [f"{d.endpoint}/{d.name}" for d in deployments if model_ref_path(Path(d.snapshot)) == path]
            batch = self.batch.deployments()
            users += [f"{d.endpoint}/{d.name} (batch)" for d in batch if model_ref_path(Path(d.snapshot)) == path]
            await self.models.delete(name, version, users)
