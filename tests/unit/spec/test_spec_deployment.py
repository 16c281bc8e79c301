"""Deployment YAML: Azure's samples load unchanged, defaults are real, and every mistake is one precise line."""

from __future__ import annotations

import os
from collections.abc import Sequence

import pytest

from runtime.errors import Code, SpecError
from runtime.spec import (
    CodeConfiguration,
    DeploymentType,
    InlineEnvironment,
    InlineModel,
    ModelType,
    OnlineDeploymentSpec,
    TargetUtilizationScaleSettings,
    load_deployment,
)

# cli/endpoints/online/managed/sample/blue-deployment.yml (azureml-examples)
MANAGED_BLUE = """\
$schema: https://azuremlschemas.azureedge.net/latest/managedOnlineDeployment.schema.json
name: blue
endpoint_name: my-endpoint
model:
  path: ../../model-1/model/
code_configuration:
  code: ../../model-1/onlinescoring/
  scoring_script: score.py
environment:
  conda_file: ../../model-1/environment/conda.yml
  image: mcr.microsoft.com/azureml/openmpi3.1.2-ubuntu18.04:20210727.v1
instance_type: Standard_DS2_v2
instance_count: 1
"""

# cli/endpoints/online/kubernetes/kubernetes-blue-deployment.yml, plus `compute` and an enum in Azure's casing
KUBERNETES_BLUE = """\
name: blue
type: Kubernetes
endpoint_name: my-endpoint
compute: azureml:inferencecompute
model:
  path: ../model-1/model/
code_configuration:
  code: ../model-1/onlinescoring/
  scoring_script: score.py
environment:
  conda_file: ../model-1/environment/conda.yml
  image: mcr.microsoft.com/azureml/openmpi3.1.2-ubuntu18.04:latest
request_settings:
  request_timeout_ms: 3000
  max_concurrent_requests_per_instance: 1
  max_queue_wait_ms: 3000
resources:
  requests:
    cpu: "0.1"
    memory: "0.1Gi"
  limits:
    cpu: "0.2"
    memory: "200Mi"
liveness_probe:
  initial_delay: 5
  period: 5
  timeout: 10
  success_threshold: 1
  failure_threshold: 1
readiness_probe:
  initial_delay: 5
  period: 5
  timeout: 10
  success_threshold: 1
  failure_threshold: 1
tags:
  tag1: deployment-tag1-value
instance_count: 1
scale_settings:
  type: default
"""


def load(
    text: str, overrides: Sequence[str] = (), name: str | None = None, endpoint_name: str | None = None
) -> OnlineDeploymentSpec:
    return load_deployment(text, source="blue.yml", overrides=overrides, name=name, endpoint_name=endpoint_name).spec


def error(text: str, overrides: Sequence[str] = (), name: str | None = None, endpoint_name: str | None = None) -> str:
    with pytest.raises(SpecError) as info:
        load_deployment(text, source="blue.yml", overrides=overrides, name=name, endpoint_name=endpoint_name)
    assert info.value.code is Code.INVALID_ARGUMENT
    assert "\n" not in info.value.message
    return info.value.message


def test_managed_sample_loads_with_azure_defaults(tmp_path: os.PathLike[str]) -> None:
    source = os.path.join(tmp_path, "sample", "blue-deployment.yml")
    loaded = load_deployment(MANAGED_BLUE, source=source)
    spec = loaded.spec
    assert loaded.source == source
    assert loaded.base_dir == os.path.join(tmp_path, "sample")
    assert spec.type is DeploymentType.MANAGED
    assert spec.model == InlineModel(path="../../model-1/model/")
    assert spec.code_configuration == CodeConfiguration(code="../../model-1/onlinescoring/", scoring_script="score.py")
    assert spec.instance_type == "Standard_DS2_v2"
    assert (spec.request_settings.request_timeout_ms, spec.request_settings.max_concurrent_requests_per_instance) == (
        5000,
        1,
    )
    assert spec.request_settings.max_queue_wait_ms == 500
    probe = spec.liveness_probe
    assert (probe.initial_delay, probe.period, probe.timeout, probe.success_threshold, probe.failure_threshold) == (
        10,
        10,
        2,
        1,
        30,
    )
    assert spec.readiness_probe == spec.liveness_probe


def test_managed_sample_reports_the_image_as_not_run_and_builds_the_conda_file() -> None:
    ignored = load_deployment(MANAGED_BLUE, source="blue.yml").ignored
    assert ignored == (
        "environment.image is not run: there is no Docker; environments are virtualenvs built from the conda file",
    )


