"""Batch deployment YAML in both shapes: Azure's samples, one BatchSettings with Azure's defaults, every refusal."""

from __future__ import annotations

from collections.abc import Sequence

import msgspec
import pytest

from runtime.errors import SpecError
from runtime.spec import (
    BatchDeploymentSpec,
    BatchRetrySettings,
    BatchSettings,
    CodeConfiguration,
    ExecutorKind,
    InlineModel,
    LoggingLevel,
    ModelType,
    OutputAction,
    load_batch_deployment,
)

# cli/endpoints/batch/deploy-models/mnist-classifier/deployment-torch/deployment.yml
TORCH = """\
$schema: https://azuremlschemas.azureedge.net/latest/batchDeployment.schema.json
name: mnist-torch-dpl
endpoint_name: mnist-batch
type: model
model:
  name: mnist-classifier-torch
  path: model
code_configuration:
  code: code
  scoring_script: batch_driver.py
environment:
  name: batch-torch-py38
  image: mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu20.04:latest
  conda_file: environment/conda.yaml
compute: azureml:batch-cluster
resources:
  instance_count: 1
settings:
  max_concurrency_per_instance: 2
  mini_batch_size: 10
  output_action: append_row
  output_file_name: predictions.csv
  retry_settings:
    max_retries: 3
    timeout: 30
  error_threshold: -1
  logging_level: info
"""

# cli/endpoints/batch/deploy-models/heart-classifier-mlflow/deployment-simple/deployment.yml
MLFLOW = """\
$schema: https://azuremlschemas.azureedge.net/latest/batchDeployment.schema.json
endpoint_name: heart-classifier-batch
name: classifier-xgboost-mlflow
type: model
model: azureml:heart-classifier-mlflow@latest
compute: azureml:batch-cluster
resources:
  instance_count: 2
settings:
  max_concurrency_per_instance: 2
  mini_batch_size: 2
  output_action: append_row
  output_file_name: predictions.csv
  retry_settings:
    max_retries: 3
    timeout: 300
  error_threshold: -1
  logging_level: info
"""

# The legacy shape (no `type`, as before CLI 1.7), which BatchDeploymentSchema reads: settings at the top level.
LEGACY = """\
$schema: https://azuremlschemas.azureedge.net/latest/batchDeployment.schema.json
name: nonmlflowdp
endpoint_name: mybatchedp
model:
  path: ./mnist/model/
code_configuration:
  code: ./mnist/code/
  scoring_script: digit_identification.py
environment:
  conda_file: ./mnist/environment/conda.yml
  image: mcr.microsoft.com/azureml/openmpi3.1.2-ubuntu18.04:latest
compute: azureml:batch-cluster
resources:
  instance_count: 2
max_concurrency_per_instance: 2
mini_batch_size: 5
output_action: append_row
output_file_name: scores.csv
retry_settings:
  max_retries: 2
  timeout: 60
error_threshold: 10
logging_level: warning
"""

MINIMAL = """\
name: mnist-torch-dpl
endpoint_name: mnist-batch
model: azureml:mnist:1
code_configuration:
  code: code
  scoring_script: batch_driver.py
environment: azureml:torch-env:1
compute: azureml:batch-cluster
"""


def load(text: str, overrides: Sequence[str] = ()) -> BatchDeploymentSpec:
    return load_batch_deployment(text, source="deployment.yml", overrides=overrides).spec


def error(text: str, overrides: Sequence[str] = ()) -> str:
    with pytest.raises(SpecError) as info:
        load_batch_deployment(text, source="deployment.yml", overrides=overrides)
    assert "\n" not in info.value.message
    return info.value.message


def test_torch_sample_loads() -> None:
    loaded = load_batch_deployment(TORCH, source="deployment.yml")
    spec = loaded.spec
    assert (spec.name, spec.endpoint_name, spec.compute) == ("mnist-torch-dpl", "mnist-batch", "batch-cluster")
    assert spec.model == InlineModel(name="mnist-classifier-torch", path="model")
    assert spec.code_configuration == CodeConfiguration(code="code", scoring_script="batch_driver.py")
    assert spec.settings == BatchSettings(max_concurrency_per_instance=2)
    assert loaded.ignored == (
        "environment.image is not run: there is no Docker; environments are virtualenvs built from the conda file",
    )


