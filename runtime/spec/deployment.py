"""The online deployment YAML (azure-contract §3.2): one Struct for managed and Kubernetes deployments."""

from __future__ import annotations

import enum
from typing import Annotated, Any

import msgspec

from runtime.errors import SpecError
from runtime.spec._types import NonNegative, Port, Positive, PublicNetworkAccess, ScalarStr
from runtime.spec.model import InlineModel

#: Azure's longest request timeouts: managed deployments, and Kubernetes (or prompt flow) deployments.
MANAGED_MAX_TIMEOUT_MS = 180_000
KUBERNETES_MAX_TIMEOUT_MS = 300_000
#: Azure's limit on instances per managed deployment (how-to-manage-quotas).
MAX_INSTANCES = 50
#: The most scoring processes one instance may run (WORKER_COUNT): each loads the model, so a typo of 1000 would
#: exhaust the machine rather than serve faster. Azure sets no limit of its own.
MAX_WORKER_COUNT = 64


class DeploymentType(enum.StrEnum):
    """Where Azure would run the deployment; here both run as local worker processes."""

    MANAGED = "managed"
    KUBERNETES = "kubernetes"


class OsType(enum.StrEnum):
    """An environment's operating system (ignored here: environments are virtualenvs on this machine)."""

    LINUX = "linux"
    WINDOWS = "windows"


class RollingRate(enum.StrEnum):
    """How often Azure's data collector starts a new output file."""

    MINUTE = "minute"
    HOUR = "hour"
    DAY = "day"
    MONTH = "month"
    YEAR = "year"


class CodeConfiguration(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The scoring code: a folder, and the script inside it that defines init() and run()."""

    code: str
    # Azure's inference server imports `main` when no entry script is named.
    scoring_script: str | None = None


class BuildContext(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A Docker build context for an environment (ignored: there is no Docker)."""

    path: str | None = None
    dockerfile_path: str | None = None


class Route(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A port and path that a custom container serves."""

    port: Port
    path: str


class InferenceConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A custom container's liveness, readiness and scoring routes."""

    liveness_route: Route
    readiness_route: Route
    scoring_route: Route


class InlineEnvironment(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """An environment declared inside a deployment: its conda file is built; an image alone means the runtime's."""

    name: str | None = None
    version: ScalarStr | None = None
    description: str | None = None
    tags: dict[str, ScalarStr] = msgspec.field(default_factory=dict)
    image: str | None = None
    conda_file: str | dict[str, Any] | None = None
    build: BuildContext | None = None
    inference_config: InferenceConfig | None = None
    os_type: OsType | None = None


class DefaultScaleSettings(
    msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, tag_field="type", tag="default"
):
    """A fixed `instance_count`; no autoscaling."""


class TargetUtilizationScaleSettings(
    msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, tag_field="type", tag="target_utilization"
):
    """Autoscale between min and max instances to hold CPU utilization near the target (Kubernetes semantics)."""

    min_instances: Positive = 1
    max_instances: Positive = 1
    polling_interval: Positive = 1
    target_utilization_percentage: Annotated[int, msgspec.Meta(ge=1, le=100)] = 70


ScaleSettings = DefaultScaleSettings | TargetUtilizationScaleSettings


class RequestSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Per-request limits: timeout, concurrency per instance, and (deprecated) queue wait."""

    request_timeout_ms: Annotated[int, msgspec.Meta(ge=1, le=KUBERNETES_MAX_TIMEOUT_MS)] = 5000
    max_concurrent_requests_per_instance: Positive = 1
    max_queue_wait_ms: NonNegative = 500


class ProbeSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A liveness or readiness probe; all times in seconds."""

    initial_delay: NonNegative = 10
    period: Positive = 10
    timeout: Positive = 2
    success_threshold: Positive = 1
    failure_threshold: Positive = 30


class DataAsset(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Where a data collector collection would be written in Azure."""

    name: str | None = None
    path: str | None = None
    version: ScalarStr | None = None


class DeploymentCollection(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One named data collector collection (`request`, `response`, or a custom Collector name)."""

    enabled: bool
    data: DataAsset | str | None = None
    client_id: str | None = None


class RequestLogging(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Which request headers the data collector records."""

    capture_headers: tuple[str, ...] = ()


class DataCollector(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Azure Monitor data collection (accepted and ignored)."""

    collections: dict[str, DeploymentCollection] = msgspec.field(default_factory=dict)
    sampling_rate: Annotated[float, msgspec.Meta(ge=0.0, le=1.0)] = 1.0
    rolling_rate: RollingRate = RollingRate.HOUR
    request_logging: RequestLogging | None = None


class ResourceSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Kubernetes resource quantities, e.g. cpu "500m", memory "2Gi", nvidia.com/gpu "1"."""

    cpu: ScalarStr | None = None
    memory: ScalarStr | None = None
    gpu: ScalarStr | None = msgspec.field(default=None, name="nvidia.com/gpu")


class ResourceRequirements(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A Kubernetes deployment's resource requests and limits."""

    requests: ResourceSettings = msgspec.field(default_factory=ResourceSettings)
    limits: ResourceSettings = msgspec.field(default_factory=ResourceSettings)


class OnlineDeploymentSpec(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A deployment: a model plus scoring code running on `instance_count` instances behind an endpoint."""

    schema_: str | None = msgspec.field(default=None, name="$schema")
    name: str
    endpoint_name: str
    type: DeploymentType = DeploymentType.MANAGED
    description: str | None = None
    tags: dict[str, ScalarStr] = msgspec.field(default_factory=dict)
    properties: dict[str, ScalarStr] = msgspec.field(default_factory=dict)
    model: str | InlineModel | None = None
    model_mount_path: str | None = None
    code_configuration: CodeConfiguration | None = None
    environment: str | InlineEnvironment | None = None
    environment_variables: dict[str, ScalarStr] = msgspec.field(default_factory=dict)
    instance_type: str | None = None
    instance_count: Annotated[int, msgspec.Meta(ge=1, le=MAX_INSTANCES)] = 1
    app_insights_enabled: bool = False
    scale_settings: ScaleSettings = msgspec.field(default_factory=DefaultScaleSettings)
    request_settings: RequestSettings = msgspec.field(default_factory=RequestSettings)
    liveness_probe: ProbeSettings = msgspec.field(default_factory=ProbeSettings)
    readiness_probe: ProbeSettings = msgspec.field(default_factory=ProbeSettings)
    egress_public_network_access: PublicNetworkAccess | None = None
    data_collector: DataCollector | None = None
    private_network_connection: bool = False
    # Kubernetes only.
    compute: str | None = None
    resources: ResourceRequirements | None = None
    # Read-only keys set by the service.
    id: str | None = None
    provisioning_state: str | None = None


def worker_count(spec: OnlineDeploymentSpec) -> int:
    """The scoring processes per instance that WORKER_COUNT asks for (1 without it); SpecError outside 1-64."""
    count = spec.environment_variables.get("WORKER_COUNT", "1")
    if not (count.isascii() and count.isdigit() and 1 <= int(count) <= MAX_WORKER_COUNT):
        raise SpecError(
            f"$.environment_variables.WORKER_COUNT: {count!r} is not a number of worker processes per instance "
            f"from 1 to {MAX_WORKER_COUNT}"
        )
    return int(count)


class EnvironmentSpec(InlineEnvironment, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A registered environment (`environment create -f environment.yml`): the inline keys, named."""

    schema_: str | None = msgspec.field(default=None, name="$schema")
    name: str
    # Set by the service; accepted so that `environment show` output can be fed back.
    id: str | None = None
