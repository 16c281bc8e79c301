"""Azure ML online endpoint, deployment and model YAML, decoded once at the edge into frozen msgspec Structs."""

from __future__ import annotations

from runtime.spec._decode import (
    parse_yaml,
)
from runtime.spec._types import (
    PublicNetworkAccess,
)
from runtime.spec.deployment import (
    KUBERNETES_MAX_TIMEOUT_MS,
    MANAGED_MAX_TIMEOUT_MS,
    MAX_INSTANCES,
    MAX_WORKER_COUNT,
    BuildContext,
    CodeConfiguration,
    DataAsset,
    DataCollector,
    DefaultScaleSettings,
    DeploymentCollection,
    DeploymentType,
    InferenceConfig,
    InlineEnvironment,
    OnlineDeploymentSpec,
    OsType,
    ProbeSettings,
    RequestLogging,
    RequestSettings,
    ResourceRequirements,
    ResourceSettings,
    RollingRate,
    Route,
    ScaleSettings,
    TargetUtilizationScaleSettings,
    worker_count,
)
from runtime.spec.endpoint import (
    AuthMode,
    IdentitySpec,
    IdentityType,
    OnlineEndpointSpec,
    UserAssignedIdentity,
)
from runtime.spec.load import (
    Loaded,
    load_deployment,
    load_endpoint,
    load_model,
)
from runtime.spec.model import (
    InlineModel,
    ModelRef,
    ModelSpec,
    ModelType,
    parse_model_ref,
)
from runtime.spec.names import (
    NAME_RULE,
    is_valid_name,
    validate_name,
)
from runtime.spec.overrides import (
    apply_overrides,
)
from runtime.spec.sku import (
    BUILTIN_INSTANCE_TYPES,
    DEFAULT_INSTANCE_TYPE,
    InstanceShape,
    load_instance_types,
    parse_quantity,
    resolve_instance_type,
    shape_from_resources,
)
from runtime.spec.traffic import (
    MAX_MIRROR_PERCENT,
    parse_traffic_arg,
    validate_mirror,
    validate_traffic,
)

__all__ = [
    "AuthMode",
    "BUILTIN_INSTANCE_TYPES",
    "BuildContext",
    "CodeConfiguration",
    "DEFAULT_INSTANCE_TYPE",
    "DataAsset",
    "DataCollector",
    "DefaultScaleSettings",
    "DeploymentCollection",
    "DeploymentType",
    "IdentitySpec",
    "IdentityType",
    "InferenceConfig",
    "InlineEnvironment",
    "InlineModel",
    "InstanceShape",
    "KUBERNETES_MAX_TIMEOUT_MS",
    "Loaded",
    "MANAGED_MAX_TIMEOUT_MS",
    "MAX_INSTANCES",
    "MAX_MIRROR_PERCENT",
    "MAX_WORKER_COUNT",
    "ModelRef",
    "ModelSpec",
    "ModelType",
    "NAME_RULE",
    "OnlineDeploymentSpec",
    "OnlineEndpointSpec",
    "OsType",
    "ProbeSettings",
    "PublicNetworkAccess",
    "RequestLogging",
    "RequestSettings",
    "ResourceRequirements",
    "ResourceSettings",
    "RollingRate",
    "Route",
    "ScaleSettings",
    "TargetUtilizationScaleSettings",
    "UserAssignedIdentity",
    "apply_overrides",
    "is_valid_name",
    "load_deployment",
    "load_endpoint",
    "load_instance_types",
    "load_model",
    "parse_model_ref",
    "parse_quantity",
    "parse_traffic_arg",
    "parse_yaml",
    "resolve_instance_type",
    "shape_from_resources",
    "validate_mirror",
    "validate_name",
    "validate_traffic",
    "worker_count",
]
