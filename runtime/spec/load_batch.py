"""Load batch endpoint, batch deployment, data asset and compute YAML, with the online loaders' --set and flags."""

from __future__ import annotations

from collections.abc import Sequence

from runtime.errors import SpecError
from runtime.spec._decode import camel_to_snake, decode
from runtime.spec.batch_deployment import PIPELINE_REFUSED, BatchDeploymentFile, BatchDeploymentSpec, to_spec
from runtime.spec.batch_endpoint import BatchEndpointSpec, check_batch_endpoint
from runtime.spec.compute import ComputeSpec, check_compute, check_compute_type
from runtime.spec.data import DataSpec, check_data
from runtime.spec.ignored import batch_deployment_ignored, batch_endpoint_ignored, compute_ignored, data_ignored
from runtime.spec.load import Loaded, _loaded, _located, _raw


def load_batch_endpoint(
    text: str, *, source: str, overrides: Sequence[str] = (), name: str | None = None
) -> Loaded[BatchEndpointSpec]:
    """Decode a batch endpoint YAML; `name` is the -n flag and wins over the file and --set."""
    raw = _raw(text, source, overrides, {"name": name})
    spec: BatchEndpointSpec = decode(raw, BatchEndpointSpec, label=source, overrides=overrides)
    with _located(source, overrides):
        check_batch_endpoint(spec)
    return _loaded(spec, source, batch_endpoint_ignored(spec))


def load_batch_deployment(
    text: str,
    *,
    source: str,
    overrides: Sequence[str] = (),
    name: str | None = None,
    endpoint_name: str | None = None,
) -> Loaded[BatchDeploymentSpec]:
    """Decode a batch deployment YAML of either shape; `name` and `endpoint_name` are the -n / -e flags."""
    raw = _raw(text, source, overrides, {"name": name, "endpoint_name": endpoint_name})
    kind = raw.get("type")
    with _located(source, overrides):
        # A pipeline deployment's own keys (component, job_definition) would otherwise be reported as unknown.
        if isinstance(kind, str) and camel_to_snake(kind.strip()) == "pipeline":
            raise SpecError(f"$.type: {PIPELINE_REFUSED}")
    file: BatchDeploymentFile = decode(raw, BatchDeploymentFile, label=source, overrides=overrides)
    with _located(source, overrides):
        spec = to_spec(file)
    return _loaded(spec, source, batch_deployment_ignored(file, spec))


def load_data(
    text: str | None,
    *,
    source: str,
    overrides: Sequence[str] = (),
    name: str | None = None,
    version: str | None = None,
    path: str | None = None,
    type: str | None = None,
    description: str | None = None,
) -> Loaded[DataSpec]:
    """Decode `data create -f data.yml`, or only its flags (`text` None); flags win over the file and --set."""
    flags = {"name": name, "version": version, "path": path, "type": type, "description": description}
    raw = _raw(text, source, overrides, flags)
    spec: DataSpec = decode(raw, DataSpec, label=source, overrides=overrides)
    with _located(source, overrides):
        check_data(spec)
    return _loaded(spec, source, data_ignored(spec))


def load_compute(
    text: str | None,
    *,
    source: str,
    overrides: Sequence[str] = (),
    name: str | None = None,
    type: str | None = None,
    size: str | None = None,
    tier: str | None = None,
    min_instances: int | None = None,
    max_instances: int | None = None,
    idle_time_before_scale_down: int | None = None,
) -> Loaded[ComputeSpec]:
    """Decode `compute create -f compute.yml`, or only its flags (`text` None); flags win over the file and --set."""
    flags = {
        "name": name,
        "type": type,
        "size": size,
        "tier": tier,
        "min_instances": min_instances,
        "max_instances": max_instances,
        "idle_time_before_scale_down": idle_time_before_scale_down,
    }
    raw = _raw(text, source, overrides, flags)
    with _located(source, overrides):
        check_compute_type(raw.get("type"))
    spec: ComputeSpec = decode(raw, ComputeSpec, label=source, overrides=overrides)
    with _located(source, overrides):
        check_compute(spec)
    return _loaded(spec, source, compute_ignored(spec))
