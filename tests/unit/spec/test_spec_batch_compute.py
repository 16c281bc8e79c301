"""Compute cluster YAML and flags: Azure's AmlCompute defaults, other compute types refused, ignored keys."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from runtime.errors import SpecError
from runtime.spec import ComputeSpec, ComputeTier, ComputeType, load_compute, parse_compute_ref

# cli/resources/compute/cluster-basic.yml
CLUSTER = """\
$schema: https://azuremlschemas.azureedge.net/latest/amlCompute.schema.json
name: basic-example
type: amlcompute
size: STANDARD_DS3_v2
min_instances: 0
max_instances: 2
idle_time_before_scale_down: 120
"""


def load(text: str | None, overrides: Sequence[str] = (), **flags: object) -> ComputeSpec:
    return load_compute(text, source="compute.yml", overrides=overrides, **flags).spec  # type: ignore[arg-type]


def error(text: str | None, overrides: Sequence[str] = (), **flags: object) -> str:
    with pytest.raises(SpecError) as info:
        load_compute(text, source="compute.yml", overrides=overrides, **flags)  # type: ignore[arg-type]
    assert "\n" not in info.value.message
    return info.value.message


def test_sample_loads() -> None:
    loaded = load_compute(CLUSTER, source="compute.yml")
    spec = loaded.spec
    assert (spec.name, spec.type, spec.size) == ("basic-example", ComputeType.AMLCOMPUTE, "STANDARD_DS3_v2")
    assert (spec.min_instances, spec.max_instances, spec.idle_time_before_scale_down) == (0, 2, 120)
    assert loaded.ignored == ()


def test_flags_alone_with_azures_defaults() -> None:
    spec = load(None, name="batch-cluster", type="amlcompute", max_instances=5)
    assert spec.max_instances == 5
    assert (spec.size, spec.tier, spec.min_instances, spec.idle_time_before_scale_down) == (
        "Standard_DS3_v2",
        ComputeTier.DEDICATED,
        0,
        120,
    )
    assert load(None, name="batch-cluster", type="AmlCompute").max_instances == 1
    assert load(CLUSTER, max_instances=3, size="cpu4").max_instances == 3


def test_type_is_required() -> None:
    assert error("name: batch-cluster\n") == "compute.yml: $.type: required key is missing"


@pytest.mark.parametrize("kind", ["computeinstance", "kubernetes", "virtualmachine", "synapsespark"])
def test_other_compute_types_are_refused_by_name(kind: str) -> None:
    text = f"name: my-compute\ntype: {kind}\nschedules: {{}}\n"
    assert error(text) == (
        f"compute.yml: $.type: {kind!r} is not supported here; batch jobs run on compute clusters: use type: amlcompute"
    )


def test_unknown_type_is_refused() -> None:
    assert error(CLUSTER, overrides=["type=gpu"]) == (
        "compute.yml: $.type: 'gpu' is not a compute type modelyard knows; batch jobs run on compute clusters: "
        "use type: amlcompute (from --set type=gpu)"
    )


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("max_instances=0", "$.max_instances: 0 is out of range: must be >= 1"),
        ("min_instances=-1", "$.min_instances: -1 is out of range: must be >= 0"),
        ("idle_time_before_scale_down=-5", "$.idle_time_before_scale_down: -5 is out of range: must be >= 0"),
        ("tier=spot", "$.tier: 'spot' is not one of: dedicated, low_priority"),
        ("min_instances=3", "$.min_instances: 3 is more than max_instances 2"),
        ("max_instance=3", "$.max_instance: unknown key; did you mean max_instances?"),
    ],
)
def test_bad_values_say_what_is_allowed(override: str, message: str) -> None:
    assert error(CLUSTER, overrides=[override]) == f"compute.yml: {message} (from --set {override})"


def test_compute_names() -> None:
    assert error(CLUSTER, name="1cluster").startswith(
        "compute.yml: $.name: '1cluster' is not a valid compute name; names are 2-24 characters"
    )
    assert error(CLUSTER, name="a" * 25).startswith("compute.yml: $.name:")
    assert load(CLUSTER, name="gpu-cluster-01").name == "gpu-cluster-01"


def test_cloud_only_keys_are_listed_as_ignored() -> None:
    text = CLUSTER + (
        "tier: LowPriority\nlocation: westus\nssh_public_access_enabled: true\nssh_settings:\n  admin_username: azu\n"
        "network_settings:\n  vnet_name: v\n  subnet: s\nidentity:\n  type: system_assigned\n"
        "enable_node_public_ip: false\n"
    )
    loaded = load_compute(text, source="compute.yml", overrides=["min_instances=1"])
    assert loaded.spec.tier is ComputeTier.LOW_PRIORITY
    assert loaded.ignored == (  # tier is not ignored: a low_priority cluster's jobs run at low priority
        "location westus is ignored: the cluster is this machine",
        "ssh_settings are ignored: instances are local processes, not nodes to log in to",
        "network_settings are ignored: there is no network isolation on one machine",
        "identity is ignored: there are no managed identities on one machine",
        "enable_node_public_ip is ignored: there is no network isolation on one machine",
        "min_instances 1 is ignored: instances start with each job and stop when it ends",
    )


def test_compute_references() -> None:
    assert parse_compute_ref("azureml:batch-cluster") == "batch-cluster"
    assert parse_compute_ref("batch-cluster") == "batch-cluster"
    with pytest.raises(SpecError, match="is not a compute reference"):
        parse_compute_ref("azureml:")
