"""What the management API returns: Azure's field names, as `az ml ... show -o json` prints them."""

from __future__ import annotations

from typing import Any

import msgspec

from runtime.control.batch_registry import BatchDeploymentRecord, BatchEndpointRecord, ComputeRecord, DataRecord
from runtime.control.registry import DeploymentRecord, EndpointRecord, ModelRecord
from runtime.control.supervisor import WorkerInfo


class SpecRequest(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A YAML document sent by a client, with the az-ml style overrides; unknown fields are refused, not ignored."""

    yaml: str | None = None  #: the file's text; None means "the stored spec" (update with --set only)
    source: str = "<api>"  #: the file's path: names it in errors; relative paths resolve against its folder
    set: list[str] = []  #: --set a.b=c overrides
    name: str | None = None  #: -n
    endpoint_name: str | None = None  #: -e (deployments)
    version: str | None = None  #: --version (models)
    #: False (--no-wait): answer at once, with the deployment still Creating or Updating; show follows it
    wait: bool = True


class ModelRequest(SpecRequest, frozen=True, kw_only=True):
    """Register a model from YAML, or from the flags alone (`model create --name --path --type`)."""

    path: str | None = None  #: --path: absolute, or relative to the YAML file
    type: str | None = None  #: --type: custom_model, mlflow_model or triton_model


class DeploymentRequest(SpecRequest, frozen=True, kw_only=True):
    """Create a deployment (an update is a plain SpecRequest: traffic and placement are not its business)."""

    all_traffic: bool = False  #: --all-traffic: send 100 % to it once it is up
    placement: str = "share"  #: share or strict


class EndpointUpdate(SpecRequest, frozen=True, kw_only=True):
    """Update an endpoint from YAML, or just its traffic / mirror traffic."""

    #: "blue=90 green=10" or {"blue": 90, "green": 10}: replaces the whole map (deployments left out take 0 %)
    traffic: str | dict[str, int] | None = None
    mirror_traffic: str | dict[str, int] | None = None  #: "green=10" or {"green": 10}


class BatchDeploymentRequest(SpecRequest, frozen=True, kw_only=True):
    """Create or update a batch deployment."""

    set_default: bool = False  #: --set-default: make it the endpoint's default deployment


class DataRequest(SpecRequest, frozen=True, kw_only=True):
    """Register a data asset from YAML, or from the flags alone (`data create -n --path --type`)."""

    path: str | None = None  #: --path: absolute, or relative to the YAML file
    type: str | None = None  #: --type: uri_folder or uri_file
    description: str | None = None


class ComputeRequest(SpecRequest, frozen=True, kw_only=True):
    """Create a compute cluster from YAML, or from the flags alone (`compute create --name --type amlcompute`)."""

    type: str | None = None
    size: str | None = None
    min_instances: int | None = None
    max_instances: int | None = None


class RegenerateKeys(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Body of regenerate-keys, as Azure's REST API names it."""

    keyType: str = "Primary"  # noqa: N815 - Azure's REST field name
    keyValue: str | None = None  # noqa: N815


def endpoint_view(rec: EndpointRecord, base_url: str, *, oip: bool = False) -> dict[str, Any]:
    """An endpoint as `online-endpoint show` prints it.

    `oip`: its deployments are Triton no-code ones, so the scoring URI is the base URL that tritonclient takes
    (Azure's Triton samples pass it on as it is shown, without the scheme); they have no /score.
    """
    spec = _spec_dict(rec.spec)
    spec.update(
        name=rec.name,
        traffic=rec.traffic,
        mirror_traffic=rec.mirror,
        provisioning_state="Succeeded",
        scoring_uri=f"{base_url}/endpoints/{rec.name}" + ("" if oip else "/score"),
        openapi_uri=f"{base_url}/endpoints/{rec.name}/swagger.json",
        location="local",
    )
    return spec


def deployment_view(
    rec: DeploymentRecord, workers: list[WorkerInfo], *, ignored: tuple[str, ...] = ()
) -> dict[str, Any]:
    """A deployment as `online-deployment show` prints it, with its live workers and placement."""
    spec = _spec_dict(rec.spec)
    spec.update(
        name=rec.name,
        endpoint_name=rec.endpoint,
        provisioning_state=rec.state,
        placement={"policy": rec.placement, "notes": list(rec.notes)},
        workers=msgspec.to_builtins(workers),
    )
    if rec.error:
        spec["error"] = rec.error
    if ignored:
        spec["ignored"] = list(ignored)
    return spec


def _spec_dict(spec: msgspec.Struct) -> dict[str, Any]:
    out: dict[str, Any] = msgspec.to_builtins(spec)
    out.pop("$schema", None)  # the schema URL describes the file, not the resource
    return out


def model_view(rec: ModelRecord) -> dict[str, Any]:
    """A registered model as `model list` prints it."""
    return {
        "name": rec.name,
        "version": rec.version,
        "type": rec.type.value,
        "path": rec.path,
        "description": rec.description,
        "stage": "Archived" if rec.archived else "Development",
        "id": f"azureml:{rec.name}:{rec.version}",
    }


def batch_endpoint_view(rec: BatchEndpointRecord, base_url: str) -> dict[str, Any]:
    """A batch endpoint as `batch-endpoint show` prints it."""
    spec = _spec_dict(rec.spec)
    spec.update(
        name=rec.name,
        provisioning_state="Succeeded",
        scoring_uri=f"{base_url}/batch-endpoints/{rec.name}/jobs",
        location="local",
    )
    spec.pop("openapi_uri", None)  # batch endpoints have no swagger
    spec.pop("id", None)
    spec.pop("kind", None)
    if rec.ignored:
        spec["ignored"] = list(rec.ignored)
    return spec


def batch_deployment_view(rec: BatchDeploymentRecord) -> dict[str, Any]:
    """A batch deployment as `batch-deployment show` prints it: its spec, a valid `type: model` file."""
    spec = _spec_dict(rec.spec)
    spec.update(
        name=rec.name,
        endpoint_name=rec.endpoint,
        compute=f"azureml:{rec.spec.compute}",
        provisioning_state="Succeeded",
    )
    if rec.ignored:
        spec["ignored"] = list(rec.ignored)
    return spec


def data_view(rec: DataRecord) -> dict[str, Any]:
    """A data asset version as `data show` prints it."""
    spec = _spec_dict(rec.spec)
    spec.update(name=rec.name, version=rec.version, id=f"azureml:{rec.name}:{rec.version}")
    spec.pop("datastore", None)
    if rec.ignored:
        spec["ignored"] = list(rec.ignored)
    return spec


def compute_view(rec: ComputeRecord) -> dict[str, Any]:
    """A compute cluster as `compute show` prints it."""
    spec = _spec_dict(rec.spec)
    spec.update(name=rec.name, provisioning_state="Succeeded", id=f"azureml:{rec.name}")
    spec.pop("resource_id", None)
    if rec.ignored:
        spec["ignored"] = list(rec.ignored)
    return spec
