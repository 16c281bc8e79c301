"""Azure's REST invoke body, in the SDK's camelCase and the docs' PascalCase, and the tokens that open the route."""

from __future__ import annotations

import pytest

from runtime.control.controller.access import AccessTokens
from runtime.control.controller.rest_jobs import duration_s, invoke_from_rest
from runtime.errors import SpecError


def test_camel_and_pascal_bodies_ask_for_the_same_job() -> None:
    camel = {
        "properties": {
            "inputData": {"in": {"jobInputType": "UriFolder", "uri": "azureml:d:2"}},
            "outputData": {"score": {"jobOutputType": "UriFolder", "uri": "/out"}},
            "outputFileName": "o.csv",
            "miniBatchSize": 5,
            "errorThreshold": 2,
            "retrySettings": {"maxRetries": 1, "timeout": "PT1M30S"},
            "compute": {"instanceCount": 2},
            "name": "j1",
        }
    }
    pascal = {
        "Properties": {
            "InputData": {"in": {"JobInputType": "UriFolder", "Uri": "azureml:d:2"}},
            "OutputData": {"score": {"JobOutputType": "UriFolder", "Uri": "/out"}},
            "OutputFileName": "o.csv",
            "MiniBatchSize": 5,
            "ErrorThreshold": 2,
            "RetrySettings": {"MaxRetries": 1, "Timeout": "PT1M30S"},
            "Compute": {"InstanceCount": 2},
            "Name": "j1",
        }
    }
    a, b = invoke_from_rest(camel, "blue"), invoke_from_rest(pascal, "blue")
    assert a == b
    assert (a.input, a.input_type, a.output_path, a.mini_batch_size, a.job_name) == (
        "azureml:d:2",
        "UriFolder",
        "/out",
        5,
        "j1",
    )
    assert a.set == [
        "output_file_name=o.csv",
        "error_threshold=2",
        "retry_settings.max_retries=1",
        "retry_settings.timeout=90",
        "instance_count=2",
    ]
    assert a.deployment_name == "blue"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, '"properties"'),
        ({"properties": {"inputData": {}}}, "exactly one input"),
        ({"properties": {"inputData": {"a": {"jobInputType": "UriFile"}}}}, "uri is required"),
        ({"properties": {"inputData": {"a": {"jobInputType": "Literal", "uri": "x"}}}}, "pipeline deployments"),
        ({"properties": {"inputData": {"a": {"uri": "/x"}}, "miniBatchSize": "3"}}, "whole number"),
    ],
)
def test_a_body_azure_would_not_take_is_refused_saying_why(body: object, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        invoke_from_rest(body, None)


def test_durations_are_iso_8601_or_seconds() -> None:
    assert [duration_s("PT30S"), duration_s("PT1H"), duration_s("P1DT1S"), duration_s(45)] == [30, 3600, 86401, 45]
    with pytest.raises(SpecError, match="ISO 8601"):
        duration_s("30 seconds")


def test_tokens_expire_and_are_only_valid_where_they_were_signed() -> None:
    now = [1000.0]
    tokens = AccessTokens(b"s" * 32, 60, lambda: now[0])
    issued = tokens.issue()
    assert issued["tokenType"] == "Bearer" and issued["expires_on"] == 1060
    assert tokens.valid(issued["accessToken"])
    assert not AccessTokens(b"t" * 32, 60, lambda: now[0]).valid(issued["accessToken"])
    now[0] = 1060.0
    assert not tokens.valid(issued["accessToken"])
