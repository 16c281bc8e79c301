"""Stored records for control-plane unit tests."""

from runtime.control.registry import EndpointRecord
from runtime.spec import load_endpoint


def endpoint_record(traffic: dict[str, int] | None = None) -> EndpointRecord:
    """The endpoint `digits` (key auth) as the registry stores it."""
    return EndpointRecord(
        name="digits",
        spec=load_endpoint("name: digits\nauth_mode: key\n", source="endpoint.yml").spec,
        source="/x/endpoint.yml",
        primary_key="p" * 20,
        secondary_key="s" * 20,
        traffic=traffic or {},
        mirror={},
        created_at=1.0,
        updated_at=1.0,
    )
