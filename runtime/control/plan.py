"""From a decoded deployment spec to what each worker runs: the snapshot folder and the worker's environment.

At create and update, the deployment's code and inline model are copied into a snapshot folder in the state
directory, laid out as Azure lays them out in its container, so later edits to the user's files do not change a
running deployment and a restart needs nothing outside the state directory.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Literal

import msgspec

from runtime.control import sources
from runtime.control.sources import SKIPPED, Sources, digest
from runtime.envs import selection as env_selection
from runtime.envs.cache import EnvCache
from runtime.envs.mlflow_env import mlflow_model_folder
from runtime.envs.selection import Selection
from runtime.errors import SpecError
from runtime.ipc.messages import Load
from runtime.spec import (
    BatchDeploymentSpec,
    InlineModel,
    ModelType,
    OnlineDeploymentSpec,
    parse_model_ref,
    worker_count,
)

#: modelyard's own scoring scripts for MLflow no-code deployments, loaded as Azure loads its generated one.
MLFLOW_SCRIPTS = Path(__file__).resolve().parents[1] / "worker" / "mlflow_scoring"

#: Environment variables that size thread pools; set to the worker's core count so libraries do not oversubscribe.
THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS")


class WorkerPlan(msgspec.Struct, frozen=True, kw_only=True):
    """Everything a deployment's workers need, derived from the spec and its snapshot."""

    kind: Literal["script", "triton"]
    app_root: str | None
    entry_script: str | None
    model_dir: str | None
    model_repository: str | None
    env: dict[str, str]  #: Azure's variables plus the deployment's environment_variables
    #: scoring processes per instance: Azure's server runs WORKER_COUNT gunicorn workers, each with its own init()
    processes: int = 1
    python: str | None = None  #: the environment's interpreter; None for modelyard's own
    selection: Selection | None = None  #: the environment the workers need built first (None: the runtime's)


ModelResolver = Callable[[str, "str | None", "str | None"], "tuple[str, ModelType]"]
"""(name, version, label) -> (registry folder holding the model's basename, model type); raises NotFound."""


#: What a snapshot is made of: an online or a batch deployment, both of which name a model and code the same way.
Snapshotted = OnlineDeploymentSpec | BatchDeploymentSpec


class _ModelRef(msgspec.Struct, frozen=True):
    path: str
    type: ModelType


def snapshot(spec: Snapshotted, *, base_dir: str, source: str, into: Path, resolve_model: ModelResolver) -> Path:
    """Copy code and inline model into a new folder under `into`; return it. Nothing is left behind on error."""
    into.mkdir(parents=True, exist_ok=True)
    final = into / uuid.uuid4().hex[:12]
    work = into / (final.name + ".partial")
    try:
        work.mkdir()
        parts, ref = _inputs(spec, base_dir, source, resolve_model)
        if ref is not None:
            (work / "model-ref.json").write_bytes(msgspec.json.encode(ref))
        copied = []
        for what, src, dest in parts:
            _copy(src, work / dest)
            copied.append(digest(what, work / dest, source=src, dest=dest))
        sources.record(work, Sources(copied=tuple(copied), model_ref=ref.path if ref else None), final.name)
        os.rename(work, final)
    except BaseException:
        discard_snapshot(work)
        raise
    return final


def current_sources(spec: Snapshotted, *, base_dir: str, source: str, resolve_model: ModelResolver) -> Sources:
    """What a snapshot of `spec` would hold now: the source files hashed in place, nothing copied."""
    parts, ref = _inputs(spec, base_dir, source, resolve_model)
    copied = tuple(digest(what, src, source=src, dest=dest) for what, src, dest in parts)
    return Sources(copied=copied, model_ref=ref.path if ref else None)


def _inputs(
    spec: Snapshotted, base_dir: str, source: str, resolve_model: ModelResolver
) -> tuple[list[tuple[str, Path, str]], _ModelRef | None]:
    """(what, source path, path in the snapshot) of each thing to copy, and the registered model used in place."""
    parts: list[tuple[str, Path, str]] = []
    ref: _ModelRef | None = None
    if isinstance(spec.model, str):
        parsed = parse_model_ref(spec.model)
        ref = _ModelRef(*resolve_model(parsed.name, parsed.version, parsed.label))
    elif isinstance(spec.model, InlineModel):
        src = _existing(base_dir, spec.model.path, source, "$.model.path")
        name = spec.model.name or "model"
        version = str(spec.model.version or 1)
        parts.append(("model", src, f"azureml-models/{name}/{version}/{src.name}"))
    if spec.code_configuration is not None:
        code = _existing(base_dir, spec.code_configuration.code, source, "$.code_configuration.code")
        if not code.is_dir():
            raise SpecError(f"{_name(source)}: $.code_configuration.code: {code} is not a folder")
        if not spec.code_configuration.scoring_script:
            raise SpecError(f"{_name(source)}: $.code_configuration.scoring_script: required with code")
        script = code / spec.code_configuration.scoring_script
        if not script.is_file():
            raise SpecError(
                f"{_name(source)}: $.code_configuration.scoring_script: "
                f"{spec.code_configuration.scoring_script} not found in {code}"
            )
        parts.append(("code", code, f"code/{code.name}"))
    return parts, ref