def test_kubernetes_sample_loads_and_reports_cluster_keys_once() -> None:
    loaded = load_deployment(KUBERNETES_BLUE, source="k8s.yml")
    spec = loaded.spec
    assert spec.type is DeploymentType.KUBERNETES
    assert spec.instance_type is None
    assert spec.request_settings.max_queue_wait_ms == 3000
    assert spec.liveness_probe.failure_threshold == 1
    assert spec.resources is not None and spec.resources.requests.memory == "0.1Gi"
    assert spec.tags == {"tag1": "deployment-tag1-value"}
    compute = [line for line in loaded.ignored if line.startswith("compute azureml:inferencecompute is ignored: ")]
    assert len(compute) == 1
    assert "resources.limits is ignored: instances are sized from resources.requests" in loaded.ignored
    assert len(loaded.ignored) == len(set(loaded.ignored))


def test_kubernetes_resources_are_ignored_when_an_instance_type_is_given() -> None:
    loaded = load_deployment(KUBERNETES_BLUE + "instance_type: cpu2\n", source="k8s.yml")
    assert "resources is ignored: instance_type cpu2 sets the cores and GPUs" in loaded.ignored


@pytest.mark.parametrize("spelling", ["managed", "Managed", "MANAGED"])
def test_deployment_type_is_case_insensitive(spelling: str) -> None:
    assert load(MANAGED_BLUE + f"type: {spelling}\n").type is DeploymentType.MANAGED


@pytest.mark.parametrize("spelling", ["triton_model", "TritonModel", "tritonModel"])
def test_inline_model_type_accepts_azure_casings(spelling: str) -> None:
    spec = load(MANAGED_BLUE + f"model: {{path: models, type: {spelling}}}\n")
    assert isinstance(spec.model, InlineModel) and spec.model.type is ModelType.TRITON_MODEL


def test_unknown_enum_value_lists_allowed_values() -> None:
    assert error(MANAGED_BLUE + "type: serverless\n") == (
        "blue.yml: $.type: 'serverless' is not one of: managed, kubernetes"
    )


@pytest.mark.parametrize("count", ["0", "65", "two", "1.5", "-1", "٤"])
def test_worker_count_is_a_number_of_processes_from_1_to_64(count: str) -> None:
    message = error(MANAGED_BLUE, overrides=[f"environment_variables.WORKER_COUNT={count!r}"])
    assert message.startswith(f"blue.yml: $.environment_variables.WORKER_COUNT: {count!r} is not a number of worker")
    assert "from 1 to 64" in message
    assert load(MANAGED_BLUE, overrides=["environment_variables.WORKER_COUNT=64"]).environment_variables == {
        "WORKER_COUNT": "64"
    }


def test_environment_variables_become_the_strings_a_shell_would_see() -> None:
    spec = load(MANAGED_BLUE + "environment_variables:\n  WORKER_COUNT: 4\n  DEBUG: true\n  RATE: 0.5\n  NAME: x\n")
    assert spec.environment_variables == {"WORKER_COUNT": "4", "DEBUG": "True", "RATE": "0.5", "NAME": "x"}


def test_environment_variable_without_a_value_is_an_error_naming_it() -> None:
    assert error(MANAGED_BLUE + "environment_variables:\n  EMPTY:\n") == (
        "blue.yml: $.environment_variables.EMPTY: Expected `str`, got `null`"
    )


def test_wrong_type_names_the_nested_key() -> None:
    text = MANAGED_BLUE + "request_settings:\n  request_timeout_ms: fast\n"
    assert error(text) == "blue.yml: $.request_settings.request_timeout_ms: Expected `int`, got `str`"


def test_unknown_nested_key_lists_allowed_keys() -> None:
    text = MANAGED_BLUE + "request_settings:\n  foo: 1\n"
    assert error(text) == (
        "blue.yml: $.request_settings.foo: unknown key; allowed: "
        "max_concurrent_requests_per_instance, max_queue_wait_ms, request_timeout_ms"
    )


def test_probe_path_is_rejected_like_azure_does() -> None:
    assert error(MANAGED_BLUE + "readiness_probe: {path: /health}\n").startswith(
        "blue.yml: $.readiness_probe.path: unknown key; allowed: failure_threshold, initial_delay, period,"
    )


def test_unknown_top_level_key_is_rejected() -> None:
    assert error(MANAGED_BLUE + "replicas: 3\n").startswith("blue.yml: $.replicas: unknown key; allowed: $schema, ")


