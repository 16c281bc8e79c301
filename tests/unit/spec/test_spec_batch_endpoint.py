"""Batch endpoint YAML: Azure's sample, token auth only, the default deployment, name rules and ignored keys."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from runtime.errors import SpecError
from runtime.spec import AuthMode, BatchEndpointSpec, load_batch_endpoint

# cli/endpoints/batch/deploy-models/mnist-classifier/endpoint.yml
MNIST_ENDPOINT = """\
$schema: https://azuremlschemas.azureedge.net/latest/batchEndpoint.schema.json
name: mnist-batch
description: A batch endpoint for scoring images from the MNIST dataset.
tags:
  type: deep-learning
"""


def load(text: str, overrides: Sequence[str] = (), name: str | None = None) -> BatchEndpointSpec:
    return load_batch_endpoint(text, source="endpoint.yml", overrides=overrides, name=name).spec


def error(text: str, overrides: Sequence[str] = ()) -> str:
    with pytest.raises(SpecError) as info:
        load_batch_endpoint(text, source="endpoint.yml", overrides=overrides)
    assert "\n" not in info.value.message
    return info.value.message


def test_sample_loads_with_aad_token_and_no_default() -> None:
    loaded = load_batch_endpoint(MNIST_ENDPOINT, source="endpoint.yml")
    assert loaded.spec.name == "mnist-batch"
    assert loaded.spec.auth_mode is AuthMode.AAD_TOKEN
    assert loaded.spec.defaults.deployment_name is None
    assert loaded.spec.tags == {"type": "deep-learning"}
    assert loaded.ignored == ()


@pytest.mark.parametrize("spelling", ["aad_token", "AADToken"])
def test_aad_token_in_azure_casings(spelling: str) -> None:
    assert load(f"name: mnist-batch\nauth_mode: {spelling}\n").auth_mode is AuthMode.AAD_TOKEN


@pytest.mark.parametrize(("spelling", "mode"), [("key", "key"), ("Key", "key"), ("AMLToken", "aml_token")])
def test_key_and_aml_token_are_refused(spelling: str, mode: str) -> None:
    assert error(f"name: mnist-batch\nauth_mode: {spelling}\n") == (
        f"endpoint.yml: $.auth_mode: batch endpoints support only aad_token, not {mode}; "
        "remove auth_mode or set it to aad_token"
    )


def test_default_deployment_from_file_and_from_set() -> None:
    assert load("name: mnist-batch\ndefaults:\n  deployment_name: mnist-torch\n").defaults.deployment_name == (
        "mnist-torch"
    )
    spec = load(MNIST_ENDPOINT, overrides=["defaults.deployment_name=mnist-keras"])
    assert spec.defaults.deployment_name == "mnist-keras"


def test_bad_default_deployment_name_names_the_rule_and_the_override() -> None:
    message = error(MNIST_ENDPOINT, overrides=["defaults.deployment_name=-x"])
    assert message.startswith("endpoint.yml: $.defaults.deployment_name: '-x' is not a valid name; names are 3-32")
    assert message.endswith("(from --set defaults.deployment_name=-x)")


def test_name_flag_wins_and_name_rule_applies() -> None:
    assert load(MNIST_ENDPOINT, name="other-batch").name == "other-batch"
    assert error("name: ab\n").startswith("endpoint.yml: $.name: 'ab' is not a valid name")


def test_online_only_keys_are_unknown_with_a_suggestion() -> None:
    assert error("name: mnist-batch\ntraffic:\n  blue: 100\n") == (
        "endpoint.yml: $.traffic: unknown key; allowed: $schema, auth_mode, defaults, description, id, kind, "
        "location, name, openapi_uri, properties, provisioning_state, scoring_uri, tags"
    )
    assert error("name: mnist-batch\ndefault:\n  deployment_name: x\n") == (
        "endpoint.yml: $.default: unknown key; did you mean defaults?"
    )
    assert error("name: mnist-batch\ndefaults:\n  deployment: x\n") == (
        "endpoint.yml: $.defaults.deployment: unknown key; did you mean deployment_name?"
    )


def test_read_only_keys_from_show_are_listed_as_ignored() -> None:
    loaded = load_batch_endpoint(
        MNIST_ENDPOINT + "scoring_uri: https://mnist-batch.eastus.inference.ml.azure.com/jobs\n",
        source="endpoint.yml",
    )
    assert loaded.ignored == ("scoring_uri is ignored: it is read-only, set by the service",)
