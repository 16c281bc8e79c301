"""Environment references and Azure's curated environments."""

from __future__ import annotations

import pytest

from runtime.envs.curated import CURATED_NAMES, curated
from runtime.envs.refs import EnvironmentRef, parse_environment_ref
from runtime.errors import SpecError


@pytest.mark.parametrize(
    ("text", "ref"),
    [
        ("azureml:my-env:3", EnvironmentRef(name="my-env", version="3")),
        ("azureml:AzureML-sklearn-1.5@latest", EnvironmentRef(name="AzureML-sklearn-1.5", label="latest")),
        ("azureml:my-env", EnvironmentRef(name="my-env", label="latest")),
        (
            "azureml://registries/azureml/environments/sklearn-1.5/versions/21",
            EnvironmentRef(name="sklearn-1.5", version="21", registry="azureml"),
        ),
        (
            "azureml://registries/azureml/environments/sklearn-1.5/labels/latest",
            EnvironmentRef(name="sklearn-1.5", label="latest", registry="azureml"),
        ),
        (
            "/subscriptions/0000/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/ws"
            "/environments/my-env/versions/2",
            EnvironmentRef(name="my-env", version="2"),
        ),
    ],
)
def test_reference_forms(text: str, ref: EnvironmentRef) -> None:
    assert parse_environment_ref(text) == ref


@pytest.mark.parametrize(
    "text", ["my-env:1", "azureml:", "azureml:a/b:1", "azureml://registries/r/models/m/versions/1", "azureml:x:1:2"]
)
def test_other_text_is_refused_with_the_forms(text: str) -> None:
    with pytest.raises(SpecError, match=r"is not an environment reference; use one of: azureml:<name>:<version>"):
        parse_environment_ref(text)


def test_curated_sklearn_environment() -> None:
    reqs = curated("AzureML-sklearn-1.0-ubuntu20.04-py38-cpu")
    assert reqs is not None
    assert reqs.requirements == (
        "joblib~=1.2.0",
        "matplotlib~=3.5.0",
        "numpy~=1.22.0",
        "pandas~=1.3.0",
        "psutil~=5.8.0",
        "scikit-learn~=1.0.0",
        "scipy~=1.10.0",
        "tqdm~=4.66.3",
    )
    assert reqs.python == "3.8"
    assert reqs.source == "curated environment AzureML-sklearn-1.0-ubuntu20.04-py38-cpu"
    assert reqs.notes[0].startswith("curated environment AzureML-sklearn-1.0-ubuntu20.04-py38-cpu: modelyard")


def test_curated_names_are_case_insensitive_and_accept_other_spellings() -> None:
    lower = curated("azureml-sklearn-1.5")
    registry = curated("sklearn-1.5")
    py311 = curated("AzureML-sklearn-1.5-ubuntu22.04-py311-cpu")
    assert lower is not None and registry is not None and py311 is not None
    assert lower.requirements == registry.requirements == py311.requirements
    assert "scikit-learn~=1.5.0" in lower.requirements
    assert (lower.python, py311.python) == ("3.10", "3.11")


def test_minimal_is_empty_and_unknown_is_none() -> None:
    minimal = curated("AzureML-minimal-ubuntu20.04-py38-cpu")
    assert minimal is not None and minimal.requirements == ()
    assert curated("AzureML-nonesuch-1.0-ubuntu20.04-py38-cpu") is None
    assert curated("my-team-env") is None


def test_every_listed_curated_name_resolves() -> None:
    assert all(curated(name) is not None for name in CURATED_NAMES)
