"""One error tree for the whole runtime.

    ModelyardError(code, message)
     ├── SpecError          a YAML file or --set override does not match the schema (INVALID_ARGUMENT)
     ├── NotFound           no such endpoint, deployment, model or job (NOT_FOUND)
     ├── Conflict           the name exists, or the change clashes with current state (CONFLICT)
     ├── Unauthenticated    missing or wrong key or token (UNAUTHENTICATED)
     ├── Unavailable        nothing can take the request now (UNAVAILABLE)
     └── WorkerLost         the worker process ended while it held the request (WORKER_LOST)

Every error carries a protocol-neutral `Code`; `runtime.api.errors` maps codes to HTTP statuses in one table.
"""

from __future__ import annotations

import enum


class Code(enum.StrEnum):
    """Protocol-neutral error codes; the HTTP mapping lives in runtime.api.errors."""

    INVALID_ARGUMENT = "invalid_argument"  #: the caller's input is wrong; retrying it unchanged fails again
    UNAUTHENTICATED = "unauthenticated"  #: no credentials, or wrong ones
    NOT_FOUND = "not_found"  #: the named resource does not exist, or nothing takes traffic
    CONFLICT = "conflict"  #: the resource exists already, or the change clashes with current state
    TIMEOUT = "timeout"  #: the request outlived its deadline
    UPSTREAM_TIMEOUT = "upstream_timeout"  #: the same, reported as a gateway does (Kubernetes endpoints)
    OVERLOADED = "overloaded"  #: too many requests in flight; retry later
    UNAVAILABLE = "unavailable"  #: no ready worker can take the request now
    WORKER_LOST = "worker_lost"  #: the worker process died while holding the request
    PLACEMENT = "placement"  #: the machine has no room for the requested cores or GPUs
    UNSUPPORTED = "unsupported"  #: the resource exists but does not take that operation
    TOO_LARGE = "too_large"  #: the request body is over the server's limit
    INTERNAL = "internal"  #: a bug in modelyard


class ModelyardError(Exception):
    """Base of every error the runtime raises on purpose."""

    code: Code = Code.INTERNAL

    def __init__(self, message: str, *, code: Code | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class SpecError(ModelyardError):
    """A spec file or override is invalid; the message names the file, the $.path and what is allowed."""

    code = Code.INVALID_ARGUMENT


class NotFound(ModelyardError):
    """The named endpoint, deployment or model does not exist."""

    code = Code.NOT_FOUND


class Conflict(ModelyardError):
    """The resource exists already, or the change clashes with the current state."""

    code = Code.CONFLICT


class Unauthenticated(ModelyardError):
    """The request carried no valid key or token."""

    code = Code.UNAUTHENTICATED


class Unavailable(ModelyardError):
    """No worker can take the request now."""

    code = Code.UNAVAILABLE


class WorkerLost(ModelyardError):
    """The worker process ended while it held the request."""

    code = Code.WORKER_LOST


class PlacementError(ModelyardError):
    """The allocator cannot place the instances under the requested placement policy."""

    code = Code.PLACEMENT
