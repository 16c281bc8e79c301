"""The environment of an MLflow model deployed without code: what its MLmodel, conda.yaml or requirements.txt ask.

Azure builds an MLflow no-code deployment's image from the model's conda.yaml, so that file wins; requirements.txt
is the fallback MLflow writes beside it. `mlflow` becomes `mlflow-skinny` (the same loader without the tracking
server, its UI and their dependencies), and pandas is added because the no-code scoring script builds DataFrames.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
from packaging.requirements import Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name

from runtime.envs import _pins
from runtime.envs.conda import interpreter_note, load_conda_file
from runtime.envs.requirements import RequirementSet, merged, parse_requirements
from runtime.errors import SpecError
from runtime.spec import parse_yaml

_SKINNY_NOTE = "{old} is installed as {new}: the same model loader without the tracking server and its UI"


def mlflow_model_folder(model_dir: Path) -> Path:
    """The folder holding `MLmodel`: `model_dir` itself, or the one subfolder of it that has one."""
    if (model_dir / "MLmodel").is_file():
        return model_dir
    found = sorted(p for p in model_dir.iterdir() if (p / "MLmodel").is_file()) if model_dir.is_dir() else []
    if len(found) == 1:
        return found[0]
    if found:
        names = ", ".join(p.name for p in found)
        raise SpecError(f"{model_dir} holds several MLflow models ({names}); point the model's path at one of them")
    raise SpecError(f"{model_dir} is not an MLflow model: no MLmodel file in {model_dir} or its subfolders")


def from_mlflow_model(model_dir: Path) -> RequirementSet:
    """The requirement set of the MLflow model in `model_dir` (or its one model subfolder)."""
    folder = mlflow_model_folder(model_dir)
    mlmodel = folder / "MLmodel"
    doc = _read_mlmodel(mlmodel)
    pyfunc = _mapping(
        _mapping(doc.get("flavors"), mlmodel, "flavors").get("python_function"), mlmodel, "python_function"
    )
    conda, requirements = _env_files(folder, pyfunc.get("env"), mlmodel)
    if conda.is_file():
        base = load_conda_file(conda)
    elif requirements.is_file():
        base = _with_python(parse_requirements(_lines(requirements), where=str(requirements)), pyfunc)
    else:
        base = RequirementSet(requirements=(), source=f"MLflow model {folder}")
    version = doc.get("mlflow_version")
    return _for_serving(base, str(version) if isinstance(version, (str, int, float)) else None)


def _read_mlmodel(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise SpecError(f"cannot read {path}: {why}") from None
    return parse_yaml(text, label=str(path))


def _mapping(value: object, path: Path, key: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise SpecError(f"{path}: {key} must be a mapping")
    return value


def _env_files(folder: Path, env: object, mlmodel: Path) -> tuple[Path, Path]:
    """The conda file and the requirements file the model names (MLflow 1 wrote a string, MLflow 2 a mapping)."""
    if isinstance(env, dict):
        env = env.get("conda")
    if env is not None and not isinstance(env, str):
        raise SpecError(f"{mlmodel}: flavors.python_function.env must name the conda file, e.g. conda.yaml")
    conda = (folder / (env or "conda.yaml")).resolve()
    # The model's own files only: an MLmodel is data that travels with the model, not a licence to read anywhere.
    if not conda.is_relative_to(folder.resolve()):
        raise SpecError(f"{mlmodel}: flavors.python_function.env {env!r} points outside the model folder")
    return conda, folder / "requirements.txt"


def _lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(f"cannot read {path}: {exc}") from None


def _with_python(reqs: RequirementSet, pyfunc: dict[str, Any]) -> RequirementSet:
    asked = pyfunc.get("python_version")
    if not isinstance(asked, (str, int, float)):
        return reqs
    try:
        note = interpreter_note(f"python_version {asked}", SpecifierSet(f"=={asked}"))
    except InvalidSpecifier:
        return reqs
    return msgspec.structs.replace(reqs, python=str(asked), notes=(*reqs.notes, *([note] if note else [])))


def _for_serving(base: RequirementSet, mlflow_version: str | None) -> RequirementSet:
    """`base` with mlflow swapped for mlflow-skinny and what the no-code scoring script imports added."""
    kept: list[str] = []
    notes: list[str] = []
    names: set[str] = set()
    for text in base.requirements:
        req = Requirement(text)
        name = canonicalize_name(req.name)
        names.add(name)
        if name == "mlflow":
            req.name = "mlflow-skinny"
            notes.append(_SKINNY_NOTE.format(old=text, new=_pins.normalized(req)))
        kept.append(str(req))
    if not names & {"mlflow", "mlflow-skinny"}:
        kept.append(f"mlflow-skinny=={mlflow_version}" if mlflow_version else "mlflow-skinny")
    if "pandas" not in names:
        kept.append("pandas")
    rest = msgspec.structs.replace(base, requirements=())
    serving = parse_requirements(kept, where=base.source or "the MLflow model")
    return merged(rest, msgspec.structs.replace(serving, source=""), notes=notes)