def serves_oip(spec: OnlineDeploymentSpec, snapshot_dir: Path) -> bool:
    """Whether a deployment is a Triton no-code one, served over the Open Inference Protocol v2 (no /score)."""
    if spec.code_configuration is not None:
        return False
    if isinstance(spec.model, InlineModel):
        return spec.model.type is ModelType.TRITON_MODEL
    try:
        ref = msgspec.json.decode((snapshot_dir / "model-ref.json").read_bytes(), type=_ModelRef)
    except (OSError, msgspec.DecodeError):
        return False
    return ref.type is ModelType.TRITON_MODEL


def model_ref_path(snapshot_dir: Path) -> str | None:
    """The registry folder of the registered model a snapshot uses; None for an inline model or none."""
    try:
        return msgspec.json.decode((snapshot_dir / "model-ref.json").read_bytes(), type=_ModelRef).path
    except (OSError, msgspec.DecodeError):
        return None


def discard_snapshot(snap: Path) -> None:
    """Remove a snapshot, and its deployment's folder if that leaves it empty: a failed create leaves nothing."""
    shutil.rmtree(snap, ignore_errors=True)
    with contextlib.suppress(OSError):
        snap.parent.rmdir()


def model_location(spec: Snapshotted, snapshot_dir: Path) -> tuple[Path | None, ModelType | None]:
    """The folder AZUREML_MODEL_DIR names for a deployment's snapshot, and the model's type."""
    ref_file = snapshot_dir / "model-ref.json"
    if ref_file.exists():
        ref = msgspec.json.decode(ref_file.read_bytes(), type=_ModelRef)
        return Path(ref.path), ref.type
    if isinstance(spec.model, InlineModel):
        folder = snapshot_dir / "azureml-models" / (spec.model.name or "model") / str(spec.model.version or 1)
        return folder, spec.model.type
    return None, None


def mlflow_folder(spec: Snapshotted, snapshot_dir: Path) -> Path | None:
    """The folder holding MLmodel when the deployment's model is an MLflow model; None otherwise."""
    model_dir, model_type = model_location(spec, snapshot_dir)
    if model_dir is None or model_type is not ModelType.MLFLOW_MODEL:
        return None
    return mlflow_model_folder(model_dir)


def environment_python(
    plan_env: dict[str, str], snapshot_dir: Path, envs: EnvCache | None
) -> tuple[str | None, Selection | None]:
    """The interpreter a snapshot's workers start with, and its selection; PYTHONPATH gains modelyard's package."""
    chosen = env_selection.read(snapshot_dir)
    if chosen is None or chosen.runtime or envs is None:
        return None, chosen
    plan_env["PYTHONPATH"] = runtime_pythonpath(envs.worker_path(), plan_env.get("PYTHONPATH", ""))
    return str(envs.python(chosen.digest)), chosen


def runtime_pythonpath(runtime_folder: str, given: str) -> str:
    """PYTHONPATH for a worker on an environment's interpreter: modelyard's package alone (not modelyard's own
    dependencies) first, then what the deployment or the server's environment gave."""
    return os.pathsep.join(p for p in (runtime_folder, given) if p)


