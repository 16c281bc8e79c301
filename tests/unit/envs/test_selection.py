"""Which environment a deployment's `environment` key chooses, and when modelyard's own one is enough."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime.envs import selection
from runtime.envs.refs import EnvironmentRef
from runtime.envs.requirements import RequirementSet
from runtime.errors import NotFound, SpecError
from runtime.spec import InlineEnvironment


def registered(ref: EnvironmentRef) -> tuple[RequirementSet, bool, str]:
    if ref.name != "mine":
        raise NotFound(f"environment {ref.name!r} is not registered")
    return RequirementSet(requirements=("numpy==1.26.4",)), True, f"mine:{ref.version or '3'}"


def choose(environment: str | InlineEnvironment | None, tmp_path: Path, **kw: object) -> selection.Selection | None:
    options: dict[str, object] = {"mlflow_model": None, "resolve": registered, "relax": False} | kw
    return selection.choose(environment, base_dir=str(tmp_path), source=str(tmp_path / "d.yml"), **options)  # type: ignore[arg-type]


def test_no_environment_or_an_image_alone_keeps_modelyards_own(tmp_path: Path) -> None:
    assert choose(None, tmp_path) is None
    assert choose(InlineEnvironment(image="mcr.microsoft.com/azureml/minimal:latest"), tmp_path) is None


def test_an_inline_conda_file_is_read_beside_the_yaml_and_gets_the_workers_needs(tmp_path: Path) -> None:
    (tmp_path / "conda.yaml").write_text("dependencies:\n  - python=3.11\n  - pip:\n      - numpy==1.26.4\n")
    chosen = choose(InlineEnvironment(conda_file="conda.yaml"), tmp_path)
    assert chosen is not None and not chosen.runtime and len(chosen.digest) == 16
    names = [r.split("=")[0].split(">")[0] for r in chosen.requirements.requirements]
    assert names == ["inference-schema", "msgspec", "numpy", "werkzeug"]
    missing = InlineEnvironment(conda_file="nope.yaml")
    with pytest.raises(SpecError, match=r"d.yml: \$.environment.conda_file: nope.yaml does not exist"):
        choose(missing, tmp_path)


def test_a_set_modelyards_environment_satisfies_is_not_built(tmp_path: Path) -> None:
    chosen = choose(InlineEnvironment(conda_file={"dependencies": ["python=3.11", "numpy"]}), tmp_path)
    assert chosen is not None and chosen.runtime and chosen.digest == ""


def test_registered_and_curated_references(tmp_path: Path) -> None:
    mine = choose("azureml:mine:2", tmp_path)
    assert mine is not None and mine.name == "mine:2" and mine.relax is True
    curated = choose("azureml:AzureML-sklearn-1.0-ubuntu20.04-py38-cpu@latest", tmp_path)
    assert curated is not None and curated.name == "AzureML-sklearn-1.0-ubuntu20.04-py38-cpu@latest"
    assert any(r.startswith("scikit-learn") for r in curated.requirements.requirements)
    with pytest.raises(NotFound):
        choose("azureml:other@latest", tmp_path)


def test_the_choice_round_trips_through_the_snapshot(tmp_path: Path) -> None:
    chosen = choose("azureml:mine:2", tmp_path)
    selection.write(tmp_path, chosen)
    assert selection.read(tmp_path) == chosen
    (tmp_path / selection.FILE).write_text("{not json")
    with pytest.raises(SpecError, match="update the deployment to choose again"):
        selection.read(tmp_path)
    assert selection.read(tmp_path / "elsewhere") is None
