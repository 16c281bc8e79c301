"""Conda environment files translated to PyPI requirement sets."""

from __future__ import annotations

import platform
from pathlib import Path

import pytest
import yaml

from runtime.envs.conda import conda_specifiers, from_conda, load_conda_file
from runtime.errors import SpecError

RUNNING = platform.python_version()

# cli/endpoints/online/model-1/environment/conda.yaml in Azure/azureml-examples.
AZURE_SAMPLE = """\
name: model-env
channels:
  - conda-forge
dependencies:
  - python=3.9
  - numpy=1.23.5
  - pip=23.0.1
  - scikit-learn=1.2.2
  - scipy=1.10.1
  - pip:
    - azureml-defaults==1.49.0
    - inference-schema[numpy-support]==1.5.1
    - joblib==1.2.0
"""

# What `mlflow.sklearn.save_model` writes as conda.yaml (MLflow 2.9).
MLFLOW_CONDA = f"""\
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


def conda(text: str) -> object:
    return yaml.safe_load(text)


def test_azure_sample_conda_file() -> None:
    reqs = from_conda(conda(AZURE_SAMPLE), where="environment/conda.yaml")
    assert reqs.requirements == (
        "inference-schema[numpy-support]==1.5.1",
        "joblib==1.2.0",
        "numpy==1.23.5.*",
        "scikit-learn==1.2.2.*",
        "scipy==1.10.1.*",
    )
    assert reqs.python == "3.9"
    assert reqs.source == "conda file environment/conda.yaml"
    assert reqs.notes == (
        f"python=3.9 was asked for; this machine runs Python {RUNNING}, which the environment uses "
        "(modelyard does not download interpreters)",
        "conda-only package pip is left out: PyPI wheels carry their own libraries, and the environment has its "
        "own installer",
        "azureml-defaults is left out: modelyard serves the scoring contract itself, azureml.contrib.services included",
    )


def test_mlflow_conda_file_for_the_running_python_has_no_python_note() -> None:
    reqs = from_conda(conda(MLFLOW_CONDA), where="model/conda.yaml")
    assert reqs.requirements == (
        "cloudpickle==3.0.0",
        "mlflow==2.9.2",
        "numpy==1.26.2",
        "scikit-learn==1.3.2",
        "scipy==1.11.4",
    )
    assert reqs.python == RUNNING
    assert not any("was asked for" in note for note in reqs.notes)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("numpy", "numpy"),
        ("numpy=1.23.5", "numpy==1.23.5.*"),
        ("numpy==1.23.5", "numpy==1.23.5"),
        ("numpy>=1.2,<2", "numpy<2,>=1.2"),
        ("numpy 1.23.5", "numpy==1.23.5"),
        ("numpy 1.23.5 py39h123_0", "numpy==1.23.5"),
        ("numpy=1.23.5=py39h123_0", "numpy==1.23.5"),
        ("conda-forge::numpy=1.2", "numpy==1.2.*"),
        ("numpy=1.23.*", "numpy==1.23.*"),
        ("numpy 1.23*", "numpy==1.23.*"),
        ("numpy=*", "numpy"),
        ("numpy >=1.2", "numpy>=1.2"),
        ("pytorch=1.13.1=py3.9_cuda11.7_cudnn8.5.0_0", "torch==1.13.1"),
        ("py-xgboost=1.4.2", "xgboost==1.4.2.*"),
        ("matplotlib-base>=3.5", "matplotlib>=3.5"),
        ("msgpack-python", "msgpack"),
        ("Pillow=9.4.0", "pillow==9.4.0.*"),
        ("typing_extensions", "typing-extensions"),
    ],
)
def test_conda_specs_become_pep_508(spec: str, expected: str) -> None:
    reqs = from_conda({"dependencies": [spec]}, where="env.yml")
    assert reqs.requirements == (expected,)


def test_renamed_packages_are_noted() -> None:
    reqs = from_conda({"dependencies": ["pytorch=2.1", "torchvision", "arrow-cpp"]}, where="env.yml")
    assert reqs.requirements == ("pyarrow", "torch==2.1.*", "torchvision")
    assert reqs.notes == ("conda names installed under their PyPI names: pytorch -> torch, arrow-cpp -> pyarrow",)


def test_conda_only_packages_are_dropped_with_one_note() -> None:
    deps = ["_libgcc_mutex=0.1=main", "cudatoolkit=11.7", "openssl=1.1.1t", "blas=*=mkl", "libgcc-ng", "numpy"]
    reqs = from_conda({"channels": ["defaults"], "dependencies": deps}, where="env.yml")
    assert reqs.requirements == ("numpy",)
    assert reqs.notes == (
        "conda-only packages _libgcc_mutex, cudatoolkit, openssl, blas, libgcc-ng are left out: PyPI wheels carry "
        "their own libraries, and the environment has its own installer",
    )


@pytest.mark.parametrize(("spec", "python"), [("python=3.8", "3.8"), ("python>=3.8", ">=3.8"), ("python", None)])
def test_python_goes_to_its_own_field(spec: str, python: str | None) -> None:
    reqs = from_conda({"dependencies": [spec, "numpy"]}, where="env.yml")
    assert reqs.requirements == ("numpy",)
    assert reqs.python == python
    note = (
        f"{spec} was asked for; this machine runs Python {RUNNING}, which the environment uses "
        "(modelyard does not download interpreters)"
    )
    assert (note in reqs.notes) is (spec == "python=3.8")


def test_prefix_and_variables_are_ignored_with_notes() -> None:
    doc = {"name": "x", "prefix": "/opt/conda/envs/x", "variables": {"A": "1"}, "dependencies": ["numpy"]}
    assert from_conda(doc, where="env.yml").notes == (
        "`prefix` is ignored: modelyard keeps each environment in its own cache",
        "`variables` are not set: put them under the deployment's environment_variables",
    )


def test_azure_serving_stack_in_conda_and_pip_is_noted_once() -> None:
    doc = {"dependencies": ["azureml-defaults", {"pip": ["azureml-inference-server-http==1.0.0", "joblib"]}]}
    reqs = from_conda(doc, where="env.yml")
    assert reqs.requirements == ("joblib",)
    assert reqs.notes == (
        "azureml-defaults, azureml-inference-server-http are left out: modelyard serves the scoring contract "
        "itself, azureml.contrib.services included",
    )


def test_pip_index_options_pass_through() -> None:
    doc = {"dependencies": [{"pip": ["--extra-index-url https://download.pytorch.org/whl/cpu", "torch==2.1.0"]}]}
    reqs = from_conda(doc, where="env.yml")
    assert reqs.index_options == ("--extra-index-url https://download.pytorch.org/whl/cpu",)
    assert reqs.requirements == ("torch==2.1.0",)


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        (["numpy"], r"^env\.yml: a conda environment file is a mapping"),
        ({"dependencies": "numpy"}, r"^env\.yml: dependencies must be a list of conda packages"),
        ({"dependencies": ["numpy"], "pip": ["x"]}, r"^env\.yml: unknown keys pip; a conda file has name, channels"),
        ({"channels": "conda-forge"}, r"^env\.yml: channels must be a list"),
        ({"dependencies": [{"pip": "numpy"}]}, r"`pip:` must be a list of requirements"),
        ({"dependencies": [{"pip": ["a"]}, {"pip": ["b"]}]}, r"more than one `pip:` list"),
        ({"dependencies": [3.8]}, r"3\.8 is not a conda package spec or a `pip:` list"),
        ({"dependencies": [{"pip": [1]}]}, r"pip entry 1 is not a requirement string"),
    ],
)
def test_shapes_that_are_not_conda_files(doc: object, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        from_conda(doc, where="env.yml")


def test_every_bad_entry_is_named_in_one_error() -> None:
    deps = ["numpy=1|2", "r-base=4.2", "foo", "scipy", {"pip": ["numpy==abc", "-r other.txt"]}]
    with pytest.raises(SpecError) as caught:
        from_conda({"dependencies": deps}, where="env.yml")
    message = caught.value.message
    assert message.startswith("env.yml: ")
    assert "'numpy=1|2' uses `|` (or), which pip cannot express" in message
    assert (
        "conda packages r-base, foo have no known PyPI name; list them under `pip:` with the PyPI name, or remove them"
    ) in message
    assert "'numpy==abc' is not a valid requirement" in message
    assert "'-r other.txt' refers to another file" in message
    assert "scipy" not in message


def test_one_unknown_package_reads_in_the_singular() -> None:
    with pytest.raises(SpecError, match=r"^env\.yml: conda package r-base has no known PyPI name; list it under"):
        from_conda({"dependencies": ["r-base"]}, where="env.yml")


def test_conda_and_pip_pins_that_clash_are_refused() -> None:
    doc = {"dependencies": ["numpy=1.23.5", {"pip": ["numpy==1.26.2"]}]}
    with pytest.raises(SpecError, match=r"numpy==1\.23\.5\.\* and numpy==1\.26\.2 cannot both hold"):
        from_conda(doc, where="env.yml")


def test_conda_fuzzy_and_pip_exact_pins_that_agree_merge() -> None:
    doc = {"dependencies": ["numpy=1.23", {"pip": ["numpy==1.23.5"]}]}
    assert from_conda(doc, where="env.yml").requirements == ("numpy==1.23.*,==1.23.5",)


def test_specifier_problems() -> None:
    assert conda_specifiers("[version='>=1.2']")[1] == "uses conda's bracket syntax; write it as name=version"
    assert conda_specifiers("1.2 build extra")[1] == "has more than a version and a build string"


def test_load_conda_file_reads_yaml(tmp_path: Path) -> None:
    path = tmp_path / "conda.yaml"
    path.write_text(AZURE_SAMPLE)
    assert load_conda_file(path).source == f"conda file {path}"


def test_load_conda_file_errors_name_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(SpecError, match=rf"^cannot read the conda file {missing}: No such file or directory$"):
        load_conda_file(missing)
    bad = tmp_path / "bad.yaml"
    bad.write_text("dependencies: [numpy\n")
    with pytest.raises(SpecError, match=rf"^{bad}: line \d+, column \d+: invalid YAML"):
        load_conda_file(bad)
    listed = tmp_path / "list.yaml"
    listed.write_text("- numpy\n")
    with pytest.raises(SpecError, match=rf"^{listed}: expected a mapping"):
        load_conda_file(listed)
