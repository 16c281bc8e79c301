"""Compute clusters (`compute create -f compute.yml`, azure-ai-ml's AmlComputeSchema) and `azureml:<cluster>` refs.

A cluster here is a name and a size recorded for batch deployments; its max_instances caps how many instances
(node processes) one job may use.
"""

from __future__ import annotations

import enum
import re

import msgspec

from runtime.errors import SpecError
from runtime.spec._types import NonNegative, Positive, ScalarStr
from runtime.spec.endpoint import IdentitySpec

#: The compute types Azure knows besides clusters; they are refused by name rather than as an unknown value.
OTHER_COMPUTE_TYPES = (
    "computeinstance",
    "kubernetes",
    "virtualmachine",
    "synapsespark",
    "serverless",
    "aks",
    "databricks",
    "hdinsight",
)

COMPUTE_NAME_RULE = "2-24 characters: letters, digits and '-', starting with a letter"
_NAME_RE = re.compile(r"[a-zA-Z][-a-zA-Z0-9]{1,23}")
_ARM_RE = re.compile(
    r"/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\.MachineLearningServices/workspaces/[^/]+"
    r"/computes/(?P<name>[^/]+)",
    re.IGNORECASE,
)


class ComputeType(enum.StrEnum):
    """The one compute type that runs here: an Azure ML compute cluster."""

    AMLCOMPUTE = "amlcompute"


class ComputeTier(enum.StrEnum):
    """A cluster's VM priority: a low_priority cluster's jobs run at low priority (runtime.batch.priority)."""

    DEDICATED = "dedicated"
    LOW_PRIORITY = "low_priority"


class SshSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """SSH access to a cluster's nodes (ignored)."""

    admin_username: str | None = None
    admin_password: str | None = None
    ssh_key_value: str | None = None


class NetworkSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The virtual network a cluster joins (ignored)."""

    vnet_name: str | None = None
    subnet: str | None = None


class ComputeSpec(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A compute cluster, with the defaults of Azure's AmlCompute YAML reference."""

    schema_: str | None = msgspec.field(default=None, name="$schema")
    name: str
    type: ComputeType
    description: str | None = None
    location: str | None = None
    tags: dict[str, ScalarStr] = msgspec.field(default_factory=dict)
    size: str = "Standard_DS3_v2"
    tier: ComputeTier = ComputeTier.DEDICATED
    min_instances: NonNegative = 0
    max_instances: Positive = 1
    idle_time_before_scale_down: NonNegative = 120  #: seconds
    ssh_public_access_enabled: bool = False
    ssh_settings: SshSettings | None = None
    network_settings: NetworkSettings | None = None
    identity: IdentitySpec | None = None
    enable_node_public_ip: bool = True
    # Read-only keys set by the service.
    id: str | None = None
    provisioning_state: str | None = None
    resource_id: str | None = None


def check_compute_type(raw_type: object) -> None:
    """Refuse another compute type by name before its own keys are read as unknown ones."""
    if isinstance(raw_type, str) and raw_type.strip().lower() != ComputeType.AMLCOMPUTE:
        known = raw_type.strip().lower() in OTHER_COMPUTE_TYPES
        what = "is not supported here" if known else "is not a compute type modelyard knows"
        raise SpecError(f"$.type: {raw_type!r} {what}; batch jobs run on compute clusters: use type: amlcompute")


def check_compute(spec: ComputeSpec) -> None:
    """Azure's rules beyond the schema: the name rule and min_instances <= max_instances."""
    validate_compute_name(spec.name)
    if spec.min_instances > spec.max_instances:
        raise SpecError(f"$.min_instances: {spec.min_instances} is more than max_instances {spec.max_instances}")


def validate_compute_name(name: str, *, where: str = "$.name") -> None:
    """Raise SpecError unless `name` is a valid compute name; the message states the rule."""
    if _NAME_RE.fullmatch(name) is None:
        raise SpecError(f"{where}: {name!r} is not a valid compute name; names are {COMPUTE_NAME_RULE}")


def parse_compute_ref(ref: str) -> str:
    """The cluster name in `azureml:<name>`, a bare `<name>`, or a workspace ARM id `.../computes/<name>`."""
    text = ref.strip()
    bare = text.removeprefix("azureml:")
    if match := _ARM_RE.fullmatch(bare):
        bare = match["name"]
    if _NAME_RE.fullmatch(bare) is None:
        raise SpecError(
            f"{ref!r} is not a compute reference; use azureml:<cluster> (or the bare cluster name), "
            f"where names are {COMPUTE_NAME_RULE}"
        )
    return bare