def test_managed_deployment_needs_an_instance_type() -> None:
    text = MANAGED_BLUE.replace("instance_type: Standard_DS2_v2\n", "")
    assert error(text).startswith("blue.yml: $.instance_type: required for managed deployments")


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("instance_count: 0\n", "blue.yml: $.instance_count: 0 is out of range: must be >= 1 and <= 50"),
        ("instance_count: 51\n", "blue.yml: $.instance_count: 51 is out of range: must be >= 1 and <= 50"),
        (
            "request_settings: {max_concurrent_requests_per_instance: 0}\n",
            "blue.yml: $.request_settings.max_concurrent_requests_per_instance: 0 is out of range: must be >= 1",
        ),
        (
            "liveness_probe: {success_threshold: 2}\n",
            "blue.yml: $.liveness_probe.success_threshold: must be 1 (Azure fixes it for liveness probes)",
        ),
    ],
)
def test_out_of_range_numbers_are_rejected(extra: str, message: str) -> None:
    assert error(MANAGED_BLUE + extra) == message


def test_request_timeout_limit_is_higher_for_kubernetes() -> None:
    assert error(MANAGED_BLUE + "request_settings: {request_timeout_ms: 200000}\n").startswith(
        "blue.yml: $.request_settings.request_timeout_ms: 200000 is over the 180000 ms limit"
    )
    k8s = KUBERNETES_BLUE.replace("request_timeout_ms: 3000", "request_timeout_ms: 300000")
    assert load(k8s).request_settings.request_timeout_ms == 300000
    too_long = KUBERNETES_BLUE.replace("request_timeout_ms: 3000", "request_timeout_ms: 300001")
    assert error(too_long) == (
        "blue.yml: $.request_settings.request_timeout_ms: 300001 is out of range: must be >= 1 and <= 300000"
    )


def test_kubernetes_only_keys_are_rejected_on_managed_deployments() -> None:
    assert error(MANAGED_BLUE + "resources: {requests: {cpu: '1'}}\n") == (
        "blue.yml: $.resources: only kubernetes deployments take resources; add `type: kubernetes` or remove it"
    )


def test_bad_kubernetes_quantity_is_caught_at_load() -> None:
    text = KUBERNETES_BLUE.replace('cpu: "0.1"', 'cpu: "two"')
    assert error(text) == (
        "blue.yml: $.resources.requests.cpu: 'two' is not a Kubernetes quantity (e.g. 500m, 2, 0.5Gi, 200Mi)"
    )


def test_target_utilization_scale_settings_take_kubernetes_defaults() -> None:
    spec = load(MANAGED_BLUE + "scale_settings: {type: TargetUtilization, max_instances: 4}\n")
    assert spec.scale_settings == TargetUtilizationScaleSettings(
        min_instances=1, max_instances=4, polling_interval=1, target_utilization_percentage=70
    )


def test_scale_settings_are_not_listed_as_ignored() -> None:
    loaded = load_deployment(
        MANAGED_BLUE + "scale_settings: {type: target_utilization, max_instances: 4, polling_interval: 5}\n",
        source="blue.yml",
    )
    assert not any("scale_settings" in line for line in loaded.ignored)  # the autoscaler acts on them
    default = load_deployment(MANAGED_BLUE + "scale_settings: {type: default}\n", source="blue.yml")
    assert not any("scale_settings" in line for line in default.ignored)


def test_scale_settings_reject_unknown_type_and_min_over_max() -> None:
    assert error(MANAGED_BLUE + "scale_settings: {type: manual}\n") == (
        "blue.yml: $.scale_settings.type: 'manual' is not one of: default, target_utilization"
    )
    assert error(MANAGED_BLUE + "scale_settings: {type: target_utilization, min_instances: 3, max_instances: 2}\n") == (
        "blue.yml: $.scale_settings: min_instances 3 is more than max_instances 2"
    )


def test_default_scale_settings_take_no_other_keys() -> None:
    assert error(MANAGED_BLUE + "scale_settings: {type: default, min_instances: 2}\n") == (
        "blue.yml: $.scale_settings.min_instances: unknown key; allowed: type"
    )


def test_model_reference_string_is_checked() -> None:
    assert load(MANAGED_BLUE + "model: azureml:azureml-infschema:1\n").model == "azureml:azureml-infschema:1"
    assert error(MANAGED_BLUE + "model: sklearn_model\n").startswith(
        "blue.yml: $.model: 'sklearn_model' is not a model reference; use one of: azureml:<name>:<version>"
    )


def test_model_of_the_wrong_kind_lists_what_is_accepted() -> None:
    assert error(MANAGED_BLUE + "model: 3\n") == "blue.yml: $.model: Expected `str | object | null`, got `int`"


def test_inline_model_needs_a_path() -> None:
    assert error(MANAGED_BLUE + "model: {name: m}\n") == "blue.yml: $.model.path: required key is missing"


