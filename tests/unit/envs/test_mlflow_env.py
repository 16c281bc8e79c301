"""The environment of an MLflow model deployed without a scoring script."""

from __future__ import annotations

import platform
from pathlib import Path

import pytest

from runtime.envs.mlflow_env import from_mlflow_model, mlflow_model_folder
from runtime.errors import SpecError

RUNNING = platform.python_version()

# What `mlflow.sklearn.save_model` writes (MLflow 2.9).
MLMODEL = f"""\
flavors:
  python_function:
    env:
      conda: conda.yaml
      virtualenv: python_env.yaml
    loader_module: mlflow.sklearn
    model_path: model.pkl
    predict_fn: predict
    python_version: {RUNNING}
  sklearn:
    code: null
    pickled_model: model.pkl
    serialization_format: cloudpickle
    sklearn_version: 1.3.2
mlflow_version: 2.9.2
model_size_bytes: 1201
model_uuid: 5b8f4a1c0a3b4e8e9d2f0c6a7b1e2d3f
utc_time_created: '2024-01-10 12:00:00.000000'
"""
CONDA = f"""\
channels:
- conda-forge
dependencies:
- python={RUNNING}
- pip<=23.3.1
- pip:
  - mlflow==2.9.2
  - cloudpickle==3.0.0
  - numpy==1.26.2
  - scikit-learn==1.3.2
  - scipy==1.11.4
name: mlflow-env
"""
REQUIREMENTS = "mlflow==2.9.2\ncloudpickle==3.0.0\nnumpy==1.26.2\nscikit-learn==1.3.2\nscipy==1.11.4\n"
PYTHON_ENV = f"python: {RUNNING}\nbuild_dependencies:\n- pip==23.3.1\ndependencies:\n- -r requirements.txt\n"

# cli/endpoints/online/ncd/sklearn-diabetes/model (MLflow 1.x: `env` is the conda file's name).
OLD_MLMODEL = """\
flavors:
  python_function:
    env: conda.yaml
    loader_module: mlflow.sklearn
    model_path: model.pkl
    python_version: 3.7.11
  sklearn:
    pickled_model: model.pkl
    serialization_format: cloudpickle
    sklearn_version: 0.24.2
utc_time_created: '2021-10-26 20:40:30.183474'
"""
OLD_CONDA = """\
channels:
- conda-forge
dependencies:
- python=3.7.11
- pip
- pip:
  - mlflow
  - cloudpickle==2.0.0
  - scikit-learn==0.24.2
name: mlflow-env
"""

SKINNY_NOTE = "mlflow==2.9.2 is installed as mlflow-skinny==2.9.2: the same model loader without the tracking server"


def model(folder: Path, *, mlmodel: str = MLMODEL, conda: str | None = CONDA, reqs: str | None = REQUIREMENTS) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "MLmodel").write_text(mlmodel)
    (folder / "model.pkl").write_bytes(b"\x80\x04.")
    (folder / "python_env.yaml").write_text(PYTHON_ENV)
    if conda is not None:
        (folder / "conda.yaml").write_text(conda)
    if reqs is not None:
        (folder / "requirements.txt").write_text(reqs)
    return folder


def test_saved_sklearn_model_uses_its_conda_file(tmp_path: Path) -> None:
    folder = model(tmp_path / "model")
    reqs = from_mlflow_model(folder)
    assert reqs.requirements == (
        "cloudpickle==3.0.0",
        "mlflow-skinny==2.9.2",
        "numpy==1.26.2",
        "pandas",
        "scikit-learn==1.3.2",
        "scipy==1.11.4",
    )
    assert reqs.source == f"conda file {folder / 'conda.yaml'}"
    assert reqs.python == RUNNING
    assert any(note.startswith(SKINNY_NOTE) for note in reqs.notes)


def test_requirements_txt_when_there_is_no_conda_file(tmp_path: Path) -> None:
    old_python = MLMODEL.replace(f"python_version: {RUNNING}", "python_version: 3.8.10")
    folder = model(tmp_path / "model", mlmodel=old_python, conda=None)
    reqs = from_mlflow_model(folder)
    assert reqs.requirements == (
        "cloudpickle==3.0.0",
        "mlflow-skinny==2.9.2",
        "numpy==1.26.2",
        "pandas",
        "scikit-learn==1.3.2",
        "scipy==1.11.4",
    )
    assert reqs.source == str(folder / "requirements.txt")
    assert reqs.python == "3.8.10"
    assert f"python_version 3.8.10 was asked for; this machine runs Python {RUNNING}" in reqs.notes[0]


