"""Type aliases and enums shared by the endpoint, deployment and model Structs."""

from __future__ import annotations

import enum
from typing import Annotated

import msgspec

#: Marker read by the decoder: YAML scalars (ints, floats, bools, dates) become their Python ``str()``.
SCALAR_TO_STR = "modelyard.scalar_to_str"

# Azure sends tags, properties and environment variables to the service as strings, so `WORKER_COUNT: 4` in YAML
# reaches the container as "4" and `DEBUG: true` as "True" (Python's str() of the loaded bool).
ScalarStr = Annotated[str, msgspec.Meta(extra={SCALAR_TO_STR: True})]
Port = Annotated[int, msgspec.Meta(ge=1, le=65535)]
NonNegative = Annotated[int, msgspec.Meta(ge=0)]
Positive = Annotated[int, msgspec.Meta(ge=1)]


class PublicNetworkAccess(enum.StrEnum):
    """Whether an endpoint (or a deployment's egress) may use the public network."""

    ENABLED = "enabled"
    DISABLED = "disabled"
