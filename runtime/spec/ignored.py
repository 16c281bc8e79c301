"""Keys that are valid in Azure but mean nothing on one machine: one human line each, so users know they were read."""

from __future__ import annotations

from runtime.spec._types import PublicNetworkAccess
from runtime.spec.batch_deployment import BatchDeploymentFile, BatchDeploymentSpec
from runtime.spec.batch_endpoint import BatchEndpointSpec
from runtime.spec.batch_settings import OutputAction
from runtime.spec.compute import ComputeSpec
from runtime.spec.data import DataSpec
from runtime.spec.deployment import EnvironmentSpec, InlineEnvironment, OnlineDeploymentSpec
from runtime.spec.endpoint import OnlineEndpointSpec
from runtime.spec.model import ModelSpec

_NO_DOCKER = "there is no Docker; environments are virtualenvs built from the conda file"
_NO_CLUSTER = "there is no Kubernetes cluster; deployments run as processes on this machine"
_NO_NETWORK_ISOLATION = "there is no network isolation on one machine"


def _read_only(key: str) -> str:
    return f"{key} is ignored: it is read-only, set by the service"


def endpoint_ignored(spec: OnlineEndpointSpec) -> tuple[str, ...]:
    """What an endpoint file asks for that modelyard does not do."""
    lines: list[str] = []
    if spec.identity is not None:
        lines.append("identity is ignored: there are no managed identities on one machine")
    if spec.public_network_access is PublicNetworkAccess.DISABLED:
        lines.append("public_network_access is ignored: modelyard listens on the address `serve` is given")
    if spec.compute is not None:
        lines.append(f"compute {spec.compute} is ignored: {_NO_CLUSTER}")
    for key in ("id", "provisioning_state", "scoring_uri", "openapi_uri", "location", "kind"):
        if getattr(spec, key) is not None:
            lines.append(_read_only(key))
    return tuple(lines)


def deployment_ignored(spec: OnlineDeploymentSpec) -> tuple[str, ...]:
    """What a deployment file asks for that modelyard does not do."""
    lines: list[str] = []
    if spec.environment is not None and not isinstance(spec.environment, str):
        lines.extend(_environment_ignored(spec.environment))
    if spec.model_mount_path is not None:
        lines.append(
            "model_mount_path is ignored: the model is copied into the state directory and found at AZUREML_MODEL_DIR"
        )
    if spec.app_insights_enabled:
        lines.append(
            "app_insights_enabled is ignored: nothing is sent to Application Insights; "
            "worker logs are in the state directory"
        )
    if spec.egress_public_network_access is PublicNetworkAccess.DISABLED:
        lines.append(f"egress_public_network_access is ignored: {_NO_NETWORK_ISOLATION}")
    if spec.private_network_connection:
        lines.append(f"private_network_connection is ignored: {_NO_NETWORK_ISOLATION}")
    if spec.data_collector is not None:
        lines.append(
            "data_collector is ignored: nothing is sent to Azure Monitor; worker logs are in the state directory"
        )
    if spec.compute is not None:
        lines.append(f"compute {spec.compute} is ignored: {_NO_CLUSTER}")
    if spec.resources is not None:
        if spec.instance_type is not None:
            lines.append(f"resources is ignored: instance_type {spec.instance_type} sets the cores and GPUs")
        elif spec.resources.limits.cpu or spec.resources.limits.memory or spec.resources.limits.gpu:
            lines.append("resources.limits is ignored: instances are sized from resources.requests")
    for key in ("id", "provisioning_state"):
        if getattr(spec, key) is not None:
            lines.append(_read_only(key))
    return tuple(lines)


def model_ignored(spec: ModelSpec) -> tuple[str, ...]:
    """What a model file asks for that modelyard does not do."""
    lines: list[str] = []
    if spec.datastore is not None:
        lines.append("datastore is ignored: models are read from their path on this machine")
    for key in ("id", "job_name", "utc_time_created"):
        if getattr(spec, key) is not None:
            lines.append(_read_only(key))
    return tuple(lines)


