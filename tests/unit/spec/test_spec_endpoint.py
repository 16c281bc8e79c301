"""Endpoint YAML: auth modes in any Azure casing, traffic rules, ignored keys, and YAML-level errors."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from runtime.errors import SpecError
from runtime.spec import AuthMode, IdentityType, OnlineEndpointSpec, load_endpoint

# cli/endpoints/online/managed/sample/endpoint.yml
MANAGED_ENDPOINT = """\
$schema: https://azuremlschemas.azureedge.net/latest/managedOnlineEndpoint.schema.json
name: my-endpoint
auth_mode: key
"""

# cli/endpoints/online/kubernetes/kubernetes-endpoint.yml
KUBERNETES_ENDPOINT = """\
name: my-endpoint
compute: azureml:inferencecompute
auth_mode: Key
tags:
  tag1: endpoint-tag1-value
"""


def load(text: str, overrides: Sequence[str] = (), name: str | None = None) -> OnlineEndpointSpec:
    return load_endpoint(text, source="endpoint.yml", overrides=overrides, name=name).spec


def error(text: str, overrides: Sequence[str] = (), name: str | None = None) -> str:
    with pytest.raises(SpecError) as info:
        load_endpoint(text, source="endpoint.yml", overrides=overrides, name=name)
    assert "\n" not in info.value.message
    return info.value.message


def test_managed_sample_loads_with_defaults() -> None:
    loaded = load_endpoint(MANAGED_ENDPOINT, source="endpoint.yml")
    assert loaded.spec.name == "my-endpoint"
    assert loaded.spec.auth_mode is AuthMode.KEY
    assert loaded.spec.traffic == {} and loaded.spec.mirror_traffic == {}
    assert loaded.ignored == ()


def test_auth_mode_defaults_to_key() -> None:
    assert load("name: my-endpoint\n").auth_mode is AuthMode.KEY


def test_kubernetes_sample_loads_and_reports_compute_ignored() -> None:
    loaded = load_endpoint(KUBERNETES_ENDPOINT, source="k8s-endpoint.yml")
    assert loaded.spec.auth_mode is AuthMode.KEY
    assert loaded.spec.tags == {"tag1": "endpoint-tag1-value"}
    assert len(loaded.ignored) == 1
    assert loaded.ignored[0].startswith("compute azureml:inferencecompute is ignored: ")


@pytest.mark.parametrize(
    ("spelling", "mode"),
    [
        ("key", AuthMode.KEY),
        ("Key", AuthMode.KEY),
        ("AMLToken", AuthMode.AML_TOKEN),
        ("aml_token", AuthMode.AML_TOKEN),
        ("AADToken", AuthMode.AAD_TOKEN),
        ("aad_token", AuthMode.AAD_TOKEN),
    ],
)
def test_auth_mode_accepts_azure_casings(spelling: str, mode: AuthMode) -> None:
    assert load(f"name: my-endpoint\nauth_mode: {spelling}\n").auth_mode is mode


def test_unknown_auth_mode_lists_the_allowed_ones() -> None:
    assert error("name: my-endpoint\nauth_mode: token\n") == (
        "endpoint.yml: $.auth_mode: 'token' is not one of: key, aml_token, aad_token"
    )


def test_traffic_must_total_100_or_0() -> None:
    assert load("name: my-endpoint\ntraffic: {blue: 90, green: 10}\n").traffic == {"blue": 90, "green": 10}
    assert load("name: my-endpoint\ntraffic: {blue: 0}\n").traffic == {"blue": 0}
    assert error("name: my-endpoint\ntraffic: {blue: 70}\n") == (
        "endpoint.yml: $.traffic: percentages sum to 70; they must total 100, or 0 to send no traffic"
    )


def test_traffic_value_of_the_wrong_type_names_the_deployment() -> None:
    assert error("name: my-endpoint\ntraffic: {blue: ninety}\n") == (
        "endpoint.yml: $.traffic.blue: Expected `int`, got `str`"
    )


def test_mirror_rules_apply_to_the_file() -> None:
    assert load("name: my-endpoint\ntraffic: {blue: 100}\nmirror_traffic: {green: 10}\n").mirror_traffic == {
        "green": 10
    }
    assert error("name: my-endpoint\nmirror_traffic: {green: 60}\n").startswith(
        "endpoint.yml: $.mirror_traffic.green: 60 is not a percentage from 0 to 50"
    )
    assert error("name: my-endpoint\nmirror_traffic: {green: 10, red: 10}\n").startswith(
        "endpoint.yml: $.mirror_traffic: 2 deployments are mirrored (green, red)"
    )


def test_read_only_and_cloud_only_keys_are_accepted_and_reported() -> None:
    text = """\
name: my-endpoint
public_network_access: Disabled
identity:
  type: SystemAssigned
scoring_uri: https://my-endpoint.eastus.inference.ml.azure.com/score
provisioning_state: Succeeded
"""
    loaded = load_endpoint(text, source="endpoint.yml")
    assert loaded.spec.identity is not None and loaded.spec.identity.type is IdentityType.SYSTEM_ASSIGNED
    assert [line.split(" is ignored")[0] for line in loaded.ignored] == [
        "identity",
        "public_network_access",
        "provisioning_state",
        "scoring_uri",
    ]


def test_name_flag_overrides_the_file() -> None:
    assert load("name: <endpoint_name>\n", name="ep-from-flag").name == "ep-from-flag"


def test_name_rule_is_explained() -> None:
    assert error("name: 1st-endpoint\n") == (
        "endpoint.yml: $.name: '1st-endpoint' is not a valid name; names are 3-32 characters: letters, digits and "
        "'-', starting with a letter and ending with a letter or digit"
    )
    assert "not a valid name" in error(f"name: {'a' * 33}\n")
    assert "not a valid name" in error("name: ends-with-dash-\n")


def test_missing_name_is_reported() -> None:
    assert error("auth_mode: key\n") == "endpoint.yml: $.name: required key is missing"


def test_invalid_yaml_names_line_and_column() -> None:
    message = error("name: my-endpoint\ntraffic: {blue: 90\n")
    assert message.startswith("endpoint.yml: line 3, column 1: invalid YAML: ")


@pytest.mark.parametrize(
    ("text", "got"), [("", "an empty document"), ("- a\n- b\n", "a list"), ("just words\n", "a single string")]
)
def test_document_must_be_a_mapping(text: str, got: str) -> None:
    assert error(text) == f"endpoint.yml: expected a mapping of `key: value` lines, got {got}"


def test_error_names_the_source_as_given() -> None:
    with pytest.raises(SpecError, match=r"^endpoints/online/endpoint\.yml: \$\.auth_mode: "):
        load_endpoint("name: my-endpoint\nauth_mode: 3\n", source="endpoints/online/endpoint.yml")


def test_a_spec_from_flags_alone_names_no_file() -> None:
    # `online-endpoint create -n X --set ...` sends no file: the error starts at the key, not at "<api>".
    with pytest.raises(SpecError, match=r"^\$\.auth_mode: .*\(from --set auth_mode=bogus\)$"):
        load_endpoint("{}", source="<api>", overrides=["auth_mode=bogus"], name="fix")
    with pytest.raises(SpecError, match=r"^\$\.name: 'ab' is not a valid name"):
        load_endpoint("{}", source="<api>", name="ab")