def worker_plan(spec: OnlineDeploymentSpec, snapshot_dir: Path, envs: EnvCache | None = None) -> WorkerPlan:
    """Derive the workers' plan from the spec and the snapshot made for it."""
    model_dir, model_type = model_location(spec, snapshot_dir)
    env = dict(os.environ)
    app_root = entry = repo = None
    if model_type is ModelType.TRITON_MODEL and spec.code_configuration is None:
        kind: Literal["script", "triton"] = "triton"
        assert model_dir is not None
        repo = str(next(iter(sorted(model_dir.iterdir()))))
    elif spec.code_configuration is None and model_type is ModelType.MLFLOW_MODEL:
        assert model_dir is not None
        # Azure's MLflow image runs a generated scoring script over $AZUREML_MODEL_DIR/$MLFLOW_MODEL_FOLDER.
        kind = "script"
        app_root, entry = str(MLFLOW_SCRIPTS), "score.py"
        env["AML_APP_ROOT"], env["AZUREML_ENTRY_SCRIPT"] = app_root, entry
        env["MLFLOW_MODEL_FOLDER"] = str(mlflow_model_folder(model_dir).relative_to(model_dir))
    else:
        if spec.code_configuration is None:
            raise SpecError(
                "code_configuration is required: give code and scoring_script, or use an mlflow_model or a "
                "triton_model for a no-code deployment"
            )
        kind = "script"
        code = snapshot_dir / "code" / Path(spec.code_configuration.code).resolve().name
        script = Path(spec.code_configuration.scoring_script or "score.py")
        app_root = str(code / script.parent) if str(script.parent) != "." else str(code)
        entry = script.name
        env["AML_APP_ROOT"] = app_root
        env["AZUREML_ENTRY_SCRIPT"] = entry
    if model_dir is not None:
        env["AZUREML_MODEL_DIR"] = str(model_dir)
    env["PYTHONUNBUFFERED"] = "1"
    env.update(spec.environment_variables)
    python, chosen = environment_python(env, snapshot_dir, envs)
    return WorkerPlan(
        kind=kind,
        app_root=app_root,
        entry_script=entry,
        model_dir=str(model_dir) if model_dir else None,
        model_repository=repo,
        env=env,
        # Triton serves its models in one server process whatever WORKER_COUNT says. Checked again here: a spec
        # stored before the loader checked it is refused with a message rather than crashing a restart.
        processes=worker_count(spec) if kind == "script" else 1,
        python=python,
        selection=chosen,
    )


def worker_env(plan: WorkerPlan, cores: tuple[int, ...], gpus: tuple[int, ...]) -> dict[str, str]:
    """The environment of one instance: the plan's, with thread counts and visible GPUs fitted to its allocation."""
    env = dict(plan.env)
    user: Mapping[str, str] = plan.env
    for var in THREAD_VARS:
        if var not in user or var in os.environ and user[var] == os.environ[var]:
            env[var] = str(max(1, len(cores)))
    # GPU ids come from NVML, which numbers devices by PCI bus; CUDA's default order is "fastest first".
    env["CUDA_DEVICE_ORDER"] = "PCI_BUS_ID"
    env["CUDA_VISIBLE_DEVICES"] = ",".join(map(str, gpus))
    return env


def load_message(plan: WorkerPlan, cores: tuple[int, ...]) -> Load:
    """The Load frame for one instance."""
    timeout = plan.env.get("SCORING_TIMEOUT_MS", "")
    return Load(
        kind=plan.kind,
        app_root=plan.app_root,
        entry_script=plan.entry_script,
        model_dir=plan.model_dir,
        model_repository=plan.model_repository,
        scoring_timeout_ms=int(timeout) if timeout.isascii() and timeout.isdigit() else 3_600_000,
        threads=max(1, len(cores)),
    )


def copy_into_registry(src: Path, dest_root: Path) -> Path:
    """Copy a model file or folder into the registry as `<dest_root>/<basename>`; return dest_root."""
    work = dest_root.with_name(dest_root.name + ".partial")
    shutil.rmtree(work, ignore_errors=True)
    try:
        _copy(src, work / src.name)
        os.rename(work, dest_root)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return dest_root


def _existing(base_dir: str, rel: str, source: str, where: str) -> Path:
    path = (Path(base_dir) / rel).resolve()
    if not path.exists():
        raise SpecError(f"{_name(source)}: {where}: {rel} does not exist (resolved to {path})")
    return path


def _copy(src: Path, dest: Path) -> None:
    _only_files_and_folders(src)
    dest.parent.mkdir(parents=True, exist_ok=True)
    if src.is_dir():
        shutil.copytree(src, dest, symlinks=False, ignore=_skipped)
    else:
        shutil.copy2(src, dest)


def _skipped(folder: str, names: list[str]) -> set[str]:
    """copytree's ignore hook: leave out SKIPPED, and refuse what is neither a file nor a folder before copying it."""
    for name in names:
        if name not in SKIPPED:
            _only_files_and_folders(Path(folder) / name)
    return set(names) & set(SKIPPED)


def _only_files_and_folders(path: Path) -> None:
    # Copying a FIFO blocks until a writer comes, and a device (/dev/zero, or a symlink to one) never ends: refuse
    # them up front, naming the entry, instead of hanging the copy or answering 500.
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise SpecError(
            f"{path}: cannot be read ({exc.strerror}); a model or code folder may hold only files and folders"
        ) from None
    if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        raise SpecError(
            f"{path} is not a regular file or folder (a FIFO, socket or device); "
            "a model or code folder may hold only files and folders"
        )


def _name(source: str) -> str:
    return os.path.basename(source) or source
