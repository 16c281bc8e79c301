"""The online endpoint YAML (azure-contract §3.1): name, auth mode, traffic and mirror traffic."""

from __future__ import annotations

import enum

import msgspec

from runtime.spec._types import PublicNetworkAccess, ScalarStr


class AuthMode(enum.StrEnum):
    """How clients authenticate to /score: endpoint keys, modelyard-issued tokens, or Entra tokens."""

    KEY = "key"
    AML_TOKEN = "aml_token"
    AAD_TOKEN = "aad_token"


class IdentityType(enum.StrEnum):
    """The managed identity kinds Azure accepts (none of them means anything on one machine)."""

    SYSTEM_ASSIGNED = "system_assigned"
    USER_ASSIGNED = "user_assigned"
    SYSTEM_ASSIGNED_USER_ASSIGNED = "system_assigned,user_assigned"
    NONE = "none"


class UserAssignedIdentity(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One user-assigned identity of an endpoint."""

    resource_id: str | None = None
    principal_id: str | None = None
    client_id: str | None = None


class IdentitySpec(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The endpoint's `identity:` block; accepted for compatibility and ignored."""

    type: IdentityType | None = None
    user_assigned_identities: tuple[UserAssignedIdentity, ...] = ()
    principal_id: str | None = None
    tenant_id: str | None = None


class OnlineEndpointSpec(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """An online endpoint: a stable URL with an auth mode, splitting traffic over its deployments."""

    schema_: str | None = msgspec.field(default=None, name="$schema")
    name: str
    description: str | None = None
    tags: dict[str, ScalarStr] = msgspec.field(default_factory=dict)
    properties: dict[str, ScalarStr] = msgspec.field(default_factory=dict)
    auth_mode: AuthMode = AuthMode.KEY
    traffic: dict[str, int] = msgspec.field(default_factory=dict)
    mirror_traffic: dict[str, int] = msgspec.field(default_factory=dict)
    public_network_access: PublicNetworkAccess | None = None
    identity: IdentitySpec | None = None
    compute: str | None = None
    # Read-only keys set by the service; accepted so that `online-endpoint show` output can be fed back.
    id: str | None = None
    provisioning_state: str | None = None
    scoring_uri: str | None = None
    openapi_uri: str | None = None
    location: str | None = None
    kind: str | None = None