def test_mlflow_sample_needs_no_code_or_environment() -> None:
    spec = load(MLFLOW)
    assert spec.model == "azureml:heart-classifier-mlflow@latest"
    assert spec.code_configuration is None and spec.environment is None
    assert spec.settings.instance_count == 2
    assert spec.settings.mini_batch_size == 2
    assert spec.settings.retry_settings == BatchRetrySettings(max_retries=3, timeout=300)


def test_legacy_shape_gives_the_same_settings_struct() -> None:
    spec = load(LEGACY)
    assert spec.settings == BatchSettings(
        mini_batch_size=5,
        instance_count=2,
        max_concurrency_per_instance=2,
        error_threshold=10,
        retry_settings=BatchRetrySettings(max_retries=2, timeout=60),
        output_action=OutputAction.APPEND_ROW,
        output_file_name="scores.csv",
        logging_level=LoggingLevel.WARNING,
    )
    folded = load(LEGACY.replace("max_concurrency_per_instance: 2\n", "type: model\nmax_concurrency_per_instance: 2\n"))
    assert folded.settings == spec.settings


def test_defaults_are_azures() -> None:
    settings = load(MINIMAL).settings
    assert settings.mini_batch_size == 10
    assert settings.instance_count == 1
    assert settings.max_concurrency_per_instance == 1
    assert settings.error_threshold == -1
    assert settings.retry_settings == BatchRetrySettings(max_retries=3, timeout=30)
    assert settings.output_action is OutputAction.APPEND_ROW
    assert settings.output_file_name == "predictions.csv"
    assert settings.logging_level is LoggingLevel.INFO
    assert settings.environment_variables == {}
    assert load(MINIMAL + "type: model\n").settings == settings


def test_type_model_folds_top_level_keys_into_settings() -> None:
    spec = load(MINIMAL + "type: model\nmini_batch_size: 4\nsettings:\n  error_threshold: 3\n")
    assert (spec.settings.mini_batch_size, spec.settings.error_threshold) == (4, 3)


def test_a_setting_given_twice_with_two_values_is_refused() -> None:
    assert error(TORCH, overrides=["mini_batch_size=3"]) == (
        "deployment.yml: $.mini_batch_size: 3 conflicts with settings.mini_batch_size 10; "
        "give mini_batch_size once, under settings (from --set mini_batch_size=3)"
    )
    assert load(TORCH, overrides=["mini_batch_size=10"]).settings.mini_batch_size == 10


def test_instance_count_under_settings_or_resources() -> None:
    assert load(MINIMAL + "type: model\nsettings:\n  instance_count: 3\n").settings.instance_count == 3
    assert (
        load(TORCH, overrides=["resources.instance_count=4", "settings.instance_count=4"]).settings.instance_count == 4
    )
    assert error(TORCH, overrides=["settings.instance_count=3"]) == (
        "deployment.yml: $.resources.instance_count: 1 conflicts with settings.instance_count 3; "
        "give instance_count once, under settings"
    )


def test_settings_block_without_type_model_is_refused() -> None:
    assert error(MINIMAL + "settings:\n  mini_batch_size: 4\n") == (
        "deployment.yml: $.settings: a settings block needs `type: model`; add `type: model`, "
        "or move its keys to the top level of the file"
    )


def test_pipeline_deployments_are_refused_before_their_keys_are_read() -> None:
    text = "name: hello-dpl\nendpoint_name: hello-batch\ntype: pipeline\ncomponent: azureml:hello:1\n"
    message = "pipeline deployments (pipeline components) are not supported locally"
    assert error(text).startswith(f"deployment.yml: $.type: {message}")
    assert error(text.replace("pipeline\n", "Pipeline\n")).startswith(f"deployment.yml: $.type: {message}")
    assert error(TORCH, overrides=["type=pipeline"]).endswith("(from --set type=pipeline)")
    assert error(MINIMAL + "type: batch\n") == "deployment.yml: $.type: 'batch' is not one of: model, pipeline"


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("settings.mini_batch_size=0", "$.settings.mini_batch_size: 0 is out of range: must be >= 1"),
        ("settings.error_threshold=-2", "$.settings.error_threshold: -2 is out of range: must be >= -1"),
        ("settings.retry_settings.timeout=0", "$.settings.retry_settings.timeout: 0 is out of range: must be > 0"),
        (
            "settings.retry_settings.max_retries=-1",
            "$.settings.retry_settings.max_retries: -1 is out of range: must be >= 0",
        ),
        (
            "settings.max_concurrency_per_instance=0",
            "$.settings.max_concurrency_per_instance: 0 is out of range: must be >= 1 and <= 64",
        ),
        (
            "settings.max_concurrency_per_instance=65",
            "$.settings.max_concurrency_per_instance: 65 is out of range: must be >= 1 and <= 64",
        ),
        ("resources.instance_count=0", "$.resources.instance_count: 0 is out of range: must be >= 1"),
        ("settings.output_action=append", "$.settings.output_action: 'append' is not one of: append_row, summary_only"),
        ("settings.logging_level=error", "$.settings.logging_level: 'error' is not one of: warning, info, debug"),
        (
            "settings.output_file_name=out/p.csv",
            "$.settings.output_file_name: 'out/p.csv' is not a file name; give a plain name such as predictions.csv",
        ),
        ("settings.mini_batch_size=1MB", "$.settings.mini_batch_size: Expected `int | null`, got `str`"),
    ],
)
def test_out_of_range_settings_say_what_is_allowed(override: str, message: str) -> None:
    assert error(TORCH, overrides=[override]) == f"deployment.yml: {message} (from --set {override})"


