"""Which environment a deployment runs in, chosen once at create or update and kept in its snapshot.

The choice follows Azure: an inline `conda_file` (a path beside the YAML, or the file's content inline), a
registered environment (`azureml:<name>:<version>`, `@latest`), one of Azure's curated environments by name, or,
for an MLflow model without an environment, the model's own conda.yaml / requirements.txt. An `image` alone names a
Docker image, which cannot run here: such deployments, and those without `environment`, keep modelyard's own
environment, as does a set that modelyard's environment already satisfies (nothing to build, nothing to wait for).
The worker's own needs are added to every set that gets an environment of its own.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec

from runtime.envs.conda import from_conda, load_conda_file
from runtime.envs.curated import curated
from runtime.envs.mlflow_env import from_mlflow_model
from runtime.envs.refs import EnvironmentRef, parse_environment_ref
from runtime.envs.requirements import RequirementSet, digest, installed_here, satisfied_by, with_worker_needs
from runtime.errors import SpecError
from runtime.spec import InlineEnvironment

FILE = "environment.json"

#: (reference) -> (the registered environment's requirement set, its relax_pins, "name:version"); NotFound if none.
Resolver = Callable[[EnvironmentRef], "tuple[RequirementSet, bool, str]"]


class Selection(msgspec.Struct, frozen=True, kw_only=True):
    """The environment a deployment's workers run in."""

    requirements: RequirementSet
    digest: str  #: where the cache builds it; "" when the runtime's own environment serves
    relax: bool = False
    name: str = ""  #: "name:version" of a registered or curated environment; "" for an inline one
    runtime: bool = False  #: modelyard's own environment already satisfies the set
    notes: tuple[str, ...] = ()


def choose(
    environment: str | InlineEnvironment | None,
    *,
    base_dir: str,
    source: str,
    mlflow_model: Path | None,
    resolve: Resolver,
    relax: bool,
) -> Selection | None:
    """The environment for a deployment; None for modelyard's own. SpecError for what cannot be built."""
    name, notes = "", []
    if isinstance(environment, str):
        ref = parse_environment_ref(environment)
        table = curated(ref.name)
        if table is not None:
            reqs, name = table, f"{ref.name}@{ref.label or ref.version or 'latest'}"
        else:
            reqs, relax, name = resolve(ref)
    elif environment is not None and environment.conda_file is not None:
        reqs = conda_requirements(environment.conda_file, base_dir=base_dir, source=source)
    elif mlflow_model is not None:
        reqs = from_mlflow_model(mlflow_model)
        if environment is not None and environment.image:
            notes.append(f"image {environment.image} is not run (no Docker); the MLflow model's own packages are")
    else:
        return None
    return select(reqs, relax=relax, name=name, notes=tuple(notes))


def select(reqs: RequirementSet, *, relax: bool, name: str = "", notes: tuple[str, ...] = ()) -> Selection:
    """A requirement set with the worker's needs added; the runtime's own environment when it already suffices."""
    full = with_worker_needs(reqs)
    notes = (*reqs.notes, *notes)
    if not full.index_options and satisfied_by(full, _here()):
        return Selection(requirements=full, digest="", relax=relax, name=name, runtime=True, notes=notes)
    return Selection(requirements=full, digest=digest(full, relax=relax), relax=relax, name=name, notes=notes)


def conda_requirements(
    conda_file: str | dict[str, Any], *, base_dir: str, source: str, key: str = "$.environment.conda_file"
) -> RequirementSet:
    """The set a spec's `conda_file` (the file's content inline, or a path beside the YAML) asks for."""
    where = f"{Path(source).name}: {key}"
    if isinstance(conda_file, dict):
        return from_conda(conda_file, where=where)
    path = Path(base_dir or ".") / conda_file
    if not path.is_file():
        raise SpecError(f"{where}: {conda_file} does not exist (resolved to {path.resolve()})")
    return load_conda_file(path)


@functools.cache
def _here() -> dict[str, str]:
    # The runtime's own distributions do not change while it runs.
    return installed_here()


def write(snapshot: Path, selection: Selection | None) -> None:
    """Record the choice in a snapshot folder (nothing for the runtime's own environment)."""
    if selection is not None:
        (snapshot / FILE).write_bytes(msgspec.json.encode(selection))


def read(snapshot: Path) -> Selection | None:
    """The choice recorded in a snapshot; None for the runtime's own environment (or a snapshot from before)."""
    try:
        return msgspec.json.decode((snapshot / FILE).read_bytes(), type=Selection)
    except FileNotFoundError:
        return None
    except (OSError, msgspec.DecodeError) as exc:
        raise SpecError(f"{snapshot / FILE}: cannot be read ({exc}); update the deployment to choose again") from None
