"""The batch endpoint YAML (azure-contract §5.1): name, auth mode and the default deployment for headerless jobs."""

from __future__ import annotations

import msgspec

from runtime.errors import SpecError
from runtime.spec._types import ScalarStr
from runtime.spec.endpoint import AuthMode
from runtime.spec.names import validate_name


class BatchEndpointDefaults(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The `defaults:` block: which deployment runs a job that names none."""

    deployment_name: str | None = None


class BatchEndpointSpec(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A batch endpoint: a stable /jobs URL whose jobs run on its default deployment unless a header names another."""

    schema_: str | None = msgspec.field(default=None, name="$schema")
    name: str
    description: str | None = None
    tags: dict[str, ScalarStr] = msgspec.field(default_factory=dict)
    properties: dict[str, ScalarStr] = msgspec.field(default_factory=dict)
    auth_mode: AuthMode = AuthMode.AAD_TOKEN
    defaults: BatchEndpointDefaults = msgspec.field(default_factory=BatchEndpointDefaults)
    # Read-only keys set by the service; accepted so that `batch-endpoint show` output can be fed back.
    id: str | None = None
    provisioning_state: str | None = None
    scoring_uri: str | None = None
    openapi_uri: str | None = None
    location: str | None = None
    kind: str | None = None


def check_batch_endpoint(spec: BatchEndpointSpec) -> None:
    """Azure's rules beyond the schema: the name rule, token auth only, and a well-formed default deployment name."""
    validate_name(spec.name)
    if spec.auth_mode is not AuthMode.AAD_TOKEN:
        # azure-ai-ml's schema takes any auth mode, but batch endpoints only work with Entra tokens: refusing here
        # is better than an endpoint whose keys or aml tokens would never open /jobs.
        raise SpecError(
            f"$.auth_mode: batch endpoints support only aad_token, not {spec.auth_mode.value}; "
            "remove auth_mode or set it to aad_token"
        )
    if spec.defaults.deployment_name is not None:
        validate_name(spec.defaults.deployment_name, where="$.defaults.deployment_name")
