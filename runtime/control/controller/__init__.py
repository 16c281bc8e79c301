"""The control process's brain: applies management requests to the registry, supervisors and router tables.

The verbs live beside the state they share: `core` (registry, supervisors, lock, routes), `endpoints` and
`deployments`; `Controller` is all of them, the one object the API and `serve` hold.
"""

from __future__ import annotations

from typing import Any

from runtime.control import views
from runtime.control.controller.core import spec_yaml
from runtime.control.controller.deployments import DeploymentOps
from runtime.control.controller.endpoints import EndpointOps
from runtime.spec import load_model

__all__ = ["Controller"]


class Controller(EndpointOps, DeploymentOps):
    """Owns the registry, one supervisor per deployment, and the router's tables."""

    async def create_model(self, req: views.SpecRequest) -> dict[str, Any]:
        """model create: copy the model into the local registry under name and version."""
        loaded = load_model(spec_yaml(req), source=req.source, overrides=req.set, name=req.name, version=req.version)
        async with self._lock:
            rec = await self.models.register(loaded)
        return views.model_view(rec)

    def list_models(self, name: str | None = None) -> list[dict[str, Any]]:
        """model list."""
        return [views.model_view(m) for m in self.registry.models(name)]
