"""Which environment a deployment's spec and snapshot ask for, whether it is built, and what `show` says of it."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from runtime.control.environments import EnvironmentStore
from runtime.control.plan import Snapshotted, WorkerPlan, mlflow_folder
from runtime.envs import selection as env_selection
from runtime.envs.cache import EnvCache
from runtime.envs.selection import Selection
from runtime.errors import BuildError, SpecError


class EnvironmentChoices:
    """Chooses deployments' environments over the registered ones and builds them in the cache."""

    def __init__(self, envs: EnvCache, environments: EnvironmentStore) -> None:
        self._envs = envs
        self._environments = environments

    def chosen_environment(self, spec: Snapshotted, base_dir: str, source: str, snap: Path) -> Selection | None:
        """The environment a deployment's spec and snapshot ask for; SpecError for what cannot be built."""
        try:
            mlflow = mlflow_folder(spec, snap)
        except SpecError:
            if spec.code_configuration is None:
                raise  # a no-code MLflow deployment needs the folder; a script may load the model its own way
            mlflow = None
        return env_selection.choose(
            spec.environment,
            base_dir=base_dir,
            source=source,
            mlflow_model=mlflow,
            resolve=self._environments.resolve,
            relax=self._envs.relax_pins,
        )

    def choose_environment(self, spec: Snapshotted, base_dir: str, source: str, snap: Path) -> Selection | None:
        """Choose a deployment's environment and record it in its snapshot."""
        chosen = self.chosen_environment(spec, base_dir, source, snap)
        env_selection.write(snap, chosen)
        return chosen

    def environment_view(self, snap: Path) -> dict[str, Any]:
        """What `show` says of a deployment's environment: its name and hash, whether it is built, its packages."""
        chosen = env_selection.read(snap)
        if chosen is None:
            return {"name": "modelyard", "hash": "", "state": "Runtime", "python": sys.executable}
        view: dict[str, Any] = {"name": chosen.name or "inline", "hash": chosen.digest, "notes": list(chosen.notes)}
        if chosen.runtime:
            view.update(state="Runtime", python=sys.executable)
            view["notes"].append("modelyard's own environment already has every requirement, so none was built")
            return view
        built = self._envs.get(chosen.digest)
        progress = self._envs.progress.get(chosen.digest)
        view["requirements"] = list(chosen.requirements.requirements)
        if built is not None:
            view.update(state="Built", python=built.python, packages=list(built.installed), relaxed=list(built.relaxed))
        elif progress is not None:
            view.update(state="Building", progress=progress.line, since=progress.started_at)
        elif chosen.digest in self._envs.failures:
            view.update(state="Failed", error=self._envs.failures[chosen.digest])
        else:
            view["state"] = "NotBuilt"
        view["build_log"] = str(self._envs.log_path(chosen.digest))
        return view

    def same_environment(self, spec: Snapshotted, base_dir: str, source: str, snap: Path) -> bool:
        """Whether `spec` chooses the environment the snapshot `snap` runs in."""
        return self.chosen_environment(spec, base_dir, source, snap) == env_selection.read(snap)

    async def build_environment(self, chosen: Selection | None) -> None:
        """Build a chosen environment unless it is built (or is modelyard's own); BuildError when it cannot be."""
        if chosen is not None and not chosen.runtime:
            await self._envs.ensure(chosen.requirements, relax=chosen.relax)

    async def environment_ready(self, plan: WorkerPlan) -> str | None:
        """Build the workers' environment unless it is built; None, or why the build failed."""
        try:
            await self.build_environment(plan.selection)
        except BuildError as exc:
            return exc.message
        return None
