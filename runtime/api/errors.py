"""The one table from error codes to HTTP statuses, and the two error body shapes."""

from __future__ import annotations

import msgspec

from runtime.errors import Code

STATUS: dict[Code, int] = {
    Code.INVALID_ARGUMENT: 400,
    Code.UNAUTHENTICATED: 401,
    Code.NOT_FOUND: 404,
    Code.TIMEOUT: 408,  # Azure: model execution exceeded request_timeout_ms
    Code.CONFLICT: 409,
    Code.TOO_LARGE: 413,
    Code.OVERLOADED: 429,  # Azure: "Too many pending requests"
    Code.PLACEMENT: 409,
    Code.UNSUPPORTED: 405,
    Code.MODEL_ERROR: 424,  # Azure managed endpoints: "Failed dependency", the container's own status in a header
    Code.INTERNAL: 500,
    Code.WORKER_LOST: 502,
    Code.UPSTREAM_MODEL_ERROR: 502,  # Azure Kubernetes endpoints: a failing scoring script
    Code.UNAVAILABLE: 503,
    Code.UPSTREAM_TIMEOUT: 504,  # Azure Kubernetes endpoints: timeout
    Code.INSUFFICIENT_STORAGE: 507,  # the state directory's disk is full (WebDAV's status, as storage APIs use it)
}


def status_for(code: Code) -> int:
    """HTTP status for an error code."""
    return STATUS.get(code, 500)


def data_plane_body(message: str) -> bytes:
    """Error body on the scoring routes, shaped as Azure's inference server shapes it."""
    return msgspec.json.encode({"message": message})


def admin_body(code: Code, message: str) -> bytes:
    """Error body on the management API, shaped as Azure's ARM errors."""
    return msgspec.json.encode({"error": {"code": code.value, "message": message}})
