"""Load endpoint, deployment and model YAML: parse, apply --set and name flags, decode, check Azure's rules."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, Generic, TypeVar

import msgspec

from runtime.errors import SpecError
from runtime.spec._decode import decode, located, parse_yaml
from runtime.spec.deployment import (
    MANAGED_MAX_TIMEOUT_MS,
    DeploymentType,
    EnvironmentSpec,
    OnlineDeploymentSpec,
    TargetUtilizationScaleSettings,
    worker_count,
)
from runtime.spec.endpoint import OnlineEndpointSpec
from runtime.spec.ignored import deployment_ignored, endpoint_ignored, model_ignored
from runtime.spec.model import ASSET_RULE, ModelSpec, is_asset_name, parse_model_ref
from runtime.spec.names import validate_name
from runtime.spec.overrides import apply_overrides, blame
from runtime.spec.sku import shape_from_resources
from runtime.spec.tolerance import tolerances_of
from runtime.spec.traffic import validate_mirror, validate_traffic

SpecT = TypeVar("SpecT")


class Loaded(msgspec.Struct, Generic[SpecT], frozen=True, kw_only=True):
    """A decoded spec with where it came from and the keys it carried that mean nothing on one machine."""

    spec: SpecT
    source: str  #: absolute path of the YAML file, or "<api>" when the text did not come from a file
    base_dir: str  #: the YAML file's folder: relative paths in the spec resolve against it ("" without a file)
    ignored: tuple[str, ...] = ()  #: one human line per ignored key


def load_endpoint(
    text: str, *, source: str, overrides: Sequence[str] = (), name: str | None = None
) -> Loaded[OnlineEndpointSpec]:
    """Decode an online endpoint YAML; `name` is the -n flag and wins over the file and --set."""
    raw = _raw(text, source, overrides, {"name": name})
    spec: OnlineEndpointSpec = decode(raw, OnlineEndpointSpec, label=source, overrides=overrides)
    with _located(source, overrides):
        validate_name(spec.name)
        validate_traffic(spec.traffic, None)
        validate_mirror(spec.mirror_traffic, spec.traffic, None)
        tolerances_of(spec.tags)
    return _loaded(spec, source, endpoint_ignored(spec))


def load_deployment(
    text: str,
    *,
    source: str,
    overrides: Sequence[str] = (),
    name: str | None = None,
    endpoint_name: str | None = None,
) -> Loaded[OnlineDeploymentSpec]:
    """Decode an online deployment YAML; `name` and `endpoint_name` are the -n / -e flags."""
    raw = _raw(text, source, overrides, {"name": name, "endpoint_name": endpoint_name})
    spec: OnlineDeploymentSpec = decode(raw, OnlineDeploymentSpec, label=source, overrides=overrides)
    with _located(source, overrides):
        _check_deployment(spec)
    return _loaded(spec, source, deployment_ignored(spec))


def load_model(
    text: str,
    *,
    source: str,
    overrides: Sequence[str] = (),
    name: str | None = None,
    version: str | None = None,
    path: str | None = None,
    type: str | None = None,
) -> Loaded[ModelSpec]:
    """Decode a `model create -f model.yml` file; the flags (--name, --version, --path, --type) win over it."""
    raw = _raw(text, source, overrides, {"name": name, "version": version, "path": path, "type": type})
    spec: ModelSpec = decode(raw, ModelSpec, label=source, overrides=overrides)
    for key, value in (("name", spec.name), ("version", spec.version)):
        if value is not None and not is_asset_name(value):
            raise SpecError(located(source, f"$.{key}: {value!r} is not a valid model {key}; use {ASSET_RULE}"))
    return _loaded(spec, source, model_ignored(spec))


def load_environment(
    text: str, *, source: str, overrides: Sequence[str] = (), name: str | None = None, version: str | None = None
) -> Loaded[EnvironmentSpec]:
    """Decode an `environment create -f environment.yml` file; --name and --version win over it."""
    raw = _raw(text, source, overrides, {"name": name, "version": version})
    spec: EnvironmentSpec = decode(raw, EnvironmentSpec, label=source, overrides=overrides)
    for key, value in (("name", spec.name), ("version", spec.version)):
        if value is not None and not is_asset_name(value):
            raise SpecError(located(source, f"$.{key}: {value!r} is not a valid environment {key}; use {ASSET_RULE}"))
    if spec.conda_file is None and spec.image is None:
        raise SpecError(located(source, "$.conda_file: required (or image): an environment lists what it installs"))
    return _loaded(spec, source, ())


def _raw(text: str | None, source: str, overrides: Sequence[str], flags: Mapping[str, object]) -> dict[str, Any]:
    """The file's mapping (empty without a file) with --set applied, then the flags that were given."""
    raw = parse_yaml(text, label=source) if text is not None else {}
    with _located(source):
        raw = apply_overrides(raw, overrides)
    raw.update({key: value for key, value in flags.items() if value is not None})
    return raw


def _check_deployment(spec: OnlineDeploymentSpec) -> None:
    validate_name(spec.name)
    validate_name(spec.endpoint_name, where="$.endpoint_name")
    managed = spec.type is DeploymentType.MANAGED
    if managed and spec.instance_type is None:
        raise SpecError("$.instance_type: required for managed deployments, e.g. Standard_DS3_v2 or cpu2")
    if managed and spec.request_settings.request_timeout_ms > MANAGED_MAX_TIMEOUT_MS:
        raise SpecError(
            f"$.request_settings.request_timeout_ms: {spec.request_settings.request_timeout_ms} is over the "
            f"{MANAGED_MAX_TIMEOUT_MS} ms limit for managed deployments (Kubernetes deployments allow 300000)"
        )
    for key in ("compute", "resources"):
        if managed and getattr(spec, key) is not None:
            raise SpecError(f"$.{key}: only kubernetes deployments take {key}; add `type: kubernetes` or remove it")
    worker_count(spec)
    if spec.liveness_probe.success_threshold != 1:
        raise SpecError("$.liveness_probe.success_threshold: must be 1 (Azure fixes it for liveness probes)")
    scale = spec.scale_settings
    if isinstance(scale, TargetUtilizationScaleSettings) and scale.min_instances > scale.max_instances:
        raise SpecError(
            f"$.scale_settings: min_instances {scale.min_instances} is more than max_instances {scale.max_instances}"
        )
    if isinstance(spec.model, str):
        try:
            parse_model_ref(spec.model)
        except SpecError as exc:
            raise SpecError(f"$.model: {exc.message}") from None
    if spec.resources is not None:
        shape_from_resources(spec.resources)  # rejects quantities like "2 cores" now rather than at deploy time


def _loaded(spec: SpecT, source: str, ignored: tuple[str, ...]) -> Loaded[SpecT]:
    if source.startswith("<") and source.endswith(">"):
        return Loaded(spec=spec, source=source, base_dir="", ignored=tuple(dict.fromkeys(ignored)))
    path = os.path.abspath(source)
    return Loaded(spec=spec, source=path, base_dir=os.path.dirname(path), ignored=tuple(dict.fromkeys(ignored)))


@contextmanager
def _located(source: str, overrides: Sequence[str] = ()) -> Iterator[None]:
    """Prefix rule errors with the file they came from, and name the --set override behind one, if any."""
    try:
        yield
    except SpecError as exc:
        raise SpecError(located(source, blame(exc.message, overrides))) from None
