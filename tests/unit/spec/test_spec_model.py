"""Model files for `model create -f` and every form of model reference."""

from __future__ import annotations

import pytest

from runtime.errors import SpecError
from runtime.spec import ModelRef, ModelType, load_model, parse_model_ref

# cli/endpoints/online/managed/inference-schema/model.yml
MODEL = """\
$schema: https://azuremlschemas.azureedge.net/latest/model.schema.json
name: azureml-infschema
version: 1
path: models
"""


def test_model_file_loads_with_int_version_as_string() -> None:
    loaded = load_model(MODEL, source="inference-schema/model.yml")
    assert loaded.spec.name == "azureml-infschema"
    assert loaded.spec.version == "1"
    assert loaded.spec.path == "models"
    assert loaded.spec.type is ModelType.CUSTOM_MODEL
    assert loaded.base_dir.endswith("inference-schema")


def test_set_version_and_flags() -> None:
    spec = load_model(MODEL, source="model.yml", overrides=["version=7"]).spec
    assert spec.version == "7"
    spec = load_model(MODEL, source="model.yml", overrides=["version=7"], name="iris", version="8").spec
    assert (spec.name, spec.version) == ("iris", "8")


@pytest.mark.parametrize("spelling", ["mlflow_model", "MlflowModel", "MLFLOW_MODEL"])
def test_model_type_accepts_azure_casings(spelling: str) -> None:
    assert load_model(MODEL + f"type: {spelling}\n", source="model.yml").spec.type is ModelType.MLFLOW_MODEL


def test_model_needs_a_name_and_path() -> None:
    with pytest.raises(SpecError, match=r"^model\.yml: \$\.path: required key is missing$"):
        load_model("name: m\n", source="model.yml")
    with pytest.raises(SpecError, match=r"^model\.yml: \$\.name: required key is missing$"):
        load_model("path: models\n", source="model.yml")


@pytest.mark.parametrize(("key", "value"), [("name", "../etc"), ("version", "1/2"), ("name", "a b")])
def test_names_that_cannot_be_folder_names_are_rejected(key: str, value: str) -> None:
    with pytest.raises(SpecError, match=rf"^model\.yml: \$\.{key}: .* is not a valid model {key}; use letters"):
        load_model(MODEL, source="model.yml", overrides=[f"{key}={value}"])


def test_service_keys_are_accepted_and_reported_ignored() -> None:
    text = (
        MODEL + "id: azureml:azureml-infschema:1\njob_name: run-1\ndatastore: workspaceblobstore\nstage: Production\n"
    )
    loaded = load_model(text, source="model.yml")
    assert loaded.spec.stage == "Production"
    assert [line.split(" is ignored")[0] for line in loaded.ignored] == ["datastore", "id", "job_name"]


def test_unknown_model_key_is_rejected() -> None:
    with pytest.raises(SpecError, match=r"^model\.yml: \$\.framework: unknown key; allowed: \$schema, datastore,"):
        load_model(MODEL + "framework: sklearn\n", source="model.yml")


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("azureml:azureml-infschema:1", ModelRef(name="azureml-infschema", version="1")),
        ("azureml:heart-classifier-mlflow@latest", ModelRef(name="heart-classifier-mlflow", label="latest")),
        ("azureml:my_model.v2@prod", ModelRef(name="my_model.v2", label="prod")),
        ("azureml:iris", ModelRef(name="iris", label="latest")),
        (
            "/subscriptions/0000/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/ws"
            "/models/iris/versions/3",
            ModelRef(name="iris", version="3"),
        ),
        (
            "azureml:/subscriptions/0000/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/ws"
            "/models/iris/versions/3",
            ModelRef(name="iris", version="3"),
        ),
        (
            "azureml://registries/azureml/models/phi-3/versions/2",
            ModelRef(name="phi-3", version="2", registry="azureml"),
        ),
        (
            "azureml://registries/azureml/models/phi-3/labels/latest",
            ModelRef(name="phi-3", label="latest", registry="azureml"),
        ),
    ],
)
def test_parse_model_ref_forms(ref: str, expected: ModelRef) -> None:
    assert parse_model_ref(ref) == expected


@pytest.mark.parametrize(
    "ref",
    [
        "iris:1",
        "azureml:",
        "azureml:iris:",
        "azureml:iris@",
        "azureml:iris:1:2",
        "azureml:../iris:1",
        "azureml://registries/azureml/models/phi-3",
        "/subscriptions/0000/models/iris/versions/3",
    ],
)
def test_parse_model_ref_lists_accepted_forms(ref: str) -> None:
    with pytest.raises(SpecError) as info:
        parse_model_ref(ref)
    assert info.value.message.startswith(f"{ref!r} is not a model reference; use one of: azureml:<name>:<version>, ")
    assert "azureml://registries/<registry>/models/<name>/versions/<version>" in info.value.message