def test_an_environment_reference_is_used_and_inline_extras_are_reported_ignored() -> None:
    loaded = load_deployment(MANAGED_BLUE + "environment: azureml:AzureML-sklearn-1.0:1\n", source="blue.yml")
    assert loaded.spec.environment == "azureml:AzureML-sklearn-1.0:1"
    assert loaded.ignored == ()
    inline = """\
environment:
  build: {path: docker-context}
  os_type: Linux
  inference_config:
    liveness_route: {port: 5001, path: /live}
    readiness_route: {port: 5001, path: /ready}
    scoring_route: {port: 5001, path: /score}
"""
    spec = load_deployment(MANAGED_BLUE + inline, source="blue.yml")
    assert isinstance(spec.spec.environment, InlineEnvironment)
    assert [line.split(" is ignored")[0] for line in spec.ignored] == [
        "environment.build",
        "environment.inference_config",
        "environment.os_type",
    ]


def test_inference_config_needs_all_three_routes() -> None:
    text = MANAGED_BLUE + "environment:\n  inference_config:\n    liveness_route: {port: 5001, path: /live}\n"
    assert error(text) == "blue.yml: $.environment.inference_config.readiness_route: required key is missing"


def test_azure_only_features_are_each_reported_once() -> None:
    extra = """\
app_insights_enabled: true
egress_public_network_access: Disabled
private_network_connection: true
model_mount_path: /var/tfserving-model-mount
data_collector:
  collections:
    model_inputs: {enabled: 'True'}
    model_outputs: {enabled: false}
  sampling_rate: 0.5
  rolling_rate: Minute
  request_logging: {capture_headers: [x-request-id]}
"""
    loaded = load_deployment(MANAGED_BLUE + extra, source="b.yml")
    keys = [line.split(" is ignored")[0].split(" is not run")[0] for line in loaded.ignored]
    assert keys == [
        "environment.image",
        "model_mount_path",
        "app_insights_enabled",
        "egress_public_network_access",
        "private_network_connection",
        "data_collector",
    ]
    collector = loaded.spec.data_collector
    assert collector is not None
    assert {name: c.enabled for name, c in collector.collections.items()} == {
        "model_inputs": True,
        "model_outputs": False,
    }


def test_default_valued_azure_features_are_not_reported() -> None:
    extra = "app_insights_enabled: false\negress_public_network_access: enabled\n"
    loaded = load_deployment(MANAGED_BLUE + extra, source="blue.yml")
    assert [line.split(" is not run")[0] for line in loaded.ignored] == ["environment.image"]


def test_data_collector_sampling_rate_is_a_fraction() -> None:
    assert error(MANAGED_BLUE + "data_collector: {sampling_rate: 1.5}\n") == (
        "blue.yml: $.data_collector.sampling_rate: 1.5 is out of range: must be >= 0.0 and <= 1.0"
    )


@pytest.mark.parametrize(("key", "value"), [("name", "b"), ("name", "blue_1"), ("endpoint_name", "<endpoint_name>")])
def test_names_follow_azures_rule(key: str, value: str) -> None:
    original = {"name": "name: blue", "endpoint_name": "endpoint_name: my-endpoint"}[key]
    text = MANAGED_BLUE.replace(original, f"{key}: '{value}'")
    assert error(text) == (
        f"blue.yml: $.{key}: {value!r} is not a valid name; names are 3-32 characters: letters, digits and '-', "
        "starting with a letter and ending with a letter or digit"
    )


def test_name_flags_win_over_file_and_set() -> None:
    text = MANAGED_BLUE.replace("endpoint_name: my-endpoint", "endpoint_name: <endpoint_name>")
    spec = load(text, overrides=["name=green"], name="canary", endpoint_name="my-endpoint-2")
    assert (spec.name, spec.endpoint_name) == ("canary", "my-endpoint-2")


def test_overrides_fill_placeholders_before_checks() -> None:
    text = MANAGED_BLUE.replace("scoring_script: score.py", "scoring_script: <SCORING_SCRIPT>")
    spec = load(text, overrides=["code_configuration.scoring_script=single-file-to-file-score.py", "instance_count=2"])
    assert spec.code_configuration is not None
    assert spec.code_configuration.scoring_script == "single-file-to-file-score.py"
    assert spec.instance_count == 2


def test_api_source_has_no_base_dir() -> None:
    loaded = load_deployment(MANAGED_BLUE, source="<api>")
    assert (loaded.source, loaded.base_dir) == ("<api>", "")


def test_specs_are_frozen() -> None:
    spec = load(MANAGED_BLUE)
    with pytest.raises(AttributeError):
        spec.instance_count = 3  # type: ignore[misc]


def test_a_misspelt_key_gets_a_did_you_mean_instead_of_the_list() -> None:
    assert error(MANAGED_BLUE.replace("instance_type:", "instance_typ:")) == (
        "blue.yml: $.instance_typ: unknown key; did you mean instance_type?"
    )
    text = MANAGED_BLUE + "request_settings:\n  request_timeout: 1\n"
    assert error(text) == "blue.yml: $.request_settings.request_timeout: unknown key; did you mean request_timeout_ms?"