def test_azure_sample_model_from_mlflow_1(tmp_path: Path) -> None:
    reqs = from_mlflow_model(model(tmp_path / "model", mlmodel=OLD_MLMODEL, conda=OLD_CONDA, reqs=None))
    assert reqs.requirements == ("cloudpickle==2.0.0", "mlflow-skinny", "pandas", "scikit-learn==0.24.2")
    assert reqs.python == "3.7.11"
    assert "mlflow is installed as mlflow-skinny: the same model loader" in " ".join(reqs.notes)
    assert any(note.startswith("python=3.7.11 was asked for") for note in reqs.notes)


def test_a_model_that_lists_no_mlflow_gets_the_recorded_version(tmp_path: Path) -> None:
    folder = model(tmp_path / "model", conda=None, reqs="scikit-learn==1.3.2\npandas==2.1.4\n")
    assert from_mlflow_model(folder).requirements == ("mlflow-skinny==2.9.2", "pandas==2.1.4", "scikit-learn==1.3.2")


def test_a_model_that_lists_nothing_gets_just_the_loader(tmp_path: Path) -> None:
    unversioned = "\n".join(line for line in MLMODEL.splitlines() if not line.startswith("mlflow_version"))
    folder = model(tmp_path / "model", mlmodel=unversioned, conda=None, reqs=None)
    reqs = from_mlflow_model(folder)
    assert reqs.requirements == ("mlflow-skinny", "pandas")
    assert reqs.source == f"MLflow model {folder}"


def test_mlflow_skinny_listed_by_the_model_is_kept(tmp_path: Path) -> None:
    folder = model(tmp_path / "model", conda=None, reqs="mlflow-skinny==2.9.2\npandas\n")
    assert from_mlflow_model(folder).requirements == ("mlflow-skinny==2.9.2", "pandas")


def test_the_only_model_subfolder_is_found(tmp_path: Path) -> None:
    inner = model(tmp_path / "registered" / "model")
    (tmp_path / "registered" / "README.md").write_text("notes")
    (tmp_path / "registered" / "data").mkdir()
    assert mlflow_model_folder(tmp_path / "registered") == inner
    assert mlflow_model_folder(inner) == inner
    assert "pandas" in from_mlflow_model(tmp_path / "registered").requirements


def test_a_folder_without_mlmodel_is_not_an_mlflow_model(tmp_path: Path) -> None:
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "model.pkl").write_bytes(b"")
    with pytest.raises(SpecError, match=r"is not an MLflow model: no MLmodel file in .*model or its subfolders$"):
        mlflow_model_folder(tmp_path / "model")


def test_several_model_subfolders_are_ambiguous(tmp_path: Path) -> None:
    model(tmp_path / "a")
    model(tmp_path / "b")
    with pytest.raises(SpecError, match=r"holds several MLflow models \(a, b\); point the model's path at one"):
        mlflow_model_folder(tmp_path)


def test_an_env_path_outside_the_model_is_refused(tmp_path: Path) -> None:
    folder = model(tmp_path / "model", mlmodel=MLMODEL.replace("conda: conda.yaml", "conda: ../../etc/conda.yaml"))
    with pytest.raises(SpecError, match=r"flavors\.python_function\.env '\.\./\.\./etc/conda\.yaml' points outside"):
        from_mlflow_model(folder)


def test_a_broken_mlmodel_names_the_file(tmp_path: Path) -> None:
    folder = model(tmp_path / "model", mlmodel="flavors: [python_function\n")
    with pytest.raises(SpecError, match=r"MLmodel: line \d+, column \d+: invalid YAML"):
        from_mlflow_model(folder)
    folder = model(tmp_path / "other", mlmodel="flavors: python_function\n")
    with pytest.raises(SpecError, match=r"MLmodel: flavors must be a mapping$"):
        from_mlflow_model(folder)