def test_legacy_errors_name_the_top_level_key() -> None:
    assert error(LEGACY.replace("mini_batch_size: 5", "mini_batch_size: 0")) == (
        "deployment.yml: $.mini_batch_size: 0 is out of range: must be >= 1"
    )
    assert error(LEGACY.replace("output_file_name: scores.csv", "output_file_name: ../x.csv")).startswith(
        "deployment.yml: $.output_file_name: '../x.csv' is not a file name"
    )


def test_enum_values_take_azure_casings() -> None:
    spec = load(TORCH, overrides=["settings.output_action=SummaryOnly", "settings.logging_level=DEBUG"])
    assert spec.settings.output_action is OutputAction.SUMMARY_ONLY
    assert spec.settings.logging_level is LoggingLevel.DEBUG


def test_misspelt_setting_keys_get_a_suggestion() -> None:
    assert error(TORCH.replace("  mini_batch_size:", "  mini_batch_sise:")) == (
        "deployment.yml: $.settings.mini_batch_sise: unknown key; did you mean mini_batch_size?"
    )
    assert error(TORCH.replace("    max_retries:", "    retries:")) == (
        "deployment.yml: $.settings.retry_settings.retries: unknown key; did you mean max_retries?"
    )


def test_environment_variables_become_strings() -> None:
    spec = load(MINIMAL + "environment_variables:\n  BATCH_SIZE: 4\n  DEBUG: true\n")
    assert spec.settings.environment_variables == {"BATCH_SIZE": "4", "DEBUG": "True"}


@pytest.mark.parametrize(
    ("compute", "name"),
    [
        ("azureml:batch-cluster", "batch-cluster"),
        ("batch-cluster", "batch-cluster"),
        (
            "/subscriptions/0000/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/ws"
            "/computes/cpu-cluster",
            "cpu-cluster",
        ),
    ],
)
def test_compute_forms(compute: str, name: str) -> None:
    assert load(MINIMAL, overrides=[f"compute={compute}"]).compute == name


def test_compute_is_required_and_checked() -> None:
    assert error(MINIMAL.replace("compute: azureml:batch-cluster\n", "")) == (
        "deployment.yml: $.compute: required key is missing; name the cluster jobs run on, e.g. azureml:batch-cluster"
    )
    assert error(MINIMAL, overrides=["compute=azureml:my_cluster"]).startswith(
        "deployment.yml: $.compute: 'azureml:my_cluster' is not a compute reference; use azureml:<cluster>"
    )


def test_model_is_required_and_references_are_checked() -> None:
    assert error(MINIMAL.replace("model: azureml:mnist:1\n", "")).startswith(
        "deployment.yml: $.model: required key is missing; give a registered model"
    )
    assert error(MINIMAL, overrides=["model=mnist:1"]).startswith(
        "deployment.yml: $.model: 'mnist:1' is not a model reference; use one of: azureml:<name>:<version>"
    )


def test_scoring_script_rules() -> None:
    no_code = MINIMAL.replace("code_configuration:\n  code: code\n  scoring_script: batch_driver.py\n", "")
    assert load(no_code).code_configuration is None  # a registered model may be MLflow; checked when deployed
    assert load(no_code.replace("model: azureml:mnist:1", "model:\n  path: m\n  type: mlflow_model")).model == (
        InlineModel(path="m", type=ModelType.MLFLOW_MODEL)
    )
    assert error(no_code.replace("model: azureml:mnist:1", "model:\n  path: m")) == (
        "deployment.yml: $.code_configuration: required unless the model is an MLflow model (type: mlflow_model); "
        "add code_configuration with code and scoring_script"
    )
    assert error(MINIMAL.replace("  scoring_script: batch_driver.py\n", "")) == (
        "deployment.yml: $.code_configuration.scoring_script: required key is missing; name the script in 'code' "
        "that defines init() and run(mini_batch)"
    )
    assert error(MINIMAL.replace("environment: azureml:torch-env:1\n", "")).startswith(
        "deployment.yml: $.environment: required when code_configuration gives a scoring script, as in Azure"
    )