def _environment_ignored(env: InlineEnvironment) -> list[str]:
    lines: list[str] = []
    if env.image is not None:
        if env.conda_file is not None:
            lines.append(f"environment.image is not run: {_NO_DOCKER}")
        else:
            lines.append(
                "environment.image is not run: there is no Docker, and without a conda_file workers run "
                "modelyard's own Python environment"
            )
    if env.build is not None:
        lines.append(f"environment.build is ignored: {_NO_DOCKER}")
    if env.inference_config is not None:
        lines.append("environment.inference_config is ignored: modelyard serves its own scoring and health routes")
    if env.os_type is not None:
        lines.append("environment.os_type is ignored: environments are virtualenvs on this machine")
    return lines


def environment_ignored(spec: EnvironmentSpec) -> tuple[str, ...]:
    """What an environment file asks for that modelyard does not do."""
    return tuple(_environment_ignored(spec))


def batch_endpoint_ignored(spec: BatchEndpointSpec) -> tuple[str, ...]:
    """What a batch endpoint file asks for that modelyard does not do."""
    keys = ("id", "provisioning_state", "scoring_uri", "openapi_uri", "location", "kind")
    return tuple(_read_only(key) for key in keys if getattr(spec, key) is not None)


def batch_deployment_ignored(file: BatchDeploymentFile, spec: BatchDeploymentSpec) -> tuple[str, ...]:
    """What a batch deployment file asks for that modelyard does not do."""
    lines: list[str] = []
    if spec.environment is not None and not isinstance(spec.environment, str):
        lines.extend(_environment_ignored(spec.environment))
    if file.resources is not None:
        for key in ("instance_type", "shm_size", "docker_args"):
            if getattr(file.resources, key) is not None:
                lines.append(f"resources.{key} is ignored: instances are sized by the compute cluster's size")
        if file.resources.properties:
            lines.append("resources.properties is ignored: instances are sized by the compute cluster's size")
    settings = spec.settings
    if settings.output_action is OutputAction.SUMMARY_ONLY and _output_file_named(file):
        lines.append(
            f"output_file_name {settings.output_file_name} is ignored: output_action summary_only writes no "
            "predictions file"
        )
    for key in ("id", "provisioning_state"):
        if getattr(file, key) is not None:
            lines.append(_read_only(key))
    return tuple(lines)


def data_ignored(spec: DataSpec) -> tuple[str, ...]:
    """What a data asset file asks for that modelyard does not do."""
    lines: list[str] = []
    if spec.datastore is not None:
        lines.append("datastore is ignored: data is read from its path on this machine")
    if spec.id is not None:
        lines.append(_read_only("id"))
    return tuple(lines)


def compute_ignored(spec: ComputeSpec) -> tuple[str, ...]:
    """What a compute file asks for that modelyard does not do."""
    lines: list[str] = []
    if spec.location is not None:
        lines.append(f"location {spec.location} is ignored: the cluster is this machine")
    if spec.ssh_public_access_enabled or spec.ssh_settings is not None:
        lines.append("ssh_settings are ignored: instances are local processes, not nodes to log in to")
    if spec.network_settings is not None:
        lines.append(f"network_settings are ignored: {_NO_NETWORK_ISOLATION}")
    if spec.identity is not None:
        lines.append("identity is ignored: there are no managed identities on one machine")
    if not spec.enable_node_public_ip:
        lines.append(f"enable_node_public_ip is ignored: {_NO_NETWORK_ISOLATION}")
    if spec.min_instances > 0:
        lines.append(
            f"min_instances {spec.min_instances} is ignored: instances start with each job and stop when it ends"
        )
    for key in ("id", "provisioning_state", "resource_id"):
        if getattr(spec, key) is not None:
            lines.append(_read_only(key))
    return tuple(lines)


def _output_file_named(file: BatchDeploymentFile) -> bool:
    return file.output_file_name is not None or (
        file.settings is not None and file.settings.output_file_name is not None
    )
