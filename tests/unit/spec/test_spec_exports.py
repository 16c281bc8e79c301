"""The public surface of runtime.spec is a deliberate, sorted list."""

from __future__ import annotations

import runtime.spec


def test_all_is_sorted_and_importable() -> None:
    assert runtime.spec.__all__ == sorted(runtime.spec.__all__)
    for name in runtime.spec.__all__:
        assert hasattr(runtime.spec, name), name


def test_promised_names_are_public() -> None:
    promised = {
        "AuthMode",
        "DeploymentType",
        "InlineModel",
        "InstanceShape",
        "Loaded",
        "ModelRef",
        "ModelSpec",
        "ModelType",
        "OnlineDeploymentSpec",
        "OnlineEndpointSpec",
        "ProbeSettings",
        "RequestSettings",
        "load_deployment",
        "load_endpoint",
        "load_instance_types",
        "load_model",
        "parse_model_ref",
        "parse_traffic_arg",
        "resolve_instance_type",
        "shape_from_resources",
        "validate_mirror",
        "validate_traffic",
    }
    assert promised <= set(runtime.spec.__all__)