def test_names_follow_the_online_rules_and_flags_win() -> None:
    loaded = load_batch_deployment(MINIMAL, source="d.yml", name="other-dpl", endpoint_name="other-batch")
    assert (loaded.spec.name, loaded.spec.endpoint_name) == ("other-dpl", "other-batch")
    assert error(MINIMAL, overrides=["endpoint_name=x"]).startswith(
        "deployment.yml: $.endpoint_name: 'x' is not a valid name; names are 3-32 characters"
    )


def test_ignored_keys_are_listed() -> None:
    text = MINIMAL + (
        "type: model\nresources:\n  instance_count: 2\n  instance_type: Standard_DS3_v2\n"
        "settings:\n  output_action: summary_only\n  output_file_name: out.csv\nid: /subscriptions/x\n"
    )
    assert load_batch_deployment(text, source="deployment.yml").ignored == (
        "resources.instance_type is ignored: instances are sized by the compute cluster's size",
        "output_file_name out.csv is ignored: output_action summary_only writes no predictions file",
        "id is ignored: it is read-only, set by the service",
    )
    assert load_batch_deployment(MINIMAL + "output_action: summary_only\n", source="d.yml").ignored == ()


def test_the_spec_round_trips_as_a_type_model_file() -> None:
    spec = load(TORCH)
    text = msgspec.yaml.encode(msgspec.to_builtins(spec)).decode()
    assert load(text) == spec


# cli/endpoints/batch/deploy-models/openai-embeddings/deployment.yml
EMBEDDINGS = """\
$schema: https://azuremlschemas.azureedge.net/latest/batchDeployment.schema.json
endpoint_name: text-embedding-ada-qwerty
name: default
description: The default deployment for generating embeddings
type: model
model: azureml:text-embedding-ada-002@latest
environment:
  name: batch-openai-mlflow
  image: mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu20.04:latest
  conda_file: environment/conda.yaml
code_configuration:
  code: code
  scoring_script: batch_driver.py
compute: azureml:batch-cluster-lp
resources:
  instance_count: 1
settings:
  max_concurrency_per_instance: 1
  mini_batch_size: 1
  output_action: summary_only
  retry_settings:
    max_retries: 1
    timeout: 9999
  logging_level: info
  environment_variables:
    OPENAI_API_TYPE: azure_ad
    OPENAI_API_BASE: $OPENAI_API_BASE
    OPENAI_API_VERSION: 2023-03-15-preview
"""


def test_summary_only_sample_with_settings_environment_variables() -> None:
    loaded = load_batch_deployment(EMBEDDINGS, source="deployment.yml")
    settings = loaded.spec.settings
    assert settings.output_action is OutputAction.SUMMARY_ONLY
    assert settings.retry_settings == BatchRetrySettings(max_retries=1, timeout=9999)
    assert settings.environment_variables == {
        "OPENAI_API_TYPE": "azure_ad",
        "OPENAI_API_BASE": "$OPENAI_API_BASE",
        "OPENAI_API_VERSION": "2023-03-15-preview",
    }
    assert not any(line.startswith("output_file_name") for line in loaded.ignored)


def test_executor_is_local_unless_the_deployment_says_ray() -> None:
    assert load(TORCH).settings.executor is ExecutorKind.LOCAL
    assert load(TORCH, overrides=["settings.executor=ray"]).settings.executor is ExecutorKind.RAY
    assert load(LEGACY + "executor: ray\n").settings.executor is ExecutorKind.RAY
    assert load(MINIMAL + "executor: Ray\n").settings.executor is ExecutorKind.RAY


def test_a_wrong_executor_names_the_allowed_ones() -> None:
    assert error(TORCH, overrides=["settings.executor=dask"]) == (
        "deployment.yml: $.settings.executor: 'dask' is not one of: local, ray (from --set settings.executor=dask)"
    )
    assert error(LEGACY + "executor: spark\n") == "deployment.yml: $.executor: 'spark' is not one of: local, ray"
