"""One job's `--set` overrides of a deployment's batch settings: which keys, validated as the deployment's are."""

from __future__ import annotations

import pytest

from runtime.errors import SpecError
from runtime.spec import JOB_OVERRIDABLE, BatchRetrySettings, BatchSettings, override_settings

DEPLOYED = BatchSettings(mini_batch_size=5, max_concurrency_per_instance=2, output_file_name="scores.csv")


def error(overrides: list[str]) -> str:
    with pytest.raises(SpecError) as info:
        override_settings(DEPLOYED, overrides)
    assert "\n" not in info.value.message
    return info.value.message


def test_no_overrides_keep_the_deployments_settings() -> None:
    assert override_settings(DEPLOYED, []) is DEPLOYED


def test_overrides_change_only_what_they_name() -> None:
    result = override_settings(DEPLOYED, ["error_threshold=5", "retry_settings.max_retries=1"])
    assert result == BatchSettings(
        mini_batch_size=5,
        max_concurrency_per_instance=2,
        output_file_name="scores.csv",
        error_threshold=5,
        retry_settings=BatchRetrySettings(max_retries=1, timeout=30),
    )
    assert DEPLOYED.error_threshold == -1  # the deployment itself is untouched


def test_every_overridable_key() -> None:
    result = override_settings(
        DEPLOYED,
        [
            "mini_batch_size=1",
            "instance_count=3",
            "output_file_name=job.csv",
            "retry_settings.timeout=90",
            "error_threshold=-1",
            "retry_settings.max_retries=0",
        ],
    )
    assert (result.mini_batch_size, result.instance_count, result.output_file_name) == (1, 3, "job.csv")
    assert result.retry_settings == BatchRetrySettings(max_retries=0, timeout=90)
    assert set(JOB_OVERRIDABLE) == {
        "error_threshold",
        "instance_count",
        "mini_batch_size",
        "output_file_name",
        "retry_settings.max_retries",
        "retry_settings.timeout",
    }


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("error_threshold=-2", "$.error_threshold: -2 is out of range: must be >= -1"),
        ("mini_batch_size=0", "$.mini_batch_size: 0 is out of range: must be >= 1"),
        ("instance_count=0", "$.instance_count: 0 is out of range: must be >= 1"),
        ("retry_settings.timeout=0", "$.retry_settings.timeout: 0 is out of range: must be > 0"),
        ("retry_settings.max_retries=-1", "$.retry_settings.max_retries: -1 is out of range: must be >= 0"),
        ("mini_batch_size=ten", "$.mini_batch_size: Expected `int`, got `str`"),
        (
            "output_file_name=../p.csv",
            "$.output_file_name: '../p.csv' is not a file name; give a plain name such as predictions.csv",
        ),
    ],
)
def test_bad_values_are_refused_naming_the_override(override: str, message: str) -> None:
    assert error([override]) == f"job settings: {message} (from --set {override})"


@pytest.mark.parametrize("key", ["max_concurrency_per_instance", "output_action", "logging_level", "retry_settings"])
def test_deployment_only_keys_are_refused(key: str) -> None:
    assert error([f"{key}=1"]) == (
        f"--set '{key}=1': {key} cannot be set for one job; one of: error_threshold, instance_count, "
        "mini_batch_size, output_file_name, retry_settings.max_retries, retry_settings.timeout "
        "(update the deployment to change the rest)"
    )


def test_malformed_override_says_the_form() -> None:
    for override in ("mini_batch_size", "=3"):
        assert error([override]) == (
            f"--set {override!r}: expected KEY=VALUE with a dotted key, "
            "e.g. --set instance_count=2 or --set tags.team=ml"
        )
